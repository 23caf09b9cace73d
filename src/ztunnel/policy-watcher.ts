// Re-checks live inbound flows when policy may have changed (ztunnel's PolicyWatcher). Istio closes
// a flow that the new policy denies, with `connection closed due to policy change`. The re-check runs
// synchronously inside the mesh change notification, so a denied flow is cut at once.
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
  /** Re-checks every tracked flow if the delta can change a decision; returns how many were closed. */
  onMeshDelta(delta: MeshDelta): number
  readonly size: number
}

export function createPolicyWatcher(mesh: MeshView, flows: FlowRegistry, logger: Logger): PolicyWatcher {
  const tracked = new Map<string, Tracked>()

  return {
    track(flowId, workloadUid, connection) {
      const flow = flows.get(flowId)
      if (flow === undefined) return
      tracked.set(flowId, { workloadUid, connection })
      flow.onClose(() => tracked.delete(flowId))
    },
    onMeshDelta(delta) {
      if (tracked.size === 0 || !affectsAuthorization(delta)) return 0
      let closed = 0
      for (const [flowId, t] of [...tracked]) {
        const workload = mesh.workloadByUid(t.workloadUid)
        // The destination workload left the mesh: nothing admits this flow any more.
        const decision = workload === undefined ? undefined : recheck(mesh, workload, t.connection)
        if (decision?.allowed === true) continue
        const reason = decision?.reason ?? 'destination workload removed'
        logger.info({ event: 'policy_recheck_deny', flow: flowId, reason }, 'live connection no longer allowed')
        if (flows.terminate(flowId, flowTermination('policyChange', { reason }))) closed++
      }
      return closed
    },
    get size() {
      return tracked.size
    },
  }
}
