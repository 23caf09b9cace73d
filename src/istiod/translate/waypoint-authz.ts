// AuthorizationPolicies a waypoint enforces (docs/istio-reference.md, "Waypoints": targetRefs to the
// Gateway or Service). Istio's rules for which policies a waypoint applies:
//  - only policies with `targetRefs` (or the older `targetRef`); a policy with a `selector` is
//    ztunnel's, never a waypoint's, and a selector-less one without targetRefs is ztunnel's too;
//  - `{kind: Gateway, group: gateway.networking.k8s.io, name}` in the policy's namespace: that
//    waypoint, for all its traffic;
//  - `{kind: Service, group: "", name}` in the policy's namespace: the waypoint serving that
//    Service, for traffic to it only;
//  - `{kind: GatewayClass, name: istio-waypoint}` in the root namespace: every waypoint.
// The policy is passed on with Istio's L7 semantics intact (the waypoint evaluates HTTP fields),
// arrays normalised and bare service accounts expanded with the policy's namespace.
import type { Operation, PolicyTargetReference, Source } from '../../authz/authorization-policy.js'
import type { AuthorizationPolicy } from '../resources/model.js'
import { objectKey } from '../resources/model.js'
import { WAYPOINT_CLASS, type WaypointInfo } from './enrolment.js'
import type { MessageSink } from './messages.js'
import { TranslationCode } from './messages.js'
import type { L7AuthorizationPolicy, L7Condition, L7Operation, L7Source } from '../../mesh/waypoint-config.js'
import { isValidPort } from '../../net/address.js'

const TRUE_FORMS = new Set(['1', 't', 'T', 'TRUE', 'true', 'True'])

export type PolicyTarget =
  | { readonly kind: 'waypoint'; readonly key: string }
  | { readonly kind: 'service'; readonly namespace: string; readonly name: string }
  | { readonly kind: 'all-waypoints' }

export interface WaypointPolicies {
  /** Policies for the whole waypoint `ns/name`, sorted by namespace/name. */
  forWaypoint(key: string): L7AuthorizationPolicy[]
  /** Policies targeting the Service `ns/name`. */
  forService(namespace: string, name: string): L7AuthorizationPolicy[]
}

export function targetRefs(ap: AuthorizationPolicy): PolicyTargetReference[] {
  return [...(ap.spec.targetRefs ?? []), ...(ap.spec.targetRef ? [ap.spec.targetRef] : [])]
}

export function waypointPolicies(
  policies: readonly AuthorizationPolicy[],
  waypoints: ReadonlyMap<string, WaypointInfo>,
  /** Is the Service `ns/name` served by some waypoint? (Else a policy targeting it does nothing.) */
  serviceWaypoint: (namespace: string, name: string) => 'served' | 'no-waypoint' | 'unknown',
  rootNamespace: string,
  sink: MessageSink,
): WaypointPolicies {
  const byTarget: { target: PolicyTarget; policy: L7AuthorizationPolicy }[] = []
  for (const ap of policies) {
    const refs = targetRefs(ap)
    if (refs.length === 0) continue
    const policy = l7Policy(ap)
    const ns = ap.metadata.namespace
    refs.forEach((ref, i) => {
      const path = ap.spec.targetRefs && ap.spec.targetRefs.length > 0 ? `spec.targetRefs[${i}]` : 'spec.targetRef'
      const problem = (reason: string, hint: string) =>
        sink.add({
          code: TranslationCode.policyTargetNotFound,
          severity: 'warning',
          object: objectKey(ap),
          path,
          source: ap.source,
          reason,
          hint,
        })
      if (ref.namespace !== undefined && ref.namespace !== ns)
        return problem(
          `targetRefs must be in the policy's namespace (${ns}), not ${ref.namespace}; this ref is ignored`,
          "create the policy in the target's namespace",
        )
      if (ref.kind === 'Gateway') {
        if (!waypoints.has(`${ns}/${ref.name}`))
          return problem(`no waypoint ${ns}/${ref.name}; this ref has no effect`, 'name a Gateway of class istio-waypoint')
        byTarget.push({ target: { kind: 'waypoint', key: `${ns}/${ref.name}` }, policy })
      } else if (ref.kind === 'Service') {
        const state = serviceWaypoint(ns, ref.name)
        if (state === 'unknown') return problem(`no Service ${ns}/${ref.name}; this ref has no effect`, 'name an existing Service')
        if (state === 'no-waypoint')
          problem(
            `Service ${ns}/${ref.name} uses no waypoint, so nothing enforces this policy for it`,
            `label the Service (or namespace) istio.io/use-waypoint=<waypoint>`,
          )
        byTarget.push({ target: { kind: 'service', namespace: ns, name: ref.name }, policy })
      } else if (ref.kind === 'GatewayClass' && ref.name === WAYPOINT_CLASS && ns === rootNamespace) {
        byTarget.push({ target: { kind: 'all-waypoints' }, policy })
      } else {
        problem(
          `targetRef kind ${ref.kind} "${ref.name}" is not a waypoint, Service, or (in ${rootNamespace}) the ${WAYPOINT_CLASS} GatewayClass; ignored`,
          'target a waypoint Gateway or a Service',
        )
      }
    })
  }
  const unique = (list: L7AuthorizationPolicy[]) => [...new Map(list.map((p) => [`${p.namespace}/${p.name}`, p])).values()]
  return {
    forWaypoint: (key) =>
      unique(
        byTarget
          .filter((t) => t.target.kind === 'all-waypoints' || (t.target.kind === 'waypoint' && t.target.key === key))
          .map((t) => t.policy),
      ),
    forService: (namespace, name) =>
      unique(
        byTarget
          .filter((t) => t.target.kind === 'service' && t.target.namespace === namespace && t.target.name === name)
          .map((t) => t.policy),
      ),
  }
}

export function l7Policy(ap: AuthorizationPolicy): L7AuthorizationPolicy {
  const ns = ap.metadata.namespace
  return {
    name: ap.metadata.name,
    namespace: ns,
    action: ap.spec.action ?? 'ALLOW',
    provider: ap.spec.action === 'CUSTOM' ? (ap.spec.provider?.name ?? null) : null,
    dryRun: TRUE_FORMS.has(ap.metadata.annotations['istio.io/dry-run'] ?? ''),
    rules: (ap.spec.rules ?? []).map((r) => ({
      from: (r.from ?? []).map((f) => source(f.source ?? {}, ns)),
      to: (r.to ?? []).map((t) => operation(t.operation ?? {})),
      when: (r.when ?? []).map((w): L7Condition => ({
        key: w.key,
        values: (w.values ?? []).map(String),
        notValues: (w.notValues ?? []).map(String),
      })),
    })),
  }
}

const list = (v: readonly string[] | null | undefined): string[] => [...(v ?? [])]
const accounts = (v: readonly string[] | null | undefined, ns: string): string[] => list(v).map((a) => (a.includes('/') ? a : `${ns}/${a}`))

function source(s: Source, ns: string): L7Source {
  return {
    principals: list(s.principals),
    notPrincipals: list(s.notPrincipals),
    requestPrincipals: list(s.requestPrincipals),
    notRequestPrincipals: list(s.notRequestPrincipals),
    namespaces: list(s.namespaces),
    notNamespaces: list(s.notNamespaces),
    ipBlocks: list(s.ipBlocks),
    notIpBlocks: list(s.notIpBlocks),
    remoteIpBlocks: list(s.remoteIpBlocks),
    notRemoteIpBlocks: list(s.notRemoteIpBlocks),
    serviceAccounts: accounts(s.serviceAccounts, ns),
    notServiceAccounts: accounts(s.notServiceAccounts, ns),
  }
}

/**
 * An unparsable port (already reported by the ztunnel conversion) becomes -1, which matches no
 * port: dropping it would turn `ports: [bad]` into "any port" and widen an ALLOW.
 */
function ports(v: readonly (string | number)[] | null | undefined): number[] {
  return (v ?? []).map((raw) => {
    const p = /^\d{1,5}$/.test(String(raw)) ? Number(raw) : NaN
    return isValidPort(p, 0) ? p : -1
  })
}

function operation(o: Operation): L7Operation {
  return {
    hosts: list(o.hosts),
    notHosts: list(o.notHosts),
    ports: ports(o.ports),
    notPorts: ports(o.notPorts),
    methods: list(o.methods),
    notMethods: list(o.notMethods),
    paths: list(o.paths),
    notPaths: list(o.notPaths),
  }
}
