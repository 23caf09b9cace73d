// The checks an HBONE server runs on a CONNECT before authorization (ambient-reference.md, "HBONE":
// method, authority, local workload known, authority IP equals the pod IP, port resolution; the
// proxy's own ports answer 503). Pure: the executor switches on `kind`, then runs L4 authorization
// (src/authz/rbac.ts) on an accepted plan, then connects to the app.
//
// Port resolution, decided from the reference: a pod addressed by IP accepts any port, because the
// source has already resolved the Service port to the endpoint's target port and puts that in
// `:authority` (Waypoints: "`:authority <endpoint>:<target port>`"); a pod may listen on ports no
// Service declares, and ztunnel does not restrict them. Only a Service-addressed authority, which
// only a waypoint receives, needs resolving, and a port the Service does not declare is "port not
// resolvable" (503).
import type { MeshView, Service, Workload } from '../mesh/types.js'
import type { SocketAddress } from '../net/address.js'
import { formatAuthority, isValidPort } from '../net/address.js'
import { canonicalIp } from '../net/ip.js'
import { isProxyPort } from '../net/ports.js'
import { isWaypointInstance } from './waypoint-target.js'

/** `:authority` as the HBONE server parsed it: an IP and port, or why it is not one. */
export type ParsedAuthority =
  | { readonly ok: true; readonly ip: string; readonly port: number }
  | { readonly ok: false; readonly error: string }

export interface InboundRequest {
  readonly mesh: MeshView
  /** The pod IP the connection arrived on: the listener's address (socks mode) or the accepted socket's local address (tproxy). */
  readonly listenerIp: string
  /** This ztunnel's node; when set, a workload scheduled on another node is not served here. */
  readonly localNode?: string
  readonly method: string
  readonly authority: ParsedAuthority
  /** The listener is a waypoint's: it also takes traffic for the Services and workloads that use it. */
  readonly isWaypoint?: boolean
}

export const InboundRejectCode = {
  notConnect: 'HBONE_METHOD_NOT_CONNECT',
  badAuthority: 'HBONE_BAD_AUTHORITY',
  unknownWorkload: 'HBONE_UNKNOWN_WORKLOAD',
  ipMismatch: 'HBONE_IP_MISMATCH',
  notServedByWaypoint: 'HBONE_NOT_SERVED_BY_WAYPOINT',
  portNotResolvable: 'HBONE_PORT_NOT_RESOLVABLE',
  illegalPort: 'HBONE_ILLEGAL_PORT',
} as const
export type InboundRejectCode = (typeof InboundRejectCode)[keyof typeof InboundRejectCode]

/** The status each rejection answers with, in one place (style.md rule 5). 401 is authorization's. */
const STATUS: Readonly<Record<InboundRejectCode, 400 | 503>> = {
  HBONE_METHOD_NOT_CONNECT: 400,
  HBONE_BAD_AUTHORITY: 400,
  HBONE_IP_MISMATCH: 400,
  HBONE_NOT_SERVED_BY_WAYPOINT: 400,
  HBONE_UNKNOWN_WORKLOAD: 503,
  HBONE_PORT_NOT_RESOLVABLE: 503,
  HBONE_ILLEGAL_PORT: 503,
}

/** What a waypoint received traffic for; it applies L7 policy, then picks the endpoint itself. */
export type ServedDestination =
  | { readonly kind: 'service'; readonly service: Service; readonly port: number }
  | { readonly kind: 'workload'; readonly workload: Workload; readonly port: number }

export type InboundPlan =
  /** Deliver to the local workload's app at `appAddress` (its pod-local address in socks mode). */
  | { readonly kind: 'accept'; readonly workload: Workload; readonly targetPort: number; readonly appAddress: SocketAddress; readonly reason: string }
  /** A waypoint's listener accepted traffic for a destination it serves. */
  | { readonly kind: 'waypoint'; readonly waypoint: Workload; readonly destination: ServedDestination; readonly reason: string }
  | { readonly kind: 'reject'; readonly status: 400 | 503; readonly code: InboundRejectCode; readonly reason: string }

export function planInbound(req: InboundRequest): InboundPlan {
  const { mesh, authority } = req
  if (req.method !== 'CONNECT') return reject('notConnect', `method ${JSON.stringify(req.method)} is not CONNECT`)
  if (!authority.ok) return reject('badAuthority', `invalid :authority: ${authority.error}`)
  const ip = canonicalIp(authority.ip)
  if (ip === undefined || !isValidPort(authority.port)) {
    return reject('badAuthority', `invalid :authority: ${JSON.stringify(`${authority.ip}:${authority.port}`)} is not an IP and port`)
  }
  const dst = { ip, port: authority.port }

  const podIp = canonicalIp(req.listenerIp) ?? req.listenerIp
  const local = mesh.workloadByAddress(podIp)
  if (local === undefined) return reject('unknownWorkload', `unknown local workload for ${podIp}`)
  if (req.localNode !== undefined && local.node !== req.localNode) {
    return reject('unknownWorkload', `workload ${name(local)} runs on node ${JSON.stringify(local.node)}, not on this node ${JSON.stringify(req.localNode)}`)
  }

  if (ip !== podIp) {
    if (req.isWaypoint === true) return planServed(mesh, local, dst)
    return reject('ipMismatch', `ip mismatch: ${ip} != ${podIp}`)
  }

  // Any port: see the file comment.
  if (isProxyPort(dst.port)) return reject('illegalPort', `port ${dst.port} of ${name(local)} is a proxy port (15001/15006/15008)`)
  return {
    kind: 'accept',
    workload: local,
    targetPort: dst.port,
    appAddress: { ip: local.podLocalAddress ?? ip, port: dst.port },
    reason: `${formatAuthority(dst)} is workload ${name(local)}`,
  }
}

/** The exception to the IP check: a waypoint takes traffic for what uses it, and nothing else. */
function planServed(mesh: MeshView, waypoint: Workload, dst: SocketAddress): InboundPlan {
  const at = formatAuthority(dst)
  const svc = mesh.serviceByAddress(dst.ip, waypoint.network)
  const wl = svc === undefined ? mesh.workloadByAddress(dst.ip, waypoint.network) : undefined
  let destination: ServedDestination
  if (svc !== undefined && svc.waypoint !== undefined && isWaypointInstance(mesh, svc.waypoint, waypoint)) {
    if (!svc.ports.some((p) => p.servicePort === dst.port)) {
      return reject('portNotResolvable', `service ${svc.hostname} has no port ${dst.port}`)
    }
    destination = { kind: 'service', service: svc, port: dst.port }
  } else if (wl !== undefined && wl.waypoint !== undefined && isWaypointInstance(mesh, wl.waypoint, waypoint)) {
    destination = { kind: 'workload', workload: wl, port: dst.port }
  } else {
    const what = svc !== undefined ? `service ${svc.hostname}` : wl !== undefined ? `workload ${name(wl)}` : 'an unknown address'
    return reject('notServedByWaypoint', `waypoint ${name(waypoint)} does not serve ${at} (${what})`)
  }
  if (isProxyPort(dst.port)) return reject('illegalPort', `port ${dst.port} is a proxy port (15001/15006/15008)`)
  const what = destination.kind === 'service' ? `service ${destination.service.hostname}` : `workload ${name(destination.workload)}`
  return { kind: 'waypoint', waypoint, destination, reason: `waypoint ${name(waypoint)} serves ${what} at ${at}` }
}

function name(w: Workload): string {
  return `${w.namespace}/${w.name}`
}

function reject(code: keyof typeof InboundRejectCode, reason: string): InboundPlan {
  const c = InboundRejectCode[code]
  return { kind: 'reject', status: STATUS[c], code: c, reason }
}
