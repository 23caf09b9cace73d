// AuthorizationPolicies as ztunnel enforces them (selector and namespace-wide policies; targetRefs
// ones belong to waypoints). The conversion is the one translation uses (fromAuthorizationPolicy),
// so the warnings carry Istio's own ZtunnelAccepted status wording for HTTP attributes and
// unsupported actions. Those are reported only where the policy reaches an ambient pod: elsewhere a
// sidecar or nothing enforces it and HTTP attributes are fine. A policy that reaches workloads of
// the input, none of them in ambient, gets AMB0205 instead.
import { AuthzWarningCode, type ConversionWarning } from '../../../authz/from-authorization-policy.js'
import { assertNever } from '../../../errors.js'
import type { AuthorizationPolicy, PeerAuthentication } from '../../resources/model.js'
import type { AnalysisContext } from '../context.js'
import type { Analyzer, Finding } from './analyzer.js'
import { policyReach, type PolicyReach } from './policy-reach.js'

export const ztunnelPolicies: Analyzer = {
  name: 'ztunnel-policies',
  perObject: 'AuthorizationPolicy',
  analyze(ctx) {
    const out: Finding[] = []
    for (const ap of ctx.snapshot.AuthorizationPolicy) {
      const conversion = ctx.authorization(ap)
      if (conversion.authorization === undefined && conversion.warnings.some((w) => w.code === AuthzWarningCode.waypointOnly)) continue
      const reach = policyReach(ctx, ap, ap.spec.selector?.matchLabels)
      for (const w of conversion.warnings) {
        const f = fromWarning(ap, w, reach)
        if (f !== undefined) out.push(f)
      }
      const missed = notInAmbient(ctx, ap, reach, 'this policy is enforced by ztunnel')
      if (missed !== undefined) out.push(missed)
    }
    for (const pa of ctx.snapshot.PeerAuthentication) {
      const missed = notInAmbient(ctx, pa, policyReach(ctx, pa, pa.spec.selector?.matchLabels), 'this mTLS policy is enforced by ztunnel')
      if (missed !== undefined) out.push(missed)
    }
    return out
  },
}

function fromWarning(ap: AuthorizationPolicy, w: ConversionWarning, reach: PolicyReach): Finding | undefined {
  switch (w.code) {
    case AuthzWarningCode.httpAttributes:
      return reach.ambient ? { type: 'ZtunnelHttpAttributes', args: [w.message], object: ap, path: w.path } : undefined
    case AuthzWarningCode.unsupportedAction:
      return reach.ambient ? { type: 'ZtunnelUnsupportedAction', args: [w.message], object: ap, path: w.path } : undefined
    case AuthzWarningCode.spiffePrincipal:
      return { type: 'PrincipalWithSpiffePrefix', args: [w.message], object: ap, path: w.path }
    case AuthzWarningCode.invalidPort:
    case AuthzWarningCode.invalidIpBlock:
      return { type: 'SchemaWarning', args: [w.message], object: ap, path: w.path }
    case AuthzWarningCode.waypointOnly:
      return undefined
    default:
      return assertNever(w.code, 'authz warning code')
  }
}

/** AMB0205 when the input shows the policy's workloads and none of them is in ambient. */
function notInAmbient(
  ctx: AnalysisContext,
  policy: AuthorizationPolicy | PeerAuthentication,
  reach: PolicyReach,
  what: string,
): Finding | undefined {
  if (reach.ambient || reach.workloads.length === 0 || reach.scope === 'mesh') return undefined
  const ns = policy.metadata.namespace
  const why =
    ctx.namespace(ns) === undefined
      ? `the input has no Namespace ${ns} labelled istio.io/dataplane-mode: ambient, nor ambient pods`
      : `neither Namespace ${ns} nor its pods are labelled istio.io/dataplane-mode: ambient`
  return { type: 'NamespaceNotInAmbient', args: [what, ns, why], object: policy, path: '' }
}
