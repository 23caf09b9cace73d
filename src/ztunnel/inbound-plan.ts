// The inbound decision: one pure function from a connection that reached a pod's listener (HBONE
// 15008 or plaintext) to what to do with it, as ztunnel's inbound does after the HBONE server parsed
// the CONNECT (docs/istio-reference.md "HBONE": local workload known, authority IP equals the pod IP,
// port resolution; the proxy's own ports answer 503), then L4 authorization on the peer identity
// (src/authz). The executor (inbound.ts) switches on `kind` and acts; every plan says why.
//
// The HBONE server has already checked the method and parsed `:authority` into a typed address: the
// checks here run on values, never on text. Plaintext connections have no peer identity: STRICT
// PeerAuthentication arrives as istiod's converted DENY policy (notPrincipals: presence) and denies
// them here like any other policy.
//
// Port resolution, decided from the reference: a pod addressed by IP accepts any port, because the
// source has already resolved the Service port to the endpoint's target port and puts that in
// `:authority` (Waypoints: "`:authority <endpoint>:<target port>`"); a pod may listen on ports no
// Service declares, and ztunnel does not restrict them. (A Service-addressed authority only reaches a
// waypoint, which decides it against its own config: src/l7/served-destination.ts.)
import { authorize, authorizeVerdict, type Connection, type Decision, type Verdict } from '../authz/rbac.js'
import type { SpiffeId } from '../identity/spiffe-id.js'
import type { MeshView, Workload } from '../mesh/types.js'
import type { SocketAddress } from '../net/address.js'
import { formatAuthority, isValidPort } from '../net/address.js'
import { canonicalIp } from '../net/ip.js'
import { isProxyPort } from '../net/ports.js'

export interface InboundRequest {
  readonly mesh: MeshView
  /** The pod IP the connection arrived on: the listener's address (socks mode) or the accepted socket's local address (tproxy). */
  readonly listenerIp: string
  /** This ztunnel's node; when set, a workload scheduled on another node is not served here. */
  readonly localNode?: string
  /** Where the client wants to go: the CONNECT's `:authority`, or the plaintext socket's local address. */
  readonly dst: SocketAddress
  readonly srcIp: string
  /** Absent on plaintext. */
  readonly srcIdentity?: SpiffeId | undefined
}

export const InboundRejectCode = {
  badAuthority: 'HBONE_BAD_AUTHORITY',
  unknownWorkload: 'HBONE_UNKNOWN_WORKLOAD',
  ipMismatch: 'HBONE_IP_MISMATCH',
  illegalPort: 'HBONE_ILLEGAL_PORT',
} as const
export type InboundRejectCode = (typeof InboundRejectCode)[keyof typeof InboundRejectCode]

export const InboundErrorCode = {
  /** Denied by policy: response flag DENY, HBONE 401. */
  denied: 'AUTHZ_DENIED',
  /** The app did not accept the connection: HBONE 503, flag CONNECT. */
  appUnreachable: 'INBOUND_APP_CONNECT_FAILED',
} as const

/** The status each rejection answers with, in one place. 401 is authorization's. */
const STATUS: Readonly<Record<InboundRejectCode, 400 | 503>> = {
  HBONE_BAD_AUTHORITY: 400,
  HBONE_IP_MISMATCH: 400,
  HBONE_UNKNOWN_WORKLOAD: 503,
  HBONE_ILLEGAL_PORT: 503,
}

/** `D`: the data path carries the bare Verdict; `ambient authz check` the full Decision with its trace. */
export type InboundPlan<D extends Verdict = Verdict> =
  /** Deliver to the local workload's app at `appAddress` (its pod-local address in socks mode). */
  | {
      readonly kind: 'accept'
      readonly workload: Workload
      readonly appAddress: SocketAddress
      readonly connection: Connection
      readonly decision: D
      readonly reason: string
    }
  /** Authorization said no: 401 (HBONE) or a reset (plaintext). */
  | { readonly kind: 'deny'; readonly workload: Workload; readonly connection: Connection; readonly decision: D; readonly reason: string }
  | {
      readonly kind: 'reject'
      readonly status: 400 | 503
      readonly code: InboundRejectCode
      readonly workload: Workload | undefined
      readonly reason: string
    }

/** The data path: the checks, then the verdict alone (no trace: a few comparisons per applicable policy). */
export function planInbound(req: InboundRequest): InboundPlan {
  return decideInbound(req, recheck)
}

/** The same decision with every policy evaluated and traced, for `ambient authz check` and explain. */
export function explainInbound(req: InboundRequest): InboundPlan<Decision> {
  return decideInbound(req, (mesh, workload, connection) => authorize(connection, mesh.policiesFor(workload)))
}

function decideInbound<D extends Verdict>(
  req: InboundRequest,
  decide: (mesh: MeshView, workload: Workload, connection: Connection) => D,
): InboundPlan<D> {
  const { mesh, dst } = req
  const podIp = canonicalIp(req.listenerIp) ?? req.listenerIp
  // Port 0 parses as an authority but names nothing to deliver to.
  if (!isValidPort(dst.port))
    return reject(
      'badAuthority',
      `invalid :authority: ${JSON.stringify(formatAuthority(dst))} is not an IP and port`,
      mesh.workloadByAddress(podIp),
    )

  const local = mesh.workloadByAddress(podIp)
  if (local === undefined) return reject('unknownWorkload', `unknown local workload for ${podIp}`, undefined)
  if (req.localNode !== undefined && local.node !== req.localNode) {
    return reject(
      'unknownWorkload',
      `workload ${name(local)} runs on node ${JSON.stringify(local.node)}, not on this node ${JSON.stringify(req.localNode)}`,
      local,
    )
  }
  if (dst.ip !== podIp) return reject('ipMismatch', `ip mismatch: ${dst.ip} != ${podIp}`, local)
  // Any port: see the file comment.
  if (isProxyPort(dst.port)) return reject('illegalPort', `port ${dst.port} of ${name(local)} is a proxy port (15001/15006/15008)`, local)

  const connection: Connection = { srcIdentity: req.srcIdentity, srcIp: req.srcIp, dstIp: dst.ip, dstPort: dst.port }
  const decision = decide(mesh, local, connection)
  if (!decision.allowed) return { kind: 'deny', workload: local, connection, decision, reason: decision.reason }
  return {
    kind: 'accept',
    workload: local,
    appAddress: { ip: local.podLocalAddress ?? dst.ip, port: dst.port },
    connection,
    decision,
    reason: `${formatAuthority(dst)} is workload ${name(local)}`,
  }
}

/** Authorization alone (the verdict, no trace), for the decision and for re-checking live flows when policies change. */
export function recheck(mesh: MeshView, workload: Workload, connection: Connection): Verdict {
  return authorizeVerdict(connection, mesh.policiesFor(workload))
}

function name(w: Workload): string {
  return `${w.namespace}/${w.name}`
}

function reject(
  code: keyof typeof InboundRejectCode,
  reason: string,
  workload: Workload | undefined,
): Extract<InboundPlan, { kind: 'reject' }> {
  const c = InboundRejectCode[code]
  return { kind: 'reject', status: STATUS[c], code: c, workload, reason }
}
