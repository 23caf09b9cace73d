// The one admission path for inbound connections, HBONE (15008) and plaintext (15006-style) alike:
// the CONNECT checks of the reference (src/ztunnel/inbound-plan.ts), then L4 authorization on the
// peer identity (src/authz). Pure: returns what to do and why; the listeners act on it.
//
// Plaintext connections have no peer identity: STRICT PeerAuthentication arrives as istiod's
// converted DENY policy (notPrincipals: presence) and denies them here like any other policy.
import { authorize, authorizeVerdict, type Connection, type Decision, type Verdict } from '../authz/rbac.js'
import type { SpiffeId } from '../identity/spiffe-id.js'
import type { MeshView, Workload } from '../mesh/types.js'
import type { SocketAddress } from './address.js'
import { planInbound, type InboundRejectCode } from './inbound-plan.js'

export const InboundErrorCode = {
  /** Denied by policy: response flag DENY, HBONE 401. */
  denied: 'AUTHZ_DENIED',
  /** The app did not accept the connection: HBONE 503, flag CONNECT. */
  appUnreachable: 'INBOUND_APP_CONNECT_FAILED',
} as const

export interface InboundAttempt {
  readonly mesh: MeshView
  readonly node: string
  /** The pod IP whose listener took the connection. */
  readonly listenerIp: string
  readonly dst: SocketAddress
  readonly srcIp: string
  /** Absent on plaintext. */
  readonly srcIdentity?: SpiffeId | undefined
}

/** `D`: the data path gets the bare Verdict; `ambient authz check` the full Decision with its trace. */
export type Admission<D extends Verdict = Verdict> =
  | { readonly kind: 'reject'; readonly status: 400 | 503; readonly code: InboundRejectCode; readonly reason: string; readonly workload: Workload | undefined }
  | { readonly kind: 'deny'; readonly decision: D; readonly workload: Workload; readonly connection: Connection }
  | { readonly kind: 'allow'; readonly decision: D; readonly workload: Workload; readonly appAddress: SocketAddress; readonly connection: Connection }

/** The data path: CONNECT checks, then the verdict alone (no trace: a few comparisons per applicable policy). */
export function admitInbound(attempt: InboundAttempt): Admission {
  return admit(attempt, recheck)
}

/** The same admission with every policy evaluated and traced, for `ambient authz check` / explain. */
export function explainInbound(attempt: InboundAttempt): Admission<Decision> {
  return admit(attempt, (mesh, workload, connection) => authorize(connection, mesh.policiesFor(workload)))
}

function admit<D extends Verdict>(attempt: InboundAttempt, decide: (mesh: MeshView, workload: Workload, connection: Connection) => D): Admission<D> {
  const plan = planInbound({
    mesh: attempt.mesh,
    listenerIp: attempt.listenerIp,
    localNode: attempt.node,
    method: 'CONNECT',
    authority: { ok: true, ip: attempt.dst.ip, port: attempt.dst.port },
  })
  switch (plan.kind) {
    case 'reject':
      return { kind: 'reject', status: plan.status, code: plan.code, reason: plan.reason, workload: attempt.mesh.workloadByAddress(attempt.listenerIp) }
    case 'waypoint':
      // A ztunnel pod listener is never a waypoint's; planInbound only returns this with isWaypoint.
      return { kind: 'reject', status: 400, code: 'HBONE_NOT_SERVED_BY_WAYPOINT', reason: plan.reason, workload: plan.waypoint }
    case 'accept': {
      const connection: Connection = { srcIdentity: attempt.srcIdentity, srcIp: attempt.srcIp, dstIp: attempt.dst.ip, dstPort: plan.targetPort }
      const decision = decide(attempt.mesh, plan.workload, connection)
      return decision.allowed
        ? { kind: 'allow', decision, workload: plan.workload, appAddress: plan.appAddress, connection }
        : { kind: 'deny', decision, workload: plan.workload, connection }
    }
  }
}

/** Authorization alone, for admission and for re-checking live flows when policies change. */
export function recheck(mesh: MeshView, workload: Workload, connection: Connection): Verdict {
  return authorizeVerdict(connection, mesh.policiesFor(workload))
}
