// The dashboard's explain panel: the same prediction as `ambient explain` (src/inspect), from the
// running cluster's istiod state, answered as the Explanation plus its text form for the page.
import { openCluster } from '../inspect/cluster-client.js'
import { explain } from '../inspect/explain.js'
import { formatExplain } from '../inspect/explain-format.js'

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
    mesh: istiod.mesh, waypoints: istiod.waypoints, ztunnelHttpFindings: istiod.findings, from: q.from, to: q.to,
    ...(q.method === undefined ? {} : { method: q.method }),
    ...(q.path === undefined ? {} : { path: q.path }),
  })
  return { explanation: e, text: formatExplain(e).join('\n') }
}
