// Per-cluster live state the data path keeps between requests: active requests (circuit breaking),
// consecutive errors and ejections per endpoint (outlier detection), the round-robin cursor.
// Decisions over this state are the engines' (l7-engines.ts); this file only counts.
//
// Circuit breaking follows Envoy's thresholds as Istio sets them: an HTTP/1.1 request needs a
// connection (`maxConnections`) or a pending slot (`http1MaxPendingRequests`); any request needs
// one of `http2MaxRequests` (Envoy's max_requests, all protocols); a retry one of `maxRetries`.
// Over a limit the request is refused at once: 503, flag UO.
import type { Endpoint, UpstreamCluster } from '../mesh/waypoint-config.js'
import type { EndpointResult } from './l7-engines.js'

interface EndpointState {
  active: number
  consecutive5xx: number
  consecutiveGateway: number
  ejections: number
  ejectedUntilMs: number
}

export interface ClusterState {
  roundRobin: number
  active: number
  retries: number
  readonly endpoints: Map<string, EndpointState>
}

export interface UpstreamState {
  /** Reserves a request slot; undefined = overflow (UO). The returned function releases it once. */
  admit(cluster: UpstreamCluster, http1: boolean, retry: boolean): (() => void) | undefined
  /** Healthy endpoints not ejected by outlier detection. */
  candidates(cluster: UpstreamCluster): Endpoint[]
  cluster(name: string): ClusterState
  /** The request started on `endpoint`; the returned function ends it with its result. */
  begin(cluster: UpstreamCluster, endpoint: Endpoint): (result: EndpointResult) => void
  ejected(cluster: string): string[]
}

export function createUpstreamState(now: () => number): UpstreamState {
  const clusters = new Map<string, ClusterState>()
  const clusterState = (name: string): ClusterState => {
    let s = clusters.get(name)
    if (!s) {
      s = { roundRobin: 0, active: 0, retries: 0, endpoints: new Map() }
      clusters.set(name, s)
    }
    return s
  }
  const endpointState = (c: ClusterState, uid: string): EndpointState => {
    let e = c.endpoints.get(uid)
    if (!e) {
      e = { active: 0, consecutive5xx: 0, consecutiveGateway: 0, ejections: 0, ejectedUntilMs: 0 }
      c.endpoints.set(uid, e)
    }
    return e
  }
  const isEjected = (c: ClusterState, uid: string): boolean => (c.endpoints.get(uid)?.ejectedUntilMs ?? 0) > now()

  return {
    cluster: clusterState,
    admit(cluster, http1, retry) {
      const s = clusterState(cluster.name)
      const pool = cluster.trafficPolicy.connectionPool
      if (s.active >= pool.http2MaxRequests) return undefined
      if (http1 && s.active >= pool.maxConnections + pool.http1MaxPendingRequests) return undefined
      if (retry && s.retries >= pool.maxRetries) return undefined
      s.active++
      if (retry) s.retries++
      let released = false
      return () => {
        if (released) return
        released = true
        s.active--
        if (retry) s.retries--
      }
    },
    candidates(cluster) {
      const s = clusterState(cluster.name)
      return cluster.endpoints.filter((e) => e.healthy && !isEjected(s, e.uid))
    },
    begin(cluster, endpoint) {
      const s = clusterState(cluster.name)
      const e = endpointState(s, endpoint.uid)
      e.active++
      let ended = false
      return (result) => {
        if (ended) return
        ended = true
        e.active--
        const od = cluster.trafficPolicy.outlierDetection
        const is5xx = result.kind !== 'status' || result.status >= 500
        const isGateway = result.kind !== 'status' || result.status === 502 || result.status === 503 || result.status === 504
        e.consecutive5xx = is5xx ? e.consecutive5xx + 1 : 0
        e.consecutiveGateway = isGateway ? e.consecutiveGateway + 1 : 0
        if (od === null) return
        const tripped = (od.consecutive5xxErrors > 0 && e.consecutive5xx >= od.consecutive5xxErrors) ||
          (od.consecutiveGatewayErrors > 0 && e.consecutiveGateway >= od.consecutiveGatewayErrors)
        if (!tripped || isEjected(s, endpoint.uid)) return
        // Envoy: eject only while the ejected share is under maxEjectionPercent.
        const ejectedNow = cluster.endpoints.filter((x) => isEjected(s, x.uid)).length
        if (cluster.endpoints.length === 0 || (ejectedNow / cluster.endpoints.length) * 100 >= od.maxEjectionPercent) return
        e.ejections++
        e.ejectedUntilMs = now() + od.baseEjectionTimeMs * e.ejections
        e.consecutive5xx = 0
        e.consecutiveGateway = 0
      }
    },
    ejected(name) {
      const s = clusters.get(name)
      if (!s) return []
      return [...s.endpoints.keys()].filter((uid) => isEjected(s, uid))
    },
  }
}
