// PeerAuthentication → the DENY policies istiod makes for ztunnel (docs/istio-reference.md: STRICT
// = deny connections without a peer identity; PERMISSIVE, the default, accepts plaintext; DISABLE
// is not supported in ambient). As istiod's ambient index does it:
//  - mesh (root namespace, no selector) and namespace (no selector) STRICT share one static policy,
//    `<root>/istio_converted_static_strict`, sent whenever any PeerAuthentication exists (as
//    istiod's DefaultPolicy), which each affected workload lists in its
//    `authorizationPolicies`; a namespace PERMISSIVE under a mesh STRICT thus simply lists nothing;
//  - a selector PeerAuthentication becomes its own policy, `<ns>/converted_peer_authentication_<name>`,
//    listed by the workloads it selects; `portLevelMtls` turns into port conditions;
//  - UNSET inherits from the parent scope (workload → namespace → mesh → PERMISSIVE).
// "No peer identity" is `notPrincipals: [presence]`: a plaintext peer has no principal, so the
// negative match passes and the DENY fires; any mTLS peer has one.
import { matchLabels } from '../../authz/authorization-policy.js'
import { match, type Authorization, type Match } from '../../authz/policy.js'
import type { MtlsMode, PeerAuthentication, Labels } from '../resources/model.js'
import { objectKey } from '../resources/model.js'
import type { MessageSink } from './messages.js'
import { TranslationCode, cmp } from './messages.js'

export const STATIC_STRICT_POLICY = 'istio_converted_static_strict'
export const CONVERTED_PEER_AUTHN_PREFIX = 'converted_peer_authentication_'

type Effective = 'STRICT' | 'PERMISSIVE'

export interface PeerAuthenticationPolicies {
  readonly authorizations: readonly Authorization[]
  /** The `namespace/name` keys of the converted policies that apply to a pod. */
  policiesFor(namespace: string, labels: Labels): string[]
}

export function peerAuthenticationPolicies(
  pas: readonly PeerAuthentication[],
  rootNamespace: string,
  sink: MessageSink,
): PeerAuthenticationPolicies {
  const sorted = [...pas].sort((a, b) => cmp(a.metadata.namespace, b.metadata.namespace) || cmp(a.metadata.name, b.metadata.name))
  for (const pa of sorted) warnDisable(pa, sink)
  const namespaceWide = new Map<string, PeerAuthentication>()
  for (const pa of sorted.filter((p) => p.spec.selector === undefined)) {
    const first = namespaceWide.get(pa.metadata.namespace)
    if (first === undefined) namespaceWide.set(pa.metadata.namespace, pa)
    else conflict(pa, first, sink)
  }
  const mesh = mode(namespaceWide.get(rootNamespace)?.spec.mtls.mode, 'PERMISSIVE')
  const nsMode = (ns: string): Effective => (ns === rootNamespace ? mesh : mode(namespaceWide.get(ns)?.spec.mtls.mode, mesh))

  const authorizations: Authorization[] = []
  // Istio's istiod sends the static policy as soon as any PeerAuthentication exists (its
  // DefaultPolicy: "if there are any PeerAuthentications in our cache"), whatever their modes;
  // only the workloads whose effective mode is STRICT list it.
  if (pas.length > 0)
    authorizations.push(denyWithoutIdentity(STATIC_STRICT_POLICY, rootNamespace, [match({ notPrincipals: [{ presence: true }] })]))

  const selectorPas = sorted.filter((p) => p.spec.selector !== undefined)
  const converted = new Map<PeerAuthentication, Authorization | undefined>()
  for (const pa of selectorPas) {
    const a = convertSelectorPolicy(pa, nsMode(pa.metadata.namespace))
    converted.set(pa, a)
    if (a !== undefined) authorizations.push(a)
  }
  authorizations.sort((a, b) => cmp(a.namespace, b.namespace) || cmp(a.name, b.name))

  return {
    authorizations: Object.freeze(authorizations),
    policiesFor(namespace, labels) {
      // The first selector policy (by name) wins, as Istio takes the oldest; the rest are reported.
      const selecting = selectorPas.filter((p) => p.metadata.namespace === namespace && matchLabels(p.spec.selector?.matchLabels, labels))
      const chosen = selecting[0]
      for (const other of selecting.slice(1)) if (chosen !== undefined) conflict(other, chosen, sink)
      if (chosen !== undefined) {
        const a = converted.get(chosen)
        return a === undefined ? [] : [`${a.namespace}/${a.name}`]
      }
      return nsMode(namespace) === 'STRICT' ? [`${rootNamespace}/${STATIC_STRICT_POLICY}`] : []
    },
  }
}

/** DISABLE means "no mTLS"; ambient always tunnels with mTLS, so it reads as PERMISSIVE. */
function mode(m: MtlsMode | undefined, parent: Effective): Effective {
  switch (m) {
    case undefined:
    case 'UNSET':
      return parent
    case 'STRICT':
      return 'STRICT'
    case 'PERMISSIVE':
    case 'DISABLE':
      return 'PERMISSIVE'
  }
}

function convertSelectorPolicy(pa: PeerAuthentication, parent: Effective): Authorization | undefined {
  const own = mode(pa.spec.mtls.mode, parent)
  const strictPorts: number[] = []
  const permissivePorts: number[] = []
  for (const [port, { mode: m }] of Object.entries(pa.spec.portLevelMtls)) {
    const p = mode(m, own)
    if (p !== own) (p === 'STRICT' ? strictPorts : permissivePorts).push(Number(port))
  }
  strictPorts.sort((a, b) => a - b)
  permissivePorts.sort((a, b) => a - b)
  const name = `${CONVERTED_PEER_AUTHN_PREFIX}${pa.metadata.name}`
  const anonymous = { notPrincipals: [{ presence: true as const }] }
  if (own === 'STRICT') {
    return denyWithoutIdentity(name, pa.metadata.namespace, [
      match(permissivePorts.length > 0 ? { ...anonymous, notDestinationPorts: permissivePorts } : anonymous),
    ])
  }
  if (strictPorts.length === 0) return undefined
  return denyWithoutIdentity(name, pa.metadata.namespace, [match({ ...anonymous, destinationPorts: strictPorts })])
}

function denyWithoutIdentity(name: string, namespace: string, matches: Match[]): Authorization {
  return Object.freeze({
    name,
    namespace,
    scope: 'WORKLOAD_SELECTOR',
    action: 'DENY',
    dryRun: false,
    rules: Object.freeze([Object.freeze({ clauses: Object.freeze([Object.freeze({ matches: Object.freeze(matches) })]) })]),
  })
}

function warnDisable(pa: PeerAuthentication, sink: MessageSink): void {
  const paths = [
    ...(pa.spec.mtls.mode === 'DISABLE' ? ['spec.mtls.mode'] : []),
    ...Object.entries(pa.spec.portLevelMtls)
      .filter(([, v]) => v.mode === 'DISABLE')
      .map(([p]) => `spec.portLevelMtls[${p}].mode`),
  ]
  for (const path of paths) {
    sink.add({
      code: TranslationCode.peerAuthenticationDisable,
      severity: 'warning',
      object: objectKey(pa),
      path,
      source: pa.source,
      reason: 'DISABLE is not supported in ambient mode (ztunnel always tunnels with mTLS); it is treated as PERMISSIVE',
      hint: 'use PERMISSIVE to accept plaintext, or take the workloads out of ambient (istio.io/dataplane-mode=none)',
    })
  }
}

function conflict(pa: PeerAuthentication, winner: PeerAuthentication, sink: MessageSink): void {
  sink.add({
    code: TranslationCode.peerAuthenticationConflict,
    severity: 'warning',
    object: objectKey(pa),
    path: pa.spec.selector === undefined ? '' : 'spec.selector',
    source: pa.source,
    reason: `${objectKey(winner)} applies to the same ${pa.spec.selector === undefined ? 'namespace' : 'workloads'}; only one is used (the first by name)`,
    hint: 'keep one PeerAuthentication per namespace, and selectors that do not overlap',
  })
}
