// Re-checks live inbound flows when policy may have changed (ztunnel's PolicyWatcher). Istio closes
// a flow that the new policy denies, with `connection closed due to policy change`. The re-check runs
// synchronously inside the mesh change notification, so a denied flow is cut at once.
//
// Only flows a change can affect are re-checked: those whose destination workload changed or went
// away, is in the namespace of a changed policy, or names a changed policy (selector policies);
// every flow when a GLOBAL policy changed (or was GLOBAL before it changed: the watcher remembers
// which keys are GLOBAL, since a removal carries only the key). The cost of a change is then the
// flows it concerns, not every live flow at every policy edit.
import { policyKey } from '../authz/policy.js'
import type { Connection } from '../authz/rbac.js'
import { affectsAuthorization, type MeshDelta } from '../mesh/change.js'
import type { MeshView } from '../mesh/types.js'
import type { FlowRegistry } from '../observability/flow-registry.js'
import { flowTermination } from '../observability/flow-registry.js'
import type { Logger } from '../observability/logger.js'
import { recheck } from './inbound-plan.js'

interface Tracked {
  readonly workloadUid: string
  readonly connection: Connection
}

export interface PolicyWatcher {
  /** Starts watching a live inbound flow; it is forgotten when the flow closes. */
  track(flowId: string, workloadUid: string, connection: Connection): void
  /** Re-checks the tracked flows the delta can affect; returns how many were closed. */
  onMeshDelta(delta: MeshDelta): number
  readonly size: number
  /** How many flow re-checks the watcher has run (for benchmarks and tests). */
  readonly rechecks: number
}

export function createPolicyWatcher(mesh: MeshView, flows: FlowRegistry, logger: Logger): PolicyWatcher {
  const tracked = new Map<string, Tracked>()
  /** Destination workload uid → its tracked flows. */
  const byWorkload = new Map<string, Set<string>>()
  const globalKeys = new Set(
    mesh
      .policies()
      .filter((p) => p.scope === 'GLOBAL')
      .map(policyKey),
  )
  let rechecks = 0

  const forget = (flowId: string, workloadUid: string): void => {
    tracked.delete(flowId)
    const set = byWorkload.get(workloadUid)
    set?.delete(flowId)
    if (set?.size === 0) byWorkload.delete(workloadUid)
  }

  /** Updates the GLOBAL keys; true if a GLOBAL policy (now or before) is among the changed ones. */
  const noteGlobals = (delta: MeshDelta): boolean => {
    let global = false
    for (const key of [...delta.policies.added, ...delta.policies.updated, ...delta.policies.removed]) {
      if (globalKeys.has(key)) global = true
      if (mesh.policyByKey(key)?.scope === 'GLOBAL') {
        global = true
        globalKeys.add(key)
      } else {
        globalKeys.delete(key)
      }
    }
    return global
  }

  /** The tracked workloads whose decisions the delta can change. */
  const affectedWorkloads = (delta: MeshDelta): string[] => {
    const keys = new Set([...delta.policies.added, ...delta.policies.updated, ...delta.policies.removed])
    const namespaces = new Set([...keys].map((k) => k.slice(0, k.indexOf('/'))))
    const workloads = new Set([...delta.workloads.updated, ...delta.workloads.removed])
    const out: string[] = []
    for (const uid of byWorkload.keys()) {
      if (workloads.has(uid)) {
        out.push(uid)
        continue
      }
      const w = mesh.workloadByUid(uid)
      if (w === undefined || namespaces.has(w.namespace) || w.authorizationPolicies.some((k) => keys.has(k))) out.push(uid)
    }
    return out
  }

  return {
    track(flowId, workloadUid, connection) {
      const flow = flows.get(flowId)
      if (flow === undefined) return
      tracked.set(flowId, { workloadUid, connection })
      let set = byWorkload.get(workloadUid)
      if (set === undefined) {
        set = new Set()
        byWorkload.set(workloadUid, set)
      }
      set.add(flowId)
      flow.onClose(() => forget(flowId, workloadUid))
    },
    onMeshDelta(delta) {
      const global = noteGlobals(delta)
      if (tracked.size === 0 || !affectsAuthorization(delta)) return 0
      const uids = global ? [...byWorkload.keys()] : affectedWorkloads(delta)
      let closed = 0
      for (const uid of uids) {
        const workload = mesh.workloadByUid(uid)
        for (const flowId of [...(byWorkload.get(uid) ?? [])]) {
          const t = tracked.get(flowId)
          if (t === undefined) continue
          rechecks++
          // The destination workload left the mesh: nothing admits this flow any more.
          const decision = workload === undefined ? undefined : recheck(mesh, workload, t.connection)
          if (decision?.allowed === true) continue
          const reason = decision?.reason ?? 'destination workload removed'
          logger.info({ event: 'policy_recheck_deny', flow: flowId, reason }, 'live connection no longer allowed')
          if (flows.terminate(flowId, flowTermination('policyChange', { reason }))) closed++
        }
      }
      return closed
    },
    get size() {
      return tracked.size
    },
    get rechecks() {
      return rechecks
    },
  }
}
