// Builders for waypoint config pieces in engine tests: every field filled with the neutral value
// istiod would send, overridable per test.
import type {
  Endpoint,
  HeaderOperations,
  HttpMatch,
  HttpRoute,
  L7AuthorizationPolicy,
  L7Operation,
  L7Rule,
  L7Source,
  ResolvedTrafficPolicy,
  RetryPolicy,
  StringMatch,
  WeightedDestination,
} from '../../src/mesh/waypoint-config.js'
import { unlimitedConnectionPool, WAYPOINT_CONFIG_API_VERSION } from '../../src/mesh/waypoint-config.js'

export const NO_HEADERS: HeaderOperations = { request: { set: [], add: [], remove: [] }, response: { set: [], add: [], remove: [] } }

/** Istio's default waypoint retries, as istiod sends them. */
export const DEFAULT_RETRIES: RetryPolicy = {
  attempts: 2,
  perTryTimeoutMs: null,
  retryOn: ['connect-failure', 'refused-stream', 'unavailable', 'cancelled', 'retriable-status-codes'],
  retriableStatusCodes: [503],
}

export const exact = (value: string): StringMatch => ({ kind: 'exact', value })
export const prefix = (value: string): StringMatch => ({ kind: 'prefix', value })
export const regex = (value: string): StringMatch => ({ kind: 'regex', value })
export const segPrefix = (value: string): StringMatch => ({ kind: 'pathSeparatedPrefix', value })

export function match(m: Partial<HttpMatch> = {}): HttpMatch {
  return {
    path: null,
    ignoreUriCase: false,
    method: null,
    scheme: null,
    authority: null,
    headers: [],
    withoutHeaders: [],
    queryParams: [],
    ...m,
  }
}

export function destination(cluster: string, weight = 100, d: Partial<WeightedDestination> = {}): WeightedDestination {
  return { cluster, hostname: cluster, port: 80, subset: null, weight, headers: NO_HEADERS, ...d }
}

export function route(name: string, matches: HttpMatch[], r: Partial<HttpRoute> = {}): HttpRoute {
  return {
    name,
    matches,
    action: { kind: 'forward', destinations: [destination(`outbound|80||${name}`)] },
    timeoutMs: null,
    retries: DEFAULT_RETRIES,
    fault: null,
    mirrors: [],
    rewrite: null,
    headers: NO_HEADERS,
    ...r,
  }
}

export function endpoint(uid: string, e: Partial<Endpoint> = {}): Endpoint {
  return {
    uid,
    name: uid,
    namespace: 'default',
    address: '10.0.0.1',
    targetPort: 8080,
    identity: `spiffe://cluster.local/ns/default/sa/${uid}`,
    hbonePort: 15008,
    tunnelProtocol: 'HBONE',
    healthy: true,
    weight: 1,
    node: 'node-1',
    ...e,
  }
}

export const UNLIMITED = 4294967295

export function pool(p: Partial<ResolvedTrafficPolicy['connectionPool']> = {}): ResolvedTrafficPolicy['connectionPool'] {
  return { ...unlimitedConnectionPool(10_000, 3_600_000), ...p }
}

export function source(s: Partial<L7Source> = {}): L7Source {
  return {
    principals: [],
    notPrincipals: [],
    requestPrincipals: [],
    notRequestPrincipals: [],
    namespaces: [],
    notNamespaces: [],
    ipBlocks: [],
    notIpBlocks: [],
    remoteIpBlocks: [],
    notRemoteIpBlocks: [],
    serviceAccounts: [],
    notServiceAccounts: [],
    ...s,
  }
}

export function operation(o: Partial<L7Operation> = {}): L7Operation {
  return { hosts: [], notHosts: [], ports: [], notPorts: [], methods: [], notMethods: [], paths: [], notPaths: [], ...o }
}

export function rule(r: Partial<L7Rule> = {}): L7Rule {
  return { from: [], to: [], when: [], ...r }
}

export function policy(
  name: string,
  action: L7AuthorizationPolicy['action'],
  rules: L7Rule[],
  p: Partial<L7AuthorizationPolicy> = {},
): L7AuthorizationPolicy {
  return { name, namespace: 'default', action, provider: null, dryRun: false, rules, ...p }
}

export { seeded } from './seeded-random.js'

/** A random source that replays the given values (then repeats the last one). */
export function scripted(...values: number[]): () => number {
  let i = 0
  return () => values[Math.min(i++, values.length - 1)] ?? 0
}

/** The fields every config document has (a waypoint's or a sidecar's), empty: no Services, workloads, clusters or policies. */
export function emptyConfigDoc(name: string, identity: string, waypointFor: string): Record<string, unknown> {
  return {
    apiVersion: WAYPOINT_CONFIG_API_VERSION,
    name,
    namespace: 'default',
    identity,
    trustDomain: 'cluster.local',
    waypointFor,
    hbonePort: 15008,
    services: [],
    workloads: [],
    clusters: [],
    authorization: [],
    defaults: {},
  }
}
