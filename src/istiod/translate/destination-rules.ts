// DestinationRule → the traffic policy of one upstream (hostname, port, subset), with every Istio
// default filled in so the waypoint holds none of its own. Lookup follows Istio's order for a
// client proxy (here the waypoint): a rule in the client's namespace, then in the Service's
// namespace, then in the root namespace; within one, an exact host beats a wildcard and a longer
// wildcard a shorter one; ties go to the first by name. Merging follows Istio's
// MergeTrafficPolicy: top level, then its portLevelSettings for the port, then the subset's policy,
// then the subset's portLevelSettings; each layer replaces whole sections (loadBalancer,
// connectionPool, outlierDetection), it does not merge their fields.
import type { DestinationRule, Subset, TrafficPolicy } from '../resources/model.js'
import { hostMatches, hostSpecificity, resolveHost } from './hosts.js'
import { cmp } from './messages.js'
import type { ResolvedTrafficPolicy } from '../../mesh/waypoint-config.js'

/** Envoy's "no limit" as Istio writes it into clusters (2^32 - 1). */
export const UNLIMITED = 4294967295

/** Istio's defaults (networking/v1 DestinationRule reference; Envoy cluster defaults istiod sets). */
export const DEFAULT_CONNECT_TIMEOUT_MS = 10_000
const DEFAULT_IDLE_TIMEOUT_MS = 3_600_000
const OUTLIER_DEFAULTS = {
  consecutive5xxErrors: 5,
  consecutiveGatewayErrors: 0,
  intervalMs: 10_000,
  baseEjectionTimeMs: 30_000,
  maxEjectionPercent: 10,
}

export interface DestinationRuleIndex {
  /** The rule that applies to `hostname` for a client in `clientNamespace`, if any. */
  find(hostname: string, serviceNamespace: string, clientNamespace: string): DestinationRule | undefined
}

export function indexDestinationRules(rules: readonly DestinationRule[], rootNamespace: string): DestinationRuleIndex {
  const resolved = rules.map((dr) => ({ dr, host: resolveHost(dr.spec.host, dr.metadata.namespace) }))
  return {
    find(hostname, serviceNamespace, clientNamespace) {
      for (const ns of [clientNamespace, serviceNamespace, rootNamespace]) {
        const candidates = resolved
          .filter((r) => r.dr.metadata.namespace === ns && visibleTo(r.dr, clientNamespace) && hostMatches(r.host, hostname))
          .sort((a, b) => hostSpecificity(b.host) - hostSpecificity(a.host) || cmp(a.dr.metadata.name, b.dr.metadata.name))
        if (candidates[0] !== undefined) return candidates[0].dr
      }
      return undefined
    },
  }
}

/** exportTo: empty or `*` = everywhere, `.` = its own namespace, else the namespaces listed. */
export function visibleTo(
  obj: { readonly metadata: { readonly namespace: string }; readonly spec: { readonly exportTo: readonly string[] } },
  clientNamespace: string,
): boolean {
  const to = obj.spec.exportTo
  if (to.length === 0 || to.includes('*')) return true
  return to.some((e) => e === clientNamespace || (e === '.' && obj.metadata.namespace === clientNamespace))
}

export function findSubset(dr: DestinationRule | undefined, name: string): Subset | undefined {
  return dr?.spec.subsets.find((s) => s.name === name)
}

type Layer = Omit<TrafficPolicy, 'portLevelSettings'>

function layers(policy: TrafficPolicy | undefined, port: number): Layer[] {
  if (policy === undefined) return []
  const portLevel = policy.portLevelSettings.find((p) => p.port === port)
  return portLevel === undefined ? [policy] : [policy, portLevel]
}

export function resolveTrafficPolicy(dr: DestinationRule | undefined, port: number, subset: Subset | undefined): ResolvedTrafficPolicy {
  let lb: Layer['loadBalancer']
  let pool: Layer['connectionPool']
  let outlier: Layer['outlierDetection']
  for (const layer of [...layers(dr?.spec.trafficPolicy, port), ...layers(subset?.trafficPolicy, port)]) {
    if (layer.loadBalancer !== undefined) lb = layer.loadBalancer
    if (layer.connectionPool !== undefined) pool = layer.connectionPool
    if (layer.outlierDetection !== undefined) outlier = layer.outlierDetection
  }
  const simple = lb?.simple
  return {
    // Istio's default balancer is LEAST_REQUEST (since 1.14); UNSPECIFIED means "Istio picks".
    loadBalancer: simple === undefined || simple === 'UNSPECIFIED' ? 'LEAST_REQUEST' : simple,
    connectionPool: {
      maxConnections: pool?.tcp?.maxConnections ?? UNLIMITED,
      connectTimeoutMs: pool?.tcp?.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS,
      http1MaxPendingRequests: pool?.http?.http1MaxPendingRequests ?? UNLIMITED,
      http2MaxRequests: pool?.http?.http2MaxRequests ?? UNLIMITED,
      maxRequestsPerConnection: pool?.http?.maxRequestsPerConnection ?? 0,
      maxRetries: pool?.http?.maxRetries ?? UNLIMITED,
      idleTimeoutMs: pool?.http?.idleTimeoutMs ?? DEFAULT_IDLE_TIMEOUT_MS,
    },
    outlierDetection:
      outlier === undefined
        ? null
        : {
            consecutive5xxErrors: outlier.consecutive5xxErrors ?? OUTLIER_DEFAULTS.consecutive5xxErrors,
            consecutiveGatewayErrors: outlier.consecutiveGatewayErrors ?? OUTLIER_DEFAULTS.consecutiveGatewayErrors,
            intervalMs: outlier.intervalMs ?? OUTLIER_DEFAULTS.intervalMs,
            baseEjectionTimeMs: outlier.baseEjectionTimeMs ?? OUTLIER_DEFAULTS.baseEjectionTimeMs,
            maxEjectionPercent: outlier.maxEjectionPercent ?? OUTLIER_DEFAULTS.maxEjectionPercent,
          },
  }
}
