// AuthorizationPolicy targetRefs: IST0101 when the Gateway or Service does not exist, and AMB0206
// when the Service exists but no waypoint serves it. Such a policy is not sent to ztunnel either (a
// targetRefs policy is for waypoints only), so it silently enforces nothing: Istio says so only in
// the policy's status. GatewayClass and ServiceEntry targets are not checked (not modelled).
import type { PolicyTargetReference } from '../../../authz/authorization-policy.js'
import type { AuthorizationPolicy } from '../../resources/model.js'
import { isWaypointGateway, type AnalysisContext } from '../context.js'
import type { Analyzer, Finding } from './analyzer.js'

export const policyTargets: Analyzer = {
  name: 'policy-targets',
  perObject: 'AuthorizationPolicy',
  analyze(ctx) {
    const out: Finding[] = []
    for (const ap of ctx.snapshot.AuthorizationPolicy) {
      const refs: [PolicyTargetReference, string][] = (ap.spec.targetRefs ?? []).map((r, i) => [r, `spec.targetRefs[${i}]`])
      if (ap.spec.targetRef) refs.push([ap.spec.targetRef, 'spec.targetRef'])
      for (const [ref, path] of refs) check(ctx, ap, ref, path, out)
    }
    return out
  },
}

function check(ctx: AnalysisContext, ap: AuthorizationPolicy, ref: PolicyTargetReference, path: string, out: Finding[]): void {
  const ns = ref.namespace ?? ap.metadata.namespace
  const group = ref.group ?? ''
  if (ref.kind === 'Gateway' && (group === '' || group === 'gateway.networking.k8s.io')) {
    if (ctx.gateway(ns, ref.name) === undefined) {
      out.push({
        type: 'ReferencedResourceNotFound',
        args: ['targetRef Gateway', `${ns}/${ref.name}`],
        object: ap,
        path: `${path}.name`,
        fix: `create the waypoint Gateway ${ns}/${ref.name} (gatewayClassName: istio-waypoint), or correct the name`,
      })
    }
    return
  }
  if (ref.kind !== 'Service' || (group !== '' && group !== 'core')) return
  const svc = ctx.service(ns, ref.name)
  if (svc === undefined) {
    out.push({
      type: 'ReferencedResourceNotFound',
      args: ['targetRef Service', `${ns}/${ref.name}`],
      object: ap,
      path: `${path}.name`,
      fix: `create Service ${ns}/${ref.name}, or correct the name`,
    })
    return
  }
  const use = ctx.serviceWaypoint(svc)
  const gw = use.kind === 'waypoint' ? ctx.gateway(use.namespace, use.name) : undefined
  // A label naming a missing or wrong Gateway is reported on the label (waypoint-use.ts), not here.
  if (use.kind === 'waypoint' && (gw === undefined || !isWaypointGateway(gw))) return
  if (gw === undefined) {
    out.push({ type: 'PolicyTargetNotServedByWaypoint', args: [`Service ${ns}/${ref.name}`], object: ap, path })
  } else if (!['service', 'all'].includes(gw.metadata.labels['istio.io/waypoint-for'] ?? 'service')) {
    out.push({
      type: 'PolicyTargetNotServedByWaypoint',
      args: [`Service ${ns}/${ref.name}`],
      object: ap,
      path,
      note: `its waypoint ${gw.metadata.namespace}/${gw.metadata.name} does not take service traffic (istio.io/waypoint-for)`,
    })
  }
}
