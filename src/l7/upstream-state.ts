// Per-cluster live state the data path keeps between requests, one runtime per upstream cluster:
// the engines' instances (engines/circuit-breaker, engines/outlier-detection, engines/load-balancer)
// and the active-request count per endpoint that LEAST_REQUEST reads. The decisions are the
// engines'; this file owns their lifetime and feeds them results.
//
// A runtime is rebuilt when its cluster's trafficPolicy changes (a new DestinationRule): breaker
// counters restart for new requests, while in-flight ones release into the breaker they were counted
// in (they hold it). Ejections restart too: Envoy rebuilds a cluster whose outlier settings change.
import type { Endpoint, UpstreamCluster } from '../mesh/waypoint-config.js'
import type { Logger } from '../observability/logger.js'
import type { CircuitBreaker } from './engines/circuit-breaker.js'
import { createCircuitBreaker } from './engines/circuit-breaker.js'
import type { LbPick, LoadBalancer, PickOptions } from './engines/load-balancer.js'
import { createLoadBalancer } from './engines/load-balancer.js'
import type { EndpointResult, OutlierDetector, OutlierEvent } from './engines/outlier-detection.js'
import { createOutlierDetector } from './engines/outlier-detection.js'
import type { Random } from '../random.js'

export type { EndpointResult }

export interface ClusterRuntime {
  readonly name: string
  readonly breaker: CircuitBreaker
  readonly balancer: LoadBalancer
  readonly outlier: OutlierDetector | null
  /** Requests in flight per endpoint uid. */
  readonly active: Map<string, number>
}

export interface UpstreamState {
  /** The runtime for the cluster as configured now. */
  runtime(cluster: UpstreamCluster): ClusterRuntime
  /** Healthy endpoints not ejected by outlier detection. */
  candidates(cluster: UpstreamCluster): readonly Endpoint[]
  /** The load balancer's pick among the candidates; `exclude`: endpoints this request already tried. */
  pick(cluster: UpstreamCluster, exclude?: ReadonlySet<string>): LbPick
  /** A try started on `endpoint`; the returned function ends it with its result (once). */
  begin(cluster: UpstreamCluster, endpoint: Endpoint): (result: EndpointResult | null) => void
  /** uids of the cluster's ejected endpoints. */
  ejected(cluster: string): string[]
}

export function createUpstreamState(options: { now: () => number; random: Random; logger: Logger }): UpstreamState {
  const runtimes = new Map<string, { policy: string; runtime: ClusterRuntime }>()
  // The policy's text per policy object (config objects are never changed in place): runtime() runs
  // several times per request, and stringifying the policy each time was ~4 % of the waypoint's
  // allocations under load.
  const policyText = new WeakMap<UpstreamCluster['trafficPolicy'], string>()
  const log = options.logger

  const runtime = (cluster: UpstreamCluster): ClusterRuntime => {
    let policy = policyText.get(cluster.trafficPolicy)
    if (policy === undefined) {
      policy = JSON.stringify(cluster.trafficPolicy)
      policyText.set(cluster.trafficPolicy, policy)
    }
    const existing = runtimes.get(cluster.name)
    if (existing !== undefined && existing.policy === policy) return existing.runtime
    const tp = cluster.trafficPolicy
    const created: ClusterRuntime = {
      name: cluster.name,
      breaker: createCircuitBreaker(tp.connectionPool),
      balancer: createLoadBalancer(tp.loadBalancer, options.random),
      outlier: tp.outlierDetection === null ? null : createOutlierDetector(tp.outlierDetection, options.now),
      active: existing?.runtime.active ?? new Map(),
    }
    runtimes.set(cluster.name, { policy, runtime: created })
    return created
  }

  const report = (cluster: string, event: OutlierEvent | null): void => {
    if (event === null) return
    const fields = { cluster, endpoint: event.uid }
    switch (event.kind) {
      case 'ejected':
        log.info(
          {
            event: 'outlier_ejected',
            ...fields,
            until: new Date(event.untilMs).toISOString(),
            ejections: event.ejections,
            reason: event.reason,
          },
          'endpoint ejected',
        )
        return
      case 'ejection-refused':
        log.warn({ event: 'outlier_ejection_refused', ...fields, reason: event.reason }, 'endpoint not ejected: maxEjectionPercent')
        return
      case 'returned':
        log.info({ event: 'outlier_returned', ...fields }, 'endpoint back in service')
    }
  }

  // The load balancer's view of each runtime's requests in flight: one function (and one options
  // object for a pick with nothing excluded) per runtime.
  const activeOf = new WeakMap<ClusterRuntime, PickOptions>()
  // Without outlier detection the healthy endpoints are the config's: one list per endpoints array
  // (never changed in place), not a filtered copy per request.
  const healthyOf = new WeakMap<readonly Endpoint[], Endpoint[]>()
  const candidates = (cluster: UpstreamCluster): readonly Endpoint[] => {
    const rt = runtime(cluster)
    if (rt.outlier === null) {
      let healthy = healthyOf.get(cluster.endpoints)
      if (healthy === undefined) healthyOf.set(cluster.endpoints, (healthy = cluster.endpoints.filter((e) => e.healthy)))
      return healthy
    }
    for (const ev of rt.outlier.advance()) report(cluster.name, ev)
    return rt.outlier.healthyEndpoints(cluster.endpoints)
  }

  return {
    runtime,
    candidates,
    pick(cluster, exclude) {
      const rt = runtime(cluster)
      let options = activeOf.get(rt)
      if (options === undefined) activeOf.set(rt, (options = Object.freeze({ activeRequests: (uid: string) => rt.active.get(uid) ?? 0 })))
      const healthy = candidates(cluster)
      if (exclude === undefined || exclude.size === 0) return rt.balancer.pick(healthy, options)
      return rt.balancer.pick(healthy, { activeRequests: options.activeRequests!, exclude })
    },
    begin(cluster, endpoint) {
      const rt = runtime(cluster)
      rt.active.set(endpoint.uid, (rt.active.get(endpoint.uid) ?? 0) + 1)
      let ended = false
      return (result) => {
        if (ended) return
        ended = true
        const left = (rt.active.get(endpoint.uid) ?? 1) - 1
        if (left <= 0) rt.active.delete(endpoint.uid)
        else rt.active.set(endpoint.uid, left)
        // null: the try never reached the endpoint (refused by the breaker, or abandoned).
        if (result !== null && rt.outlier !== null) report(cluster.name, rt.outlier.record(endpoint.uid, result))
      }
    },
    ejected(name) {
      const rt = runtimes.get(name)?.runtime
      return (
        rt?.outlier
          ?.states()
          .filter((s) => s.ejected)
          .map((s) => s.uid) ?? []
      )
    },
  }
}
