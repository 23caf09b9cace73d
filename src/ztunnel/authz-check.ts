// `ambient authz check`, decided: what the destination ztunnel would do with one inbound connection,
// from mesh state alone. It runs the very decision the pod listeners run (inbound-plan.ts: the
// CONNECT checks, then L4 authorization), so the answer cannot drift from the data path; the
// only additions are the cases a user can ask about that never reach a pod listener (an IP that is
// no mesh workload, a Service VIP). Pure; the CLI formats the result (src/authz/explain-format.ts).
import type { Connection, Decision } from '../authz/rbac.js'
import type { SpiffeId } from '../identity/spiffe-id.js'
import type { MeshView, Service, Workload } from '../mesh/types.js'
import type { SocketAddress } from '../net/address.js'
import { canonicalIp } from '../net/ip.js'
import { explainInbound } from './inbound-plan.js'
import { workloadIdentity } from './workload-identity.js'

export interface AuthzCheckRequest {
  readonly mesh: MeshView
  /** The peer's identity; absent = plaintext (15006), no peer identity. */
  readonly srcIdentity?: SpiffeId | undefined
  /** Absent: the address of a workload holding `srcIdentity`, else unspecified (0.0.0.0). */
  readonly srcIp?: string | undefined
  /** Typed (canonical IP): parsed by the caller. */
  readonly dst: SocketAddress
}

/** Where the source IP used for the decision came from (shown, since sourceIps rules depend on it). */
export type SourceIpOrigin =
  { readonly kind: 'given' } | { readonly kind: 'workload'; readonly workload: string } | { readonly kind: 'unspecified' }

export type AuthzCheck =
  /** No mesh workload has this IP: ztunnel passes the traffic through, no policy applies. */
  | { readonly kind: 'passthrough'; readonly dst: SocketAddress; readonly reason: string }
  /** A Service VIP: policy is per workload, after the source picked an endpoint. */
  | { readonly kind: 'service'; readonly service: Service; readonly endpoints: readonly SocketAddress[]; readonly reason: string }
  /** Refused before authorization (HBONE 400/503), e.g. a proxy port or a pod on no node. */
  | {
      readonly kind: 'rejected'
      readonly workload: Workload | undefined
      readonly status: 400 | 503
      readonly code: string
      readonly reason: string
    }
  /** Authorization ran: the Decision with its full trace. */
  | {
      readonly kind: 'decided'
      readonly workload: Workload
      readonly connection: Connection
      readonly srcIpOrigin: SourceIpOrigin
      readonly decision: Decision
    }

const UNSPECIFIED_IPV4 = '0.0.0.0'

export function checkAuthorization(req: AuthzCheckRequest): AuthzCheck {
  const { mesh } = req
  const { dst } = req
  const ip = dst.ip
  const workload = mesh.workloadByAddress(ip)
  if (workload === undefined) {
    const service = mesh.serviceByAddress(ip)
    if (service !== undefined) return serviceCheck(mesh, service, dst.port)
    return {
      kind: 'passthrough',
      dst,
      reason: `${ip} is not a mesh workload: ztunnel passes its traffic through as plain TCP, no policy applies at ztunnel`,
    }
  }
  const { srcIp, origin } = sourceIp(mesh, req)
  // The decision of the workload's own node, on its own pod IP: exactly what its 15008 does.
  const plan = explainInbound({ mesh, localNode: workload.node, listenerIp: ip, dst, srcIp, srcIdentity: req.srcIdentity })
  switch (plan.kind) {
    case 'reject':
      return { kind: 'rejected', workload: plan.workload, status: plan.status, code: plan.code, reason: plan.reason }
    case 'deny':
    case 'accept':
      return { kind: 'decided', workload: plan.workload, connection: plan.connection, srcIpOrigin: origin, decision: plan.decision }
  }
}

function sourceIp(mesh: MeshView, req: AuthzCheckRequest): { srcIp: string; origin: SourceIpOrigin } {
  if (req.srcIp !== undefined) return { srcIp: canonicalIp(req.srcIp) ?? req.srcIp, origin: { kind: 'given' } }
  const id = req.srcIdentity
  const holder = id === undefined ? undefined : mesh.workloads().find((w) => w.addresses.length > 0 && workloadIdentity(w)?.equals(id))
  const address = holder?.addresses[0]
  if (holder !== undefined && address !== undefined)
    return { srcIp: address, origin: { kind: 'workload', workload: `${holder.namespace}/${holder.name}` } }
  return { srcIp: UNSPECIFIED_IPV4, origin: { kind: 'unspecified' } }
}

function serviceCheck(mesh: MeshView, service: Service, port: number): AuthzCheck {
  const key = `${service.namespace}/${service.hostname}`
  const servicePort = service.ports.find((p) => p.servicePort === port)
  const endpoints = mesh.endpointsOf(key).flatMap((w) => {
    const address = w.addresses[0]
    if (address === undefined) return []
    const mapped = w.services.get(key)?.find((m) => m.servicePort === port)?.targetPort
    return [{ ip: address, port: mapped || servicePort?.targetPort || port }]
  })
  const list = endpoints.length === 0 ? 'it has no endpoints' : `check an endpoint: ${endpoints.map((e) => `${e.ip}:${e.port}`).join(', ')}`
  return {
    kind: 'service',
    service,
    endpoints,
    reason: `${key} is a Service VIP; authorization applies per workload, after the source picked an endpoint: ${list}`,
  }
}
