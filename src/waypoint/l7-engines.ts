// The L7 decisions the data path asks for, in one place: each one delegates to the pure engine in
// ./engines when it exists. Those still being written have a minimal stand-in here, marked
// STAND-IN, so the data path can run and be tested now; each is replaced by its engine as it lands.
import type { SpiffeId } from '../identity/spiffe-id.js'
import type {
  Endpoint, FaultInjection, L7AuthorizationPolicy, Mirror, UpstreamCluster,
} from '../mesh/waypoint-config.js'
import type { Random } from './engines/random.js'
import { chance, randomIndex } from './engines/random.js'
import { matchString } from './engines/string-match.js'
import { stripQuery } from './engines/route-match.js'

export { matchRoute } from './engines/route-match.js'
export { pickWeighted } from './engines/weighted-pick.js'
export { mutateRequest, mutateResponseHeaders } from './engines/request-mutation.js'
export { decideRetry, planTimeouts, retryPolicyFor } from './engines/retry-policy.js'
export type { AttemptOutcome } from './engines/retry-policy.js'
export type { WeightedPick } from './engines/weighted-pick.js'
export type { RequestHead, RouteDecision } from './engines/route-match.js'

/** What L7 authorization reads of a request. */
export interface AuthzRequest {
  readonly principal: SpiffeId | undefined
  readonly sourceIp: string
  readonly method: string
  readonly path: string
  readonly host: string
  readonly port: number
  readonly headers: Readonly<Record<string, string | readonly string[] | undefined>>
  /**
   * A TCP flow (no HTTP attributes): as Istio builds network RBAC, an ALLOW rule that needs an HTTP
   * field never matches, and a DENY rule's HTTP fields are ignored (both fail closed).
   */
  readonly l4Only?: boolean
}

export interface AuthzDecision {
  readonly allowed: boolean
  readonly reason: string
}

// STAND-IN for engines/l7-authz: Istio's order (DENY, then ALLOW), principals/namespaces/service
// accounts, methods/paths/hosts/ports, `when` on request.headers and source.principal/namespace.
export function authorize(policies: readonly L7AuthorizationPolicy[], req: AuthzRequest): AuthzDecision {
  const enforced = policies.filter((p) => !p.dryRun && (p.action === 'ALLOW' || p.action === 'DENY'))
  for (const p of enforced) if (p.action === 'DENY' && p.rules.some((r) => ruleMatches(r, req, 'ignore'))) return { allowed: false, reason: `explicitly denied by: ${p.namespace}/${p.name}` }
  const allows = enforced.filter((p) => p.action === 'ALLOW')
  if (allows.length === 0) return { allowed: true, reason: 'no ALLOW policy' }
  const hit = allows.find((p) => p.rules.some((r) => ruleMatches(r, req, 'fail')))
  return hit ? { allowed: true, reason: `allowed by ${hit.namespace}/${hit.name}` } : { allowed: false, reason: 'allow policies exist, but none allowed' }
}

function istioString(pattern: string, value: string | undefined): boolean {
  if (value === undefined) return false
  if (pattern === '*') return true
  if (pattern.startsWith('*')) return value.endsWith(pattern.slice(1))
  if (pattern.endsWith('*')) return value.startsWith(pattern.slice(0, -1))
  return value === pattern
}

function list(pos: readonly string[], neg: readonly string[], value: string | undefined): boolean {
  if (pos.length > 0 && !pos.some((p) => istioString(p, value))) return false
  if (neg.length > 0 && value !== undefined && neg.some((p) => istioString(p, value))) return false
  return true
}

function ruleMatches(rule: L7AuthorizationPolicy['rules'][number], req: AuthzRequest, httpFields: 'ignore' | 'fail'): boolean {
  if (req.l4Only === true) {
    const usesHttp = rule.to.some((o) => o.methods.length + o.notMethods.length + o.paths.length + o.notPaths.length + o.hosts.length + o.notHosts.length > 0) ||
      rule.when.some((c) => c.key.startsWith('request.')) || rule.from.some((s) => s.requestPrincipals.length + s.notRequestPrincipals.length > 0)
    if (usesHttp && httpFields === 'fail') return false
    if (usesHttp) return ruleMatches({ from: rule.from, to: rule.to.map((o) => ({ ...o, methods: [], notMethods: [], paths: [], notPaths: [], hosts: [], notHosts: [] })), when: rule.when.filter((c) => !c.key.startsWith('request.')) }, { ...req, l4Only: false }, httpFields)
  }
  const principal = req.principal?.principal
  const namespace = req.principal?.namespace
  const sa = req.principal === undefined ? undefined : `${req.principal.namespace}/${req.principal.serviceAccount}`
  const fromOk = rule.from.length === 0 || rule.from.some((s) =>
    list(s.principals, s.notPrincipals, principal) && list(s.namespaces, s.notNamespaces, namespace) && list(s.serviceAccounts, s.notServiceAccounts, sa))
  const path = stripQuery(req.path)
  const toOk = rule.to.length === 0 || rule.to.some((o) =>
    list(o.methods, o.notMethods, req.method) && list(o.paths, o.notPaths, path) && list(o.hosts, o.notHosts, req.host) &&
    list(o.ports.map(String), o.notPorts.map(String), String(req.port)))
  const whenOk = rule.when.every((c) => {
    const header = /^request\.headers\[(.+)\]$/.exec(c.key)
    const raw = header ? req.headers[header[1]!.toLowerCase()] : c.key === 'source.principal' ? principal : c.key === 'source.namespace' ? namespace : undefined
    const value = Array.isArray(raw) ? raw.join(',') : (raw as string | undefined)
    return list(c.values, c.notValues, value)
  })
  return fromOk && toOk && whenOk
}

export interface FaultDecision {
  readonly delayMs: number | null
  readonly abort: { readonly httpStatus: number; readonly grpcStatus: number | null } | null
}

const GRPC_CODES: Readonly<Record<string, number>> = {
  OK: 0, CANCELLED: 1, UNKNOWN: 2, INVALID_ARGUMENT: 3, DEADLINE_EXCEEDED: 4, NOT_FOUND: 5, ALREADY_EXISTS: 6, PERMISSION_DENIED: 7,
  RESOURCE_EXHAUSTED: 8, FAILED_PRECONDITION: 9, ABORTED: 10, OUT_OF_RANGE: 11, UNIMPLEMENTED: 12, INTERNAL: 13, UNAVAILABLE: 14,
  DATA_LOSS: 15, UNAUTHENTICATED: 16,
}

// STAND-IN for engines/fault.
export function decideFault(fault: FaultInjection | null, random: Random): FaultDecision {
  if (fault === null) return { delayMs: null, abort: null }
  const delayMs = fault.delay !== null && chance(random, fault.delay.percentage) ? fault.delay.fixedDelayMs : null
  let abort: FaultDecision['abort'] = null
  if (fault.abort !== null && chance(random, fault.abort.percentage)) {
    abort = fault.abort.grpcStatus !== null
      ? { httpStatus: 200, grpcStatus: GRPC_CODES[fault.abort.grpcStatus] ?? 2 }
      : { httpStatus: fault.abort.httpStatus ?? 503, grpcStatus: null }
  }
  return { delayMs, abort }
}

// STAND-IN for engines/mirror.
export function mirrorsToSend(mirrors: readonly Mirror[], random: Random): Mirror[] {
  return mirrors.filter((m) => chance(random, m.percentage))
}

/** `host:port` → `host-shadow:port` (Envoy's request_mirror_policies). */
export function shadowAuthority(authority: string): string {
  const m = /^(.*?)(:\d+)?$/.exec(authority)
  return `${m?.[1] ?? authority}-shadow${m?.[2] ?? ''}`
}

/** Which attempts count as upstream errors for outlier detection. */
export type EndpointResult = { readonly kind: 'status'; readonly status: number } | { readonly kind: 'connect-failure' | 'reset' | 'timeout' }

// STAND-IN for engines/circuit-breaker and engines/outlier-detection and engines/load-balancer:
// per-cluster counters kept by the data path (see upstream-state.ts).
export interface ClusterEndpoints {
  readonly cluster: UpstreamCluster
  readonly candidates: readonly Endpoint[]
}

export function pickEndpoint(candidates: readonly Endpoint[], policy: UpstreamCluster['trafficPolicy']['loadBalancer'], state: { roundRobin: number; active: (uid: string) => number }, random: Random): Endpoint | undefined {
  if (candidates.length === 0) return undefined
  switch (policy) {
    case 'ROUND_ROBIN':
      return candidates[state.roundRobin++ % candidates.length]
    case 'LEAST_REQUEST': {
      const a = candidates[randomIndex(random, candidates.length)]!
      const b = candidates[randomIndex(random, candidates.length)]!
      return state.active(a.uid) <= state.active(b.uid) ? a : b
    }
    case 'RANDOM':
    case 'PASSTHROUGH':
      return candidates[randomIndex(random, candidates.length)]
  }
}

export { matchString }

