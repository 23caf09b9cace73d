// Which workloads a ztunnel-enforced policy (AuthorizationPolicy without targetRefs, or
// PeerAuthentication) applies to, and whether any of them is in ambient mode: ztunnel enforces only
// for the pods it captures, so a policy that reaches no ambient pod does nothing in this data plane.
import type { ConfigObject, Labels } from '../../resources/model.js'
import type { AnalysisContext, Workload } from '../context.js'

export interface PolicyReach {
  readonly workloads: readonly Workload[]
  /** Some reached workload is in ambient, or the namespace (the mesh, for the root one) is. */
  readonly ambient: boolean
  /** The namespace it applies to, or `mesh` for a policy in the root namespace. */
  readonly scope: string
}

export function policyReach(ctx: AnalysisContext, policy: ConfigObject, selector: Labels | undefined): PolicyReach {
  const ns = policy.metadata.namespace
  const root = ns === ctx.rootNamespace
  const workloads = selector !== undefined ? ctx.selectWorkloads(selector, ns) : root ? ctx.workloads : ctx.namespaceWorkloads(ns)
  const namespaceAmbient = root ? ctx.snapshot.Namespace.some((n) => ctx.namespaceAmbient(n.metadata.name)) : ctx.namespaceAmbient(ns)
  return { workloads, ambient: namespaceAmbient || workloads.some((w) => ctx.isAmbient(w)), scope: root ? 'mesh' : ns }
}
