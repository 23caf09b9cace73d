// IST0127 NoMatchingWorkloadsFound: an AuthorizationPolicy or PeerAuthentication selector, or a
// Service selector, that matches no Pod or Deployment template of its namespace (of any namespace
// for a policy in the root namespace). An empty selector is not checked: it selects every workload
// (policies) or makes a Service without endpoints by design.
import type { ConfigObject, Labels } from '../../resources/model.js'
import { formatLabels, type AnalysisContext } from '../context.js'
import type { Analyzer, Finding } from './analyzer.js'

export const selectors: Analyzer = {
  name: 'selectors',
  perObject: 'AuthorizationPolicy',
  analyze(ctx) {
    const out: Finding[] = []
    for (const ap of ctx.snapshot.AuthorizationPolicy) {
      const labels = ap.spec.selector?.matchLabels
      if (labels !== undefined) check(ctx, ap, labels, 'spec.selector.matchLabels', out)
    }
    for (const pa of ctx.snapshot.PeerAuthentication) {
      const labels = pa.spec.selector?.matchLabels
      if (labels !== undefined) check(ctx, pa, labels, 'spec.selector.matchLabels', out)
    }
    for (const svc of ctx.snapshot.Service) {
      const sel = svc.spec.selector
      if (sel === undefined || Object.keys(sel).length === 0) continue
      if (ctx.serviceEndpoints(svc).length === 0) out.push(finding(ctx, svc, sel, 'spec.selector'))
    }
    return out
  },
}

function check(ctx: AnalysisContext, obj: ConfigObject, labels: Labels, path: string, out: Finding[]): void {
  if (Object.keys(labels).length === 0) return
  if (ctx.selectWorkloads(labels, obj.metadata.namespace).length === 0) out.push(finding(ctx, obj, labels, path))
}

function finding(ctx: AnalysisContext, obj: ConfigObject, labels: Labels, path: string): Finding {
  const ns = obj.metadata.namespace
  const where = ns === ctx.rootNamespace ? 'any namespace' : `namespace ${ns}`
  return {
    type: 'NoMatchingWorkloadsFound',
    args: [formatLabels(labels)],
    object: obj,
    path,
    note: `no Pod or Deployment in ${where} has them`,
  }
}
