// Which policies apply to a workload, as ztunnel's `assert_rbac` gathers them: the NAMESPACE policies
// of the workload's namespace, every GLOBAL policy, and the policies the workload names in
// `authorization_policies` (istiod lists the WORKLOAD_SELECTOR policies whose selector matches).
//
// The root namespace is not an input here: istiod decides GLOBAL when converting (a selector-less
// policy in the root namespace, see ./from-authorization-policy.ts), and ztunnel's PolicyStore then
// files every GLOBAL policy under "" whatever its namespace. Names listed by the workload apply by
// key whatever their scope, again as in ztunnel.
import { policyKey, type Authorization } from './policy.js'

/** The two workload facts applicability needs, so authz does not depend on src/mesh. */
export interface PolicyTarget {
  readonly namespace: string
  /** `namespace/name` keys of the selector policies istiod attached to the workload. */
  readonly authorizationPolicies: readonly string[]
}

/**
 * The policies for `target`, in ztunnel's order (namespace, global, workload), each once.
 * Names that are not in `policies` are skipped (ztunnel's `filter_map(get)`).
 */
export function applicablePolicies(target: PolicyTarget, policies: readonly Authorization[]): Authorization[] {
  const byKey = new Map(policies.map((p) => [policyKey(p), p] as const))
  const namespaced = policies.filter((p) => p.scope === 'NAMESPACE' && p.namespace === target.namespace)
  const global = policies.filter((p) => p.scope === 'GLOBAL')
  const selected = target.authorizationPolicies.flatMap((k) => byKey.get(k) ?? [])
  const seen = new Set<string>()
  const out: Authorization[] = []
  for (const p of [...namespaced, ...global, ...selected]) {
    const key = policyKey(p)
    if (seen.has(key)) continue
    seen.add(key)
    out.push(p)
  }
  return out
}
