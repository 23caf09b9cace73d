// What translation says about the config it turned into ztunnel and waypoint state. Validation
// (src/istiod/resources) has already rejected malformed objects; these are the semantic findings
// that only appear when objects meet: a label naming a waypoint that does not exist, a policy that
// ztunnel enforces more strictly than written, a route to an unknown host. They are located by
// object (`Kind/namespace/name`, as `istioctl analyze` names them) and a path, carry a stable code
// (tests match on codes, never text) and, like ConfigMessage, a one-line hint.
import type { ObjectSource } from '../resources/model.js'
import type { Severity } from '../resources/messages.js'

export const TranslationCode = {
  /** From fromAuthorizationPolicy: HTTP attributes ignored, unsupported action, bad port or IP. */
  authorizationConversion: 'TRANSLATE_AUTHZ_CONVERSION',
  /** A selector AuthorizationPolicy has HTTP attributes: waypoints never enforce selector policies. */
  selectorPolicyHttpAttributes: 'TRANSLATE_AUTHZ_SELECTOR_HTTP',
  /** A targetRefs policy names no waypoint, or a Service that no waypoint serves. */
  policyTargetNotFound: 'TRANSLATE_AUTHZ_TARGET_NOT_FOUND',
  /** PeerAuthentication DISABLE: not supported in ambient mode; treated as PERMISSIVE. */
  peerAuthenticationDisable: 'TRANSLATE_PEER_AUTHN_DISABLE',
  /** Two PeerAuthentications of the same scope; the first by name wins. */
  peerAuthenticationConflict: 'TRANSLATE_PEER_AUTHN_CONFLICT',
  /** `istio.io/use-waypoint` names a Gateway that does not exist (or is not an istio-waypoint). */
  waypointNotFound: 'TRANSLATE_WAYPOINT_NOT_FOUND',
  /** The waypoint exists but its `istio.io/waypoint-for` does not accept this kind of traffic. */
  waypointForMismatch: 'TRANSLATE_WAYPOINT_FOR_MISMATCH',
  /** An unknown `istio.io/waypoint-for` value; read as the default (service). */
  waypointForUnknown: 'TRANSLATE_WAYPOINT_FOR_UNKNOWN',
  /** A pod's nodeName is not one of node-1..node-N; it is placed by hash instead. */
  unknownNode: 'TRANSLATE_UNKNOWN_NODE',
  /** No free address left (254 pods per node, 65k VIPs); the object is left out. */
  addressExhausted: 'TRANSLATE_ADDRESS_EXHAUSTED',
  /** An address given in the config (podIP, clusterIP) is invalid or already taken. */
  addressConflict: 'TRANSLATE_ADDRESS_CONFLICT',
  /** A Service targetPort names no container port of a selected pod; that pod does not serve it. */
  targetPortNotFound: 'TRANSLATE_TARGET_PORT_NOT_FOUND',
  /** Two pods (a Deployment's and a Pod object) with the same name; the Pod object wins. */
  duplicatePod: 'TRANSLATE_DUPLICATE_POD',
  /** A VirtualService host written `name.namespace`: Istio reads it as a full name, so it matches nothing. */
  virtualServiceHostNotFqdn: 'TRANSLATE_VS_HOST_NOT_FQDN',
  /** A second VirtualService for the same host; the first (by namespace/name) is used (Istio: IST0109). */
  virtualServiceConflict: 'TRANSLATE_VS_CONFLICT',
  /** A route destination (or mirror, backendRef) names a host that is not a Service of the mesh. */
  unknownDestination: 'TRANSLATE_UNKNOWN_DESTINATION',
  /** A route destination names a subset no DestinationRule defines (Envoy answers 503 NR). */
  unknownSubset: 'TRANSLATE_UNKNOWN_SUBSET',
  /** A field the waypoint cannot honour (sourceLabels, ExtensionRef, tcp routes); it is ignored. */
  unsupportedField: 'TRANSLATE_UNSUPPORTED_FIELD',
  /** Info: a VirtualService routes a Service that uses no waypoint; in ambient nothing applies it. */
  routeWithoutWaypoint: 'TRANSLATE_ROUTE_WITHOUT_WAYPOINT',
  /** An HTTPRoute parentRef names a Service or Gateway that does not exist. */
  routeParentNotFound: 'TRANSLATE_ROUTE_PARENT_NOT_FOUND',
} as const

export type TranslationCode = (typeof TranslationCode)[keyof typeof TranslationCode]

export interface TranslationMessage {
  readonly code: TranslationCode
  readonly severity: Severity
  /** `Kind/namespace/name` of the object the finding is about. */
  readonly object: string
  /** Where in that object, e.g. `metadata.labels['istio.io/use-waypoint']`; '' for the whole object. */
  readonly path: string
  readonly reason: string
  readonly hint: string
  /** The code of the finding underneath, when another module made it (e.g. AUTHZ_HTTP_ATTRIBUTES_IGNORED). */
  readonly detailCode?: string
  /** Where the object was read from, when it came from a file. */
  readonly source?: ObjectSource
}

/** Collects messages; sorted once at the end so the output does not depend on visiting order. */
export class MessageSink {
  readonly #messages: TranslationMessage[] = []

  add(m: TranslationMessage): void {
    this.#messages.push(m)
  }

  /** Adds messages a previous translation recorded for a step it did not need to redo (./memo.ts). */
  addAll(messages: readonly TranslationMessage[]): void {
    for (const m of messages) this.#messages.push(m)
  }

  /** A point to read back from: `since(mark())` after a step is what that step added. */
  mark(): number {
    return this.#messages.length
  }

  since(mark: number): readonly TranslationMessage[] {
    return this.#messages.slice(mark)
  }

  /** Sorted by object, path, code; exact duplicates (one finding reached twice) dropped. */
  list(): readonly TranslationMessage[] {
    const seen = new Set<string>()
    const out: TranslationMessage[] = []
    const sorted = [...this.#messages].sort(
      (a, b) => cmp(a.object, b.object) || cmp(a.path, b.path) || cmp(a.code, b.code) || cmp(a.reason, b.reason),
    )
    for (const m of sorted) {
      const key = `${m.object}\0${m.path}\0${m.code}\0${m.reason}`
      if (seen.has(key)) continue
      seen.add(key)
      out.push(Object.freeze(m))
    }
    return Object.freeze(out)
  }
}

/** Plain code-point order: locale-independent, so output is the same on every machine. */
export function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0
}
