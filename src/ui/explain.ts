// The dashboard's explain panel: the same prediction as `ambient explain` (src/inspect), from the
// running cluster's istiod state, answered as the Explanation plus its text form for the page.
// The prediction follows ambient's path (ztunnel, waypoint); on a sidecar-mode cluster it says so.
import { readRunState, runStateMode } from '../cluster/run-state.js'
import { openCluster } from '../inspect/cluster-client.js'
import { explain } from '../inspect/explain.js'
import { formatExplain } from '../inspect/explain-format.js'
import { presentFields } from '../optional.js'

export interface ExplainQuery {
  readonly from: string
  readonly to: string
  readonly method?: string
  readonly path?: string
}

/** Answers an explain request: a JSON-ready result, or throws with a message for the page. */
export type Explainer = (query: ExplainQuery, stateDir: string) => Promise<unknown>

export const explainFromCluster: Explainer = async (q, stateDir) => {
  const istiod = await openCluster({ stateDir }).istiod()
  const e = explain({
    mesh: istiod.mesh,
    waypoints: istiod.waypoints,
    ztunnelHttpFindings: istiod.findings,
    from: q.from,
    to: q.to,
    ...presentFields({ method: q.method, path: q.path }),
  })
  const text = formatExplain(e).join('\n')
  const state = readRunState(stateDir)
  if (state === undefined || runStateMode(state) !== 'sidecar') return { explanation: e, text }
  const note =
    "sidecar mode: this prediction follows ambient's path (ztunnel, waypoint) on the same YAML; here " +
    "the destination's sidecar enforces every policy, L4 and L7, on the caller's own identity"
  return { explanation: e, note, text: `${note}\n\n${text}` }
}
