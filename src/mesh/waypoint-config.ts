// The configuration istiod sends one waypoint: our own message (Istio sends Envoy listeners,
// routes and clusters instead), carried as JSON in `ambient.waypoint.v1.WaypointConfig { name,
// namespace, json }`. It is complete: the waypoint routes, authorizes and balances from this alone,
// without Kubernetes objects or workload discovery. Rules for this contract:
//  - versioned by `apiVersion`; a reader refuses a version it does not know; additions that old
//    readers may ignore keep the version, anything else bumps it;
//  - plain JSON: no Maps, no undefined (absent optional values are `null`), durations in
//    milliseconds (`...Ms`), percentages 0-100 as numbers, addresses canonical IP text;
//  - every default is filled in by istiod, so the waypoint holds no Istio defaults of its own;
//  - lists are in their meaning order (routes: first match wins) or sorted, so equal config gives
//    byte-equal JSON and pushes can be skipped by comparing text.

export const WAYPOINT_CONFIG_API_VERSION = 'ambient.waypoint/v1'

export interface WaypointConfig {
  readonly apiVersion: typeof WAYPOINT_CONFIG_API_VERSION
  /** The Gateway's name and namespace. */
  readonly name: string
  readonly namespace: string
  /** `spiffe://<td>/ns/<ns>/sa/<gateway name>`: what the waypoint presents and originates as. */
  readonly identity: string
  readonly trustDomain: string
  /** The Gateway's `istio.io/waypoint-for`. */
  readonly waypointFor: 'service' | 'workload' | 'all' | 'none'
  /** The HBONE port it listens on (the Gateway's HBONE listener, 15008). */
  readonly hbonePort: number
  /** Services whose traffic it receives (VIP:port authorities), sorted by hostname. */
  readonly services: readonly ServedService[]
  /** Workloads whose traffic it receives by pod IP (waypoint-for workload|all), sorted by uid. */
  readonly workloads: readonly ServedWorkload[]
  /** Every upstream a route or mirror can reach (served workloads are reached directly), sorted by `name`. */
  readonly clusters: readonly UpstreamCluster[]
  /** Policies targeting the Gateway (or the istio-waypoint GatewayClass): apply to all its traffic. */
  readonly authorization: readonly L7AuthorizationPolicy[]
  readonly defaults: WaypointDefaults
  /**
   * Added within v1 (absent from older istiods: read as `{ accessLog: false, tracing: null }`).
   * From the Telemetry API (src/istiod/translate/telemetry.ts).
   */
  readonly telemetry?: WaypointTelemetry
}

export interface WaypointTelemetry {
  /** One access-log line per request (Telemetry `accessLogging` with the `envoy` provider). */
  readonly accessLog: boolean
  /** Telemetry `tracing`: spans are reported, sampled at `samplingPercent` (0-100); null = none. */
  readonly tracing: { readonly samplingPercent: number } | null
}

export interface WaypointDefaults {
  /** Used by routes that do not set retries: Istio's 2 attempts on connect-failure etc. and 503. */
  readonly retries: RetryPolicy
  /** Upstream TCP connect timeout when no DestinationRule sets one (Istio: 10 s). */
  readonly connectTimeoutMs: number
}

export type PortProtocol = 'HTTP' | 'HTTP2' | 'GRPC' | 'TCP' | 'UNKNOWN'

export interface ServedService {
  readonly hostname: string
  readonly name: string
  readonly namespace: string
  /** VIPs: traffic arrives with `:authority <VIP>:<port>`. */
  readonly addresses: readonly string[]
  readonly ports: readonly ServedPort[]
  /** Policies whose targetRefs name this Service (besides the waypoint-wide ones). */
  readonly authorization: readonly L7AuthorizationPolicy[]
}

export interface ServedPort {
  readonly port: number
  /** From appProtocol or the port name prefix (Istio's protocol selection); UNKNOWN = undeclared. */
  readonly protocol: PortProtocol
  /** HTTP routes for requests to this service port, first match wins; none match → 404 (Envoy NR). */
  readonly routes: readonly HttpRoute[]
  /** Where non-HTTP (TCP) traffic on this port goes. */
  readonly tcpCluster: string
  /** Which config the routes came from: `VirtualService/ns/name`, `HTTPRoute/ns/name`, or `default`. */
  readonly routeSource: readonly string[]
}

export interface ServedWorkload {
  readonly uid: string
  readonly name: string
  readonly namespace: string
  readonly addresses: readonly string[]
  readonly identity: string
  /** HBONE port of the workload (15008). */
  readonly hbonePort: number
}

export interface HttpRoute {
  /** The VirtualService http route name, HTTPRoute rule name, or `<source>#<index>`. */
  readonly name: string
  /** Any one matches; an empty list matches every request. */
  readonly matches: readonly HttpMatch[]
  readonly action: RouteAction
  /** Request timeout for the whole route, retries included; null = none. */
  readonly timeoutMs: number | null
  readonly retries: RetryPolicy
  readonly fault: FaultInjection | null
  readonly mirrors: readonly Mirror[]
  readonly rewrite: Rewrite | null
  readonly headers: HeaderOperations
}

export type RouteAction =
  | { readonly kind: 'forward'; readonly destinations: readonly WeightedDestination[] }
  | { readonly kind: 'redirect'; readonly redirect: Redirect }
  | { readonly kind: 'directResponse'; readonly status: number; readonly body: string | null }

export interface WeightedDestination {
  /** Name of an UpstreamCluster in `clusters`. */
  readonly cluster: string
  readonly hostname: string
  readonly port: number
  readonly subset: string | null
  /** Integer weight; weights of a route sum to 100 for VirtualServices (any positive sum for HTTPRoutes). */
  readonly weight: number
  readonly headers: HeaderOperations
}

export type StringMatch =
  | { readonly kind: 'exact'; readonly value: string }
  | { readonly kind: 'prefix'; readonly value: string }
  /** Whole-string match, RE2 syntax as Istio (the waypoint maps it onto JavaScript RegExp). */
  | { readonly kind: 'regex'; readonly value: string }
  /** Gateway API PathPrefix: `/foo` matches `/foo` and `/foo/bar`, not `/foobar` (Envoy path_separated_prefix). */
  | { readonly kind: 'pathSeparatedPrefix'; readonly value: string }

export interface NamedMatch {
  /** Lower-cased header name, or query parameter name. */
  readonly name: string
  readonly match: StringMatch
}

export interface HttpMatch {
  readonly path: StringMatch | null
  readonly ignoreUriCase: boolean
  readonly method: StringMatch | null
  readonly scheme: StringMatch | null
  readonly authority: StringMatch | null
  readonly headers: readonly NamedMatch[]
  /** Headers that must NOT match (Istio withoutHeaders). */
  readonly withoutHeaders: readonly NamedMatch[]
  readonly queryParams: readonly NamedMatch[]
}

export interface HeaderOps {
  readonly set: readonly NameValue[]
  readonly add: readonly NameValue[]
  readonly remove: readonly string[]
}

export interface NameValue {
  readonly name: string
  readonly value: string
}

export interface HeaderOperations {
  readonly request: HeaderOps
  readonly response: HeaderOps
}

export interface RetryPolicy {
  /** Retries after the first try; 0 = no retries. */
  readonly attempts: number
  /** null = each try may use the rest of the route timeout. */
  readonly perTryTimeoutMs: number | null
  /**
   * Envoy retry conditions: `connect-failure`, `refused-stream`, `unavailable`, `cancelled`, `5xx`,
   * `gateway-error`, `reset`, `retriable-4xx`, `retriable-status-codes`...
   */
  readonly retryOn: readonly string[]
  /** Status codes that are retried (numbers in Istio's retryOn, e.g. 503). */
  readonly retriableStatusCodes: readonly number[]
}

export interface FaultInjection {
  readonly delay: { readonly fixedDelayMs: number; readonly percentage: number } | null
  /** httpStatus for HTTP; grpcStatus (a gRPC status name) for gRPC; one of the two is set. */
  readonly abort: { readonly httpStatus: number | null; readonly grpcStatus: string | null; readonly percentage: number } | null
}

export interface Mirror {
  readonly cluster: string
  readonly hostname: string
  readonly port: number
  readonly subset: string | null
  /** 0-100. Mirrored requests carry `-shadow` appended to the Host/authority; replies are dropped. */
  readonly percentage: number
}

export interface Rewrite {
  /** Replaces the matched path prefix (or the whole path for exact/regex matches). */
  readonly uriPrefix: string | null
  /** Replaces the whole path (Gateway API ReplaceFullPath). */
  readonly fullPath: string | null
  readonly uriRegex: { readonly match: string; readonly rewrite: string } | null
  readonly authority: string | null
}

export interface Redirect {
  readonly scheme: string | null
  readonly authority: string | null
  readonly port: number | null
  readonly path: string | null
  /** Gateway API ReplacePrefixMatch. */
  readonly pathPrefix: string | null
  readonly statusCode: number
}

/** One upstream: a Service port, optionally narrowed to a subset, or one served workload. */
export interface UpstreamCluster {
  /** Envoy's spelling: `outbound|<port>|<subset>|<hostname>` (subset empty when none). */
  readonly name: string
  readonly hostname: string
  readonly namespace: string
  readonly port: number
  readonly subset: string | null
  /** The subset's labels (empty without a subset): endpoints below are already filtered by them. */
  readonly subsetLabels: Readonly<Record<string, string>>
  /** `DestinationRule/ns/name` whose policy applies, or null. */
  readonly destinationRule: string | null
  readonly trafficPolicy: ResolvedTrafficPolicy
  /** Sorted by uid. Empty → the waypoint answers 503 `no healthy upstream`. */
  readonly endpoints: readonly Endpoint[]
}

export interface Endpoint {
  readonly uid: string
  readonly name: string
  readonly namespace: string
  readonly address: string
  /** The port to put in `:authority <address>:<targetPort>` of the HBONE CONNECT. */
  readonly targetPort: number
  /** Expected server identity of the HBONE connection. */
  readonly identity: string
  readonly hbonePort: number
  /** HBONE for ambient pods; NONE → plain TCP to address:targetPort. */
  readonly tunnelProtocol: 'HBONE' | 'NONE'
  readonly healthy: boolean
  readonly weight: number
  readonly node: string
  /** The endpoint's workload labels for telemetry (destination_workload, canonical service…); absent in older configs. */
  readonly metadata?: WorkloadMetadata
}

/**
 * What telemetry names a workload by (Istio's destination_/source_ workload labels): the workload
 * (a Deployment's name, or the bare pod's), its canonical service and revision (which also stand in
 * for app and version, as in ztunnel's reports), and its cluster.
 */
export interface WorkloadMetadata {
  readonly workloadName: string
  readonly canonicalName: string
  readonly canonicalRevision: string
  readonly clusterId: string
}

/**
 * Istio's connection pool where no DestinationRule sets one: every limit off (2^32−1), unlimited
 * requests per connection; the connect and idle timeouts are the caller's.
 */
export function unlimitedConnectionPool(connectTimeoutMs: number, idleTimeoutMs: number | null): ResolvedTrafficPolicy['connectionPool'] {
  const unlimited = 2 ** 32 - 1
  return {
    maxConnections: unlimited,
    connectTimeoutMs,
    http1MaxPendingRequests: unlimited,
    http2MaxRequests: unlimited,
    maxRequestsPerConnection: 0,
    maxRetries: unlimited,
    idleTimeoutMs,
  }
}

export interface ResolvedTrafficPolicy {
  readonly loadBalancer: 'ROUND_ROBIN' | 'RANDOM' | 'LEAST_REQUEST' | 'PASSTHROUGH'
  readonly connectionPool: {
    readonly maxConnections: number
    readonly connectTimeoutMs: number
    readonly http1MaxPendingRequests: number
    readonly http2MaxRequests: number
    /** 0 = unlimited. */
    readonly maxRequestsPerConnection: number
    readonly maxRetries: number
    /** Istio's default is 1 h; null = none. */
    readonly idleTimeoutMs: number | null
  }
  /** null = no outlier detection (none configured). */
  readonly outlierDetection: {
    readonly consecutive5xxErrors: number
    readonly consecutiveGatewayErrors: number
    readonly intervalMs: number
    readonly baseEjectionTimeMs: number
    readonly maxEjectionPercent: number
  } | null
}

/** An AuthorizationPolicy as a waypoint evaluates it: Istio's L7 semantics, values normalised. */
export interface L7AuthorizationPolicy {
  readonly name: string
  readonly namespace: string
  readonly action: 'ALLOW' | 'DENY' | 'AUDIT' | 'CUSTOM'
  /** CUSTOM's extension provider; null otherwise. */
  readonly provider: string | null
  readonly dryRun: boolean
  /** `spec: {}` = [] (ALLOW nothing); `rules: [{}]` = one empty rule (match everything). */
  readonly rules: readonly L7Rule[]
}

export interface L7Rule {
  /** Any source matches (empty = any). Values in Istio's string forms (`*`, `x*`, `*x`). */
  readonly from: readonly L7Source[]
  readonly to: readonly L7Operation[]
  readonly when: readonly L7Condition[]
}

export interface L7Source {
  readonly principals: readonly string[]
  readonly notPrincipals: readonly string[]
  readonly requestPrincipals: readonly string[]
  readonly notRequestPrincipals: readonly string[]
  readonly namespaces: readonly string[]
  readonly notNamespaces: readonly string[]
  readonly ipBlocks: readonly string[]
  readonly notIpBlocks: readonly string[]
  readonly remoteIpBlocks: readonly string[]
  readonly notRemoteIpBlocks: readonly string[]
  /** `namespace/serviceAccount`, expanded from the policy's namespace when written bare. */
  readonly serviceAccounts: readonly string[]
  readonly notServiceAccounts: readonly string[]
}

export interface L7Operation {
  readonly hosts: readonly string[]
  readonly notHosts: readonly string[]
  readonly ports: readonly number[]
  readonly notPorts: readonly number[]
  readonly methods: readonly string[]
  readonly notMethods: readonly string[]
  readonly paths: readonly string[]
  readonly notPaths: readonly string[]
}

export interface L7Condition {
  readonly key: string
  readonly values: readonly string[]
  readonly notValues: readonly string[]
}
