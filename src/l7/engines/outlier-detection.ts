// Passive health checking per endpoint (Envoy outlier detection, from a DestinationRule's
// `outlierDetection`), with an injected clock and no timers.
//
// Envoy's algorithm, as modelled (Envoy arch overview "Outlier detection", OutlierDetection proto;
// Istio sets split_external_local_origin_errors=false, no max_ejection_time, panic threshold 0):
//  - Counting: a 5xx response increments `consecutive 5xx`; a 502/503/504 also increments
//    `consecutive gateway errors`, any other 5xx resets that one; a non-5xx response resets both.
//    Locally originated failures count as Envoy maps them: connect failure and reset → 503,
//    timeout → 504. A threshold of 0 disables that detector.
//  - Ejection happens IMMEDIATELY when a counter reaches its threshold (Envoy runs consecutive-error
//    detection inline, not on the interval), then the counters restart from zero.
//  - maxEjectionPercent: an ejection happens only if, with it, at most maxEjectionPercent % of the
//    cluster's endpoints are ejected: `100 × (ejected + 1) / endpoints ≤ maxEjectionPercent`. This
//    is current Envoy without `always_eject_one_host` (older Envoy always ejected at least one). A
//    refused ejection is reported as an event, not silently dropped.
//  - Ejection time = baseEjectionTime × multiplier, where the multiplier grows by one with each
//    ejection and is capped so the time stays within max_ejection_time (Envoy default 300 s, or
//    baseEjectionTime when larger).
//  - Un-ejection and decay run on the INTERVAL timer: at each tick (start + k × interval) an
//    ejected endpoint whose time is up returns (so it may stay out up to one interval longer than
//    its ejection time), and an endpoint that is in service has its multiplier decremented.
//    Ticks are replayed lazily from the clock whenever the detector is consulted.
//  - No panic mode: if every endpoint is ejected or unhealthy, there is no healthy upstream (503 UH).
import type { Endpoint, ResolvedTrafficPolicy } from '../../mesh/waypoint-config.js'

export type OutlierConfig = NonNullable<ResolvedTrafficPolicy['outlierDetection']>

/** How a request to an endpoint ended, as outlier detection sees it. */
export type EndpointResult =
  { readonly kind: 'status'; readonly status: number } | { readonly kind: 'connect-failure' | 'reset' | 'timeout' }

export type OutlierEvent =
  | {
      readonly kind: 'ejected'
      readonly uid: string
      readonly atMs: number
      readonly untilMs: number
      readonly ejections: number
      readonly reason: string
    }
  | { readonly kind: 'ejection-refused'; readonly uid: string; readonly atMs: number; readonly reason: string }
  | { readonly kind: 'returned'; readonly uid: string; readonly atMs: number }

export interface EndpointOutlierState {
  readonly uid: string
  readonly consecutive5xx: number
  readonly consecutiveGatewayErrors: number
  readonly ejected: boolean
  readonly ejectedAtMs: number | null
  /** Current ejection-time multiplier (ejections in a row, decaying while healthy). */
  readonly multiplier: number
  readonly ejections: number
}

export interface OutlierDetector {
  /** Records one result; returns the ejection (or refusal) it caused, if any. */
  record(uid: string, result: EndpointResult): OutlierEvent | null
  /** The endpoints that are HEALTHY and not ejected; also updates the cluster membership. */
  healthyEndpoints(all: readonly Endpoint[]): Endpoint[]
  /** Replays interval ticks up to now; returns endpoints brought back. */
  advance(): OutlierEvent[]
  isEjected(uid: string): boolean
  states(): EndpointOutlierState[]
}

/** Envoy's default max_ejection_time (Istio does not set it). */
export const MAX_EJECTION_TIME_MS = 300_000

interface MutableState {
  uid: string
  consecutive5xx: number
  consecutiveGatewayErrors: number
  ejectedAtMs: number | null
  multiplier: number
  ejections: number
}

export function createOutlierDetector(config: OutlierConfig, clock: () => number): OutlierDetector {
  const interval = Math.max(1, config.intervalMs)
  let nextTickMs = clock() + interval
  const byUid = new Map<string, MutableState>()
  let members = new Set<string>()

  const stateOf = (uid: string): MutableState => {
    let s = byUid.get(uid)
    if (s === undefined) {
      s = { uid, consecutive5xx: 0, consecutiveGatewayErrors: 0, ejectedAtMs: null, multiplier: 0, ejections: 0 }
      byUid.set(uid, s)
    }
    return s
  }
  const ejectionTimeMs = (s: MutableState) =>
    Math.min(config.baseEjectionTimeMs * s.multiplier, Math.max(MAX_EJECTION_TIME_MS, config.baseEjectionTimeMs))
  const ejectedCount = () => [...byUid.values()].filter((s) => s.ejectedAtMs !== null).length

  const advance = (): OutlierEvent[] => {
    const now = clock()
    const events: OutlierEvent[] = []
    while (nextTickMs <= now) {
      const tick = nextTickMs
      let busy = false
      for (const s of byUid.values()) {
        if (s.ejectedAtMs !== null) {
          busy = true
          if (tick - s.ejectedAtMs >= ejectionTimeMs(s)) {
            s.ejectedAtMs = null
            s.consecutive5xx = 0
            s.consecutiveGatewayErrors = 0
            events.push({ kind: 'returned', uid: s.uid, atMs: tick })
          }
        } else if (s.multiplier > 0) {
          busy = true
          s.multiplier--
        }
      }
      // Nothing ejected and nothing to decay: later ticks change nothing, jump to the last one.
      nextTickMs = busy ? tick + interval : tick + interval * Math.max(1, Math.floor((now - tick) / interval) + 1)
    }
    return events
  }

  const tryEject = (s: MutableState, why: string): OutlierEvent => {
    const now = clock()
    const total = Math.max(1, members.size > 0 ? members.size : byUid.size)
    const ejected = ejectedCount()
    if ((100 * (ejected + 1)) / total > config.maxEjectionPercent) {
      return {
        kind: 'ejection-refused',
        uid: s.uid,
        atMs: now,
        reason: `${why}, but ejecting it would put ${ejected + 1} of ${total} endpoints out (maxEjectionPercent ${config.maxEjectionPercent})`,
      }
    }
    s.ejectedAtMs = now
    s.ejections++
    if (config.baseEjectionTimeMs * s.multiplier < Math.max(MAX_EJECTION_TIME_MS, config.baseEjectionTimeMs)) s.multiplier++
    return { kind: 'ejected', uid: s.uid, atMs: now, untilMs: now + ejectionTimeMs(s), ejections: s.ejections, reason: why }
  }

  return {
    record(uid, result) {
      advance()
      const s = stateOf(uid)
      if (s.ejectedAtMs !== null) return null // in-flight requests finishing on an ejected endpoint
      const status = result.kind === 'status' ? result.status : result.kind === 'timeout' ? 504 : 503
      if (status < 500 || status > 599) {
        s.consecutive5xx = 0
        s.consecutiveGatewayErrors = 0
        return null
      }
      let trigger: string | null = null
      if (status === 502 || status === 503 || status === 504) {
        s.consecutiveGatewayErrors++
        if (config.consecutiveGatewayErrors > 0 && s.consecutiveGatewayErrors === config.consecutiveGatewayErrors) {
          trigger = `${config.consecutiveGatewayErrors} consecutive gateway errors`
        }
      } else {
        s.consecutiveGatewayErrors = 0
      }
      s.consecutive5xx++
      if (trigger === null && config.consecutive5xxErrors > 0 && s.consecutive5xx === config.consecutive5xxErrors) {
        trigger = `${config.consecutive5xxErrors} consecutive 5xx errors`
      }
      if (trigger === null) return null
      s.consecutive5xx = 0
      s.consecutiveGatewayErrors = 0
      return tryEject(s, `${uid}: ${trigger}`)
    },
    healthyEndpoints(all) {
      advance()
      members = new Set(all.map((e) => e.uid))
      for (const uid of byUid.keys()) if (!members.has(uid)) byUid.delete(uid)
      return all.filter((e) => e.healthy && byUid.get(e.uid)?.ejectedAtMs == null)
    },
    advance,
    isEjected(uid) {
      advance()
      return byUid.get(uid)?.ejectedAtMs != null
    },
    states() {
      advance()
      return [...byUid.values()].map((s) => ({
        uid: s.uid,
        consecutive5xx: s.consecutive5xx,
        consecutiveGatewayErrors: s.consecutiveGatewayErrors,
        ejected: s.ejectedAtMs !== null,
        ejectedAtMs: s.ejectedAtMs,
        multiplier: s.multiplier,
        ejections: s.ejections,
      }))
    },
  }
}
