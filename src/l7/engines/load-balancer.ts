// Picks the endpoint of a cluster for one try, over the endpoints that are HEALTHY and not ejected
// (outlier-detection.ts `healthyEndpoints`). One balancer per cluster: round robin keeps state.
//
// Policies (Istio DestinationRule loadBalancer.simple → Envoy lb_policy):
//  - ROUND_ROBIN: equal weights rotate in order from a random start (Envoy randomises the start so
//    that many proxies do not hit the same first endpoint); unequal weights use smooth weighted
//    round robin, which gives each endpoint its weight's share in an even interleaving (Envoy uses
//    an EDF scheduler for the same shares).
//  - RANDOM: a weighted random choice. Envoy's RANDOM ignores weights; we honour them so an
//    endpoint's weight (ambient capacity) means the same under every policy.
//  - LEAST_REQUEST (Istio's default): with equal weights, Envoy's power of two choices: two
//    independent random draws (possibly the same endpoint), the one with fewer active requests
//    wins, the first on a tie. With unequal weights Envoy schedules by weight / (active + 1)
//    (active_request_bias 1); we draw at random with those effective weights.
//  - PASSTHROUGH (ORIGINAL_DST) has no meaning for a waypoint's service cluster: treated as RANDOM.
// Weights below 1 count as 1 (Envoy's minimum load_balancing_weight).
// `exclude` carries Istio's retry host predicate (previous_hosts): excluded endpoints are avoided
// while another is available, else reused rather than failing the retry.
import type { Endpoint, ResolvedTrafficPolicy } from '../../mesh/waypoint-config.js'
import { randomIndex, type Random } from '../../random.js'
import type { LocalReply } from './local-reply.js'

export type LbPolicy = ResolvedTrafficPolicy['loadBalancer']

export const NO_HEALTHY_UPSTREAM_REPLY: LocalReply = Object.freeze({ status: 503, body: 'no healthy upstream', responseFlag: 'UH' })

export type LbPick =
  { readonly kind: 'picked'; readonly endpoint: Endpoint } | { readonly kind: 'noHealthyUpstream'; readonly reply: LocalReply }

export interface PickOptions {
  /** Active requests per endpoint uid (LEAST_REQUEST); 0 when absent. */
  readonly activeRequests?: (uid: string) => number
  /** Endpoints already tried by this request. */
  readonly exclude?: ReadonlySet<string>
}

export interface LoadBalancer {
  readonly policy: LbPolicy
  pick(healthy: readonly Endpoint[], options?: PickOptions): LbPick
}

export function createLoadBalancer(policy: LbPolicy, random: Random): LoadBalancer {
  let rrIndex: number | null = null
  const smooth = new Map<string, number>()

  const roundRobin = (eps: readonly Endpoint[]): Endpoint => {
    if (equalWeights(eps)) {
      rrIndex = rrIndex === null ? randomIndex(random, eps.length) : rrIndex + 1
      return eps[rrIndex % eps.length]!
    }
    // Smooth weighted round robin: add each weight to its running score, pick the highest,
    // subtract the total from the winner.
    let total = 0
    let best: Endpoint | undefined
    let bestScore = -Infinity
    for (const e of eps) {
      const w = weight(e)
      total += w
      const score = (smooth.get(e.uid) ?? 0) + w
      smooth.set(e.uid, score)
      if (score > bestScore) {
        bestScore = score
        best = e
      }
    }
    smooth.set(best!.uid, bestScore - total)
    return best!
  }

  const leastRequest = (eps: readonly Endpoint[], active: (uid: string) => number): Endpoint => {
    if (equalWeights(eps)) {
      const a = eps[randomIndex(random, eps.length)]!
      const b = eps[randomIndex(random, eps.length)]!
      return active(b.uid) < active(a.uid) ? b : a
    }
    return weightedRandom(eps, (e) => weight(e) / (active(e.uid) + 1), random)
  }

  return {
    policy,
    pick(healthy, options = NO_OPTIONS) {
      // The callers' lists are usually all healthy and nothing is excluded yet: no copy then.
      const usable = healthy.every(isHealthy) ? healthy : healthy.filter(isHealthy)
      if (usable.length === 0) return { kind: 'noHealthyUpstream', reply: NO_HEALTHY_UPSTREAM_REPLY }
      const exclude = options.exclude
      const fresh = exclude === undefined || exclude.size === 0 ? usable : usable.filter((e) => !exclude.has(e.uid))
      const eps = fresh.length > 0 ? fresh : usable
      const active = options.activeRequests ?? noneActive
      switch (policy) {
        case 'ROUND_ROBIN':
          return { kind: 'picked', endpoint: roundRobin(eps) }
        case 'LEAST_REQUEST':
          return { kind: 'picked', endpoint: leastRequest(eps, active) }
        case 'RANDOM':
        case 'PASSTHROUGH':
          return { kind: 'picked', endpoint: weightedRandom(eps, weight, random) }
      }
    },
  }
}

const NO_OPTIONS: PickOptions = Object.freeze({})
const isHealthy = (e: Endpoint): boolean => e.healthy
const noneActive = (): number => 0

function weight(e: Endpoint): number {
  return Number.isFinite(e.weight) && e.weight >= 1 ? e.weight : 1
}

function equalWeights(eps: readonly Endpoint[]): boolean {
  const w = weight(eps[0]!)
  for (let i = 1; i < eps.length; i++) if (weight(eps[i]!) !== w) return false
  return true
}

function weightedRandom(eps: readonly Endpoint[], w: (e: Endpoint) => number, random: Random): Endpoint {
  const total = eps.reduce((s, e) => s + w(e), 0)
  let point = random() * total
  for (const e of eps) {
    point -= w(e)
    if (point < 0) return e
  }
  return eps[eps.length - 1]!
}
