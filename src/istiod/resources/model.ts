// istiod's validated config model: the Kubernetes-style objects users write (core, Istio and Gateway
// API kinds), after parsing and validation at the edge (parse.ts). Everything past this file is
// trusted: enums are closed unions, durations are milliseconds, defaults are filled in, and every
// object is deeply frozen. Translation (src/istiod/translate) and analysis (src/istiod/analysis) read
// only these types, never YAML.
//
// Conventions:
//  - field names follow the YAML (Kubernetes / Istio / Gateway API spelling), so users and the docs
//    map one-to-one; a field that changed unit says so in its name (`timeoutMs` for `timeout`);
//  - optional fields are `?: T | undefined` (parsers build them from possibly-absent values; at
//    runtime absent fields are removed before freezing, so `'x' in obj` is reliable);
//  - cluster-scoped objects (Namespace) have `metadata.namespace === ''`.
import type { AuthorizationPolicyResource, AuthorizationPolicySpec } from '../../authz/authorization-policy.js'

export type Labels = Readonly<Record<string, string>>

export interface ObjectMeta {
  readonly name: string
  /** Defaults to `default` (as `kubectl apply` does); '' for cluster-scoped kinds. */
  readonly namespace: string
  readonly labels: Labels
  readonly annotations: Labels
}

/** Where an object was read from: file path, 0-based document index in the file, 1-based line. */
export interface ObjectSource {
  readonly file: string
  readonly docIndex: number
  readonly line: number | undefined
}

interface ObjectBase<K extends Kind> {
  readonly kind: K
  /** As written (e.g. `networking.istio.io/v1beta1`); validated against the kind. */
  readonly apiVersion: string
  readonly metadata: ObjectMeta
  readonly source: ObjectSource
}

// ---------------------------------------------------------------- core (v1, apps/v1)

export type Namespace = ObjectBase<'Namespace'>
export type ServiceAccount = ObjectBase<'ServiceAccount'>

export type PortProtocol = 'TCP' | 'UDP' | 'SCTP'

export interface ContainerPort {
  readonly name?: string | undefined
  readonly containerPort: number
  readonly protocol: PortProtocol
}

export interface Container {
  readonly name: string
  readonly image: string
  readonly ports: readonly ContainerPort[]
}

export interface PodSpec {
  readonly containers: readonly Container[]
  /** Defaults to `default`; `serviceAccount` (deprecated alias) is read too. */
  readonly serviceAccountName: string
  /** Where the pod runs; absent = the scheduler (translation) places it deterministically. */
  readonly nodeName?: string | undefined
}

export interface Pod extends ObjectBase<'Pod'> {
  readonly spec: PodSpec
  /** From a dump of a real cluster: the pod keeps this address. */
  readonly status: { readonly podIP?: string | undefined }
}

export interface LabelSelector {
  readonly matchLabels: Labels
}

export interface PodTemplate {
  readonly metadata: { readonly labels: Labels; readonly annotations: Labels }
  readonly spec: PodSpec
}

export interface Deployment extends ObjectBase<'Deployment'> {
  readonly spec: {
    /** Defaults to 1 (Kubernetes' default); 0 is valid and means no pods. */
    readonly replicas: number
    readonly selector: LabelSelector
    readonly template: PodTemplate
  }
}

export interface ServicePort {
  readonly name?: string | undefined
  readonly port: number
  /** A number, or the name of a container port; defaults to `port`. */
  readonly targetPort: number | string
  readonly protocol: PortProtocol
  readonly appProtocol?: string | undefined
}

export interface Service extends ObjectBase<'Service'> {
  readonly spec: {
    /** Absent = a Service without a selector (no endpoints from pods). */
    readonly selector?: Labels | undefined
    readonly ports: readonly ServicePort[]
    /** As written; `None` for headless. Absent = istiod allocates a VIP. */
    readonly clusterIP?: string | undefined
    readonly type: 'ClusterIP' | 'NodePort' | 'LoadBalancer' | 'ExternalName'
  }
}

// ---------------------------------------------------------------- security.istio.io

/** The authz module's resource type, narrowed: converts with `fromAuthorizationPolicy` as is. */
export interface AuthorizationPolicy extends AuthorizationPolicyResource {
  readonly kind: 'AuthorizationPolicy'
  readonly apiVersion: string
  readonly metadata: ObjectMeta
  readonly spec: AuthorizationPolicySpec
  readonly source: ObjectSource
}

export type MtlsMode = 'UNSET' | 'DISABLE' | 'PERMISSIVE' | 'STRICT'

export interface PeerAuthentication extends ObjectBase<'PeerAuthentication'> {
  readonly spec: {
    /** Absent = namespace-wide (mesh-wide in the root namespace). */
    readonly selector?: LabelSelector | undefined
    /** UNSET (the default) inherits from the parent scope. */
    readonly mtls: { readonly mode: MtlsMode }
    /** Keyed by the workload's target port. */
    readonly portLevelMtls: Readonly<Record<number, { readonly mode: MtlsMode }>>
  }
}

// ---------------------------------------------------------------- networking.istio.io

export type StringMatch =
  | { readonly kind: 'exact'; readonly value: string }
  | { readonly kind: 'prefix'; readonly value: string }
  /** RE2 syntax in Istio; matched whole. */
  | { readonly kind: 'regex'; readonly value: string }

export interface HttpMatchRequest {
  readonly name?: string | undefined
  readonly uri?: StringMatch | undefined
  readonly scheme?: StringMatch | undefined
  readonly method?: StringMatch | undefined
  readonly authority?: StringMatch | undefined
  /** Header names lower-cased. */
  readonly headers: Readonly<Record<string, StringMatch>>
  readonly withoutHeaders: Readonly<Record<string, StringMatch>>
  readonly queryParams: Readonly<Record<string, StringMatch>>
  readonly port?: number | undefined
  readonly ignoreUriCase: boolean
  readonly sourceLabels: Labels
  readonly gateways: readonly string[]
}

export interface Destination {
  readonly host: string
  readonly subset?: string | undefined
  readonly port?: number | undefined
}

export interface HeaderOperations {
  readonly set: Labels
  readonly add: Labels
  readonly remove: readonly string[]
}

export interface Headers {
  readonly request: HeaderOperations
  readonly response: HeaderOperations
}

export interface RouteDestination {
  readonly destination: Destination
  /** As written; absent = Istio's rule (a lone destination gets 100, the rest share). */
  readonly weight?: number | undefined
  readonly headers?: Headers | undefined
}

export interface HttpRetry {
  readonly attempts: number
  readonly perTryTimeoutMs?: number | undefined
  /** `retryOn: gateway-error,connect-failure` split on commas. */
  readonly retryOn: readonly string[]
  readonly retryRemoteLocalities?: boolean | undefined
}

export interface HttpFault {
  /** `percentage` is 0-100 (fractions allowed); absent = not given (translation decides the default). */
  readonly delay?: { readonly fixedDelayMs: number; readonly percentage?: number | undefined } | undefined
  readonly abort?:
    | {
        readonly httpStatus?: number | undefined
        readonly grpcStatus?: string | undefined
        readonly percentage?: number | undefined
      }
    | undefined
}

export interface HttpRewrite {
  readonly uri?: string | undefined
  readonly authority?: string | undefined
  readonly uriRegexRewrite?: { readonly match: string; readonly rewrite: string } | undefined
}

export interface HttpRedirect {
  readonly uri?: string | undefined
  readonly authority?: string | undefined
  readonly port?: number | undefined
  readonly scheme?: string | undefined
  readonly redirectCode: number
}

export interface VirtualServiceHttpRoute {
  readonly name?: string | undefined
  /** Empty = matches every request. */
  readonly match: readonly HttpMatchRequest[]
  readonly route: readonly RouteDestination[]
  readonly redirect?: HttpRedirect | undefined
  readonly directResponse?: { readonly status: number; readonly body?: string | undefined } | undefined
  readonly rewrite?: HttpRewrite | undefined
  readonly timeoutMs?: number | undefined
  readonly retries?: HttpRetry | undefined
  readonly fault?: HttpFault | undefined
  readonly mirror?: Destination | undefined
  /** 0-100; absent with a mirror = 100 (Istio's default). */
  readonly mirrorPercentage?: number | undefined
  readonly headers?: Headers | undefined
}

export interface L4MatchAttributes {
  readonly destinationSubnets: readonly string[]
  readonly port?: number | undefined
  readonly sourceLabels: Labels
  readonly gateways: readonly string[]
}

export interface VirtualServiceTcpRoute {
  readonly match: readonly L4MatchAttributes[]
  readonly route: readonly RouteDestination[]
}

export interface VirtualService extends ObjectBase<'VirtualService'> {
  readonly spec: {
    readonly hosts: readonly string[]
    readonly gateways: readonly string[]
    readonly exportTo: readonly string[]
    readonly http: readonly VirtualServiceHttpRoute[]
    readonly tcp: readonly VirtualServiceTcpRoute[]
  }
}

/** LEAST_CONN (deprecated) is read as LEAST_REQUEST. */
export type LoadBalancerSimple = 'UNSPECIFIED' | 'ROUND_ROBIN' | 'RANDOM' | 'LEAST_REQUEST' | 'PASSTHROUGH'
export type ClientTlsMode = 'DISABLE' | 'SIMPLE' | 'MUTUAL' | 'ISTIO_MUTUAL'

export interface ConnectionPoolSettings {
  readonly tcp?: { readonly maxConnections?: number | undefined; readonly connectTimeoutMs?: number | undefined } | undefined
  readonly http?:
    | {
        readonly http1MaxPendingRequests?: number | undefined
        readonly http2MaxRequests?: number | undefined
        readonly maxRequestsPerConnection?: number | undefined
        readonly maxRetries?: number | undefined
        readonly idleTimeoutMs?: number | undefined
      }
    | undefined
}

export interface OutlierDetection {
  readonly consecutive5xxErrors?: number | undefined
  readonly consecutiveGatewayErrors?: number | undefined
  readonly intervalMs?: number | undefined
  readonly baseEjectionTimeMs?: number | undefined
  readonly maxEjectionPercent?: number | undefined
}

export interface TrafficPolicy {
  readonly loadBalancer?: { readonly simple: LoadBalancerSimple } | undefined
  readonly connectionPool?: ConnectionPoolSettings | undefined
  readonly outlierDetection?: OutlierDetection | undefined
  readonly tls?: { readonly mode: ClientTlsMode } | undefined
  readonly portLevelSettings: readonly (Omit<TrafficPolicy, 'portLevelSettings'> & { readonly port: number })[]
}

export interface Subset {
  readonly name: string
  readonly labels: Labels
  readonly trafficPolicy?: TrafficPolicy | undefined
}

export interface DestinationRule extends ObjectBase<'DestinationRule'> {
  readonly spec: {
    readonly host: string
    readonly trafficPolicy?: TrafficPolicy | undefined
    readonly subsets: readonly Subset[]
    readonly exportTo: readonly string[]
  }
}

// ---------------------------------------------------------------- gateway.networking.k8s.io

export interface Listener {
  readonly name: string
  readonly port: number
  /** As written (HTTP, HTTPS, TCP, TLS, HBONE...). */
  readonly protocol: string
  readonly hostname?: string | undefined
}

export interface Gateway extends ObjectBase<'Gateway'> {
  /** `metadata.labels['istio.io/waypoint-for']`: service (default) | workload | all | none. */
  readonly spec: {
    readonly gatewayClassName: string
    readonly listeners: readonly Listener[]
    readonly addresses: readonly { readonly type: string; readonly value: string }[]
  }
}

export interface ParentReference {
  readonly group: string
  /** Defaults to Gateway; Service for mesh (GAMMA) routes. */
  readonly kind: string
  readonly name: string
  readonly namespace?: string | undefined
  readonly port?: number | undefined
  readonly sectionName?: string | undefined
}

export type PathMatchType = 'Exact' | 'PathPrefix' | 'RegularExpression'
export type ValueMatchType = 'Exact' | 'RegularExpression'

export interface HttpRouteMatch {
  /** Defaults to PathPrefix `/` (the Gateway API default). */
  readonly path: { readonly type: PathMatchType; readonly value: string }
  readonly headers: readonly { readonly type: ValueMatchType; readonly name: string; readonly value: string }[]
  readonly queryParams: readonly { readonly type: ValueMatchType; readonly name: string; readonly value: string }[]
  readonly method?: string | undefined
}

export interface HeaderModifier {
  readonly set: readonly { readonly name: string; readonly value: string }[]
  readonly add: readonly { readonly name: string; readonly value: string }[]
  readonly remove: readonly string[]
}

export interface BackendRef {
  readonly group: string
  /** Defaults to Service. */
  readonly kind: string
  readonly name: string
  readonly namespace?: string | undefined
  readonly port?: number | undefined
  /** Defaults to 1. */
  readonly weight: number
  readonly filters: readonly HttpRouteFilter[]
}

export type HttpRouteFilter =
  | { readonly type: 'RequestHeaderModifier'; readonly requestHeaderModifier: HeaderModifier }
  | { readonly type: 'ResponseHeaderModifier'; readonly responseHeaderModifier: HeaderModifier }
  | {
      readonly type: 'RequestMirror'
      readonly requestMirror: { readonly backendRef: Omit<BackendRef, 'weight' | 'filters'>; readonly percent?: number | undefined }
    }
  | {
      readonly type: 'RequestRedirect'
      readonly requestRedirect: {
        readonly scheme?: string | undefined
        readonly hostname?: string | undefined
        readonly port?: number | undefined
        readonly path?: PathModifier | undefined
        readonly statusCode: number
      }
    }
  | {
      readonly type: 'URLRewrite'
      readonly urlRewrite: { readonly hostname?: string | undefined; readonly path?: PathModifier | undefined }
    }
  | { readonly type: 'ExtensionRef'; readonly extensionRef: { readonly group: string; readonly kind: string; readonly name: string } }

export type PathModifier =
  | { readonly type: 'ReplaceFullPath'; readonly replaceFullPath: string }
  | { readonly type: 'ReplacePrefixMatch'; readonly replacePrefixMatch: string }

export interface HttpRouteRule {
  readonly name?: string | undefined
  /** Empty = one match-all (PathPrefix `/`). */
  readonly matches: readonly HttpRouteMatch[]
  readonly filters: readonly HttpRouteFilter[]
  readonly backendRefs: readonly BackendRef[]
  readonly timeouts?: { readonly requestMs?: number | undefined; readonly backendRequestMs?: number | undefined } | undefined
}

export interface HTTPRoute extends ObjectBase<'HTTPRoute'> {
  readonly spec: {
    readonly parentRefs: readonly ParentReference[]
    readonly hostnames: readonly string[]
    readonly rules: readonly HttpRouteRule[]
  }
}

// ---------------------------------------------------------------- telemetry.istio.io

export type JsonValue = string | number | boolean | null | readonly JsonValue[] | { readonly [k: string]: JsonValue }

/** Loosely typed: validated as a mapping only (the waypoint reads the parts it supports). */
export interface Telemetry extends ObjectBase<'Telemetry'> {
  readonly spec: { readonly [k: string]: JsonValue }
}

// ---------------------------------------------------------------- the snapshot

export interface ObjectsByKind {
  Namespace: Namespace
  ServiceAccount: ServiceAccount
  Pod: Pod
  Deployment: Deployment
  Service: Service
  AuthorizationPolicy: AuthorizationPolicy
  PeerAuthentication: PeerAuthentication
  VirtualService: VirtualService
  DestinationRule: DestinationRule
  Gateway: Gateway
  HTTPRoute: HTTPRoute
  Telemetry: Telemetry
}

export type Kind = keyof ObjectsByKind
export type ConfigObject = ObjectsByKind[Kind]
/** What a kind's decoder produces: the object without the envelope parse.ts fills in. */
export type ObjectBody<K extends Kind> = Omit<ObjectsByKind[K], 'kind' | 'apiVersion' | 'metadata' | 'source'>

export const KINDS: readonly Kind[] = Object.freeze([
  'Namespace',
  'ServiceAccount',
  'Pod',
  'Deployment',
  'Service',
  'AuthorizationPolicy',
  'PeerAuthentication',
  'VirtualService',
  'DestinationRule',
  'Gateway',
  'HTTPRoute',
  'Telemetry',
])

/**
 * Every valid object of the config, by kind. Within a kind, objects are in a stable order (by
 * namespace, then name), so two loads of the same files give equal snapshots.
 */
export type ConfigSnapshot = { readonly [K in Kind]: readonly ObjectsByKind[K][] }

/** `Kind/namespace/name` (`Kind/name` for cluster-scoped kinds), as messages name objects. */
export function objectKey(obj: {
  readonly kind: string
  readonly metadata: { readonly name: string; readonly namespace: string }
}): string {
  const { name, namespace } = obj.metadata
  return namespace === '' ? `${obj.kind}/${name}` : `${obj.kind}/${namespace}/${name}`
}

export function emptySnapshot(): ConfigSnapshot {
  const out = {} as Record<Kind, readonly ConfigObject[]>
  for (const k of KINDS) out[k] = Object.freeze([])
  return Object.freeze(out) as ConfigSnapshot
}
