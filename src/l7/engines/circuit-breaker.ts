// Per-cluster circuit breaking: Envoy's cluster resource manager with the thresholds Istio derives
// from a DestinationRule's connectionPool. Counters only, no I/O: the data path asks before it
// opens a connection, queues a request, starts a stream or schedules a retry, and releases after.
//
// What is modelled (Envoy ConnPoolImplBase + ResourceManager; Istio DestinationRule reference):
//  - `tcp.maxConnections` → max_connections: connections to all endpoints of the cluster. Hitting
//    it does NOT fail a request: the request waits as pending for a connection to free up
//    (Envoy counts upstream_cx_overflow). Exception kept from Envoy: an endpoint with no
//    connection at all may always open one, so queued requests are never stranded.
//  - `http.http1MaxPendingRequests` → max_pending_requests: requests waiting for a connection
//    (or a free stream). A request that would exceed it fails at once: 503, flag UO.
//  - `http.http2MaxRequests` → max_requests: requests in flight on connections (HTTP/1 and
//    HTTP/2 alike, despite the name). Checked when the request is attached to a connection;
//    exceeding it fails the request: 503 UO.
//  - `http.maxRetries` → max_retries, tightened by the retry budget of retry-policy.ts.
//  - `http.maxRequestsPerConnection` (0 = unlimited) is not a breaker: a connection that has
//    carried that many requests is closed after its last one (`connectionSpent`).
// Istio's defaults are 2^32−1 for every threshold, i.e. off.
import type { ResolvedTrafficPolicy } from '../../mesh/waypoint-config.js'
import { retryLimit } from './retry-policy.js'
import type { LocalReply } from './local-reply.js'

export type ResourceKind = 'connection' | 'pending' | 'request' | 'retry'

/** Envoy's local reply when a circuit breaker trips. */
export const OVERFLOW_REPLY: LocalReply = Object.freeze({
  status: 503,
  body: 'upstream connect error or disconnect/reset before headers. reset reason: overflow',
  responseFlag: 'UO',
})

/** A limit is reached: the request is refused with `reply` (Envoy's overflow). */
export interface Overflow {
  readonly kind: 'overflow'
  readonly resource: ResourceKind
  readonly limit: number
  readonly reply: LocalReply
  readonly reason: string
}

export type Acquire = { readonly kind: 'ok' } | Overflow

/** What to do with a new request (Envoy's newStream). */
export type Admission =
  /** A connection has a free slot: the request is active now (release 'request' when it ends). */
  | { readonly kind: 'attach' }
  /**
   * The request is pending (release 'pending' when it leaves the queue, then call `attachPending`).
   * `connect`: open a new connection for it (the connection is counted; release it on close).
   */
  | { readonly kind: 'queue'; readonly connect: boolean }
  | Overflow

export interface CircuitBreakerCounts {
  readonly connections: number
  readonly pending: number
  readonly requests: number
  readonly retries: number
}

export interface CircuitBreaker {
  tryAcquire(kind: ResourceKind): Acquire
  release(kind: ResourceKind): void
  /**
   * Admission of a new request. `readyCapacity`: an open connection can take it now.
   * `endpointHasConnections`: the chosen endpoint already has a connection (open or opening).
   */
  admit(opts: { readonly readyCapacity: boolean; readonly endpointHasConnections: boolean }): Admission
  /** A pending request got a connection: leaves the queue and becomes active, or overflows max_requests. */
  attachPending(): Acquire
  /** Should a connection that has carried `requestsServed` requests be closed after them? */
  connectionSpent(requestsServed: number): boolean
  counts(): CircuitBreakerCounts
}

// The answers every request gets when there is room: one shared object each, not one a request.
const ACQUIRED: Acquire = Object.freeze({ kind: 'ok' })
const ATTACH: Admission = Object.freeze({ kind: 'attach' })

export function createCircuitBreaker(pool: ResolvedTrafficPolicy['connectionPool']): CircuitBreaker {
  const used: Record<ResourceKind, number> = { connection: 0, pending: 0, request: 0, retry: 0 }
  const limit = (kind: ResourceKind): number => {
    switch (kind) {
      case 'connection':
        return pool.maxConnections
      case 'pending':
        return pool.http1MaxPendingRequests
      case 'request':
        return pool.http2MaxRequests
      case 'retry':
        return retryLimit({
          activeRequests: used.request,
          pendingRequests: used.pending,
          activeRetries: used.retry,
          maxRetries: pool.maxRetries,
        })
    }
  }
  const tryAcquire = (kind: ResourceKind): Acquire => {
    const max = limit(kind)
    if (used[kind] >= max) {
      return {
        kind: 'overflow',
        resource: kind,
        limit: max,
        reply: OVERFLOW_REPLY,
        reason: `${NAMES[kind]} limit ${max} reached (${used[kind]} in use)`,
      }
    }
    used[kind]++
    return ACQUIRED
  }
  return {
    tryAcquire,
    release(kind) {
      // Never below zero: a double release is a data-path bug, but must not open the breaker wider.
      if (used[kind] > 0) used[kind]--
    },
    admit({ readyCapacity, endpointHasConnections }) {
      if (readyCapacity) {
        const a = tryAcquire('request')
        return a.kind === 'ok' ? ATTACH : a
      }
      const p = tryAcquire('pending')
      if (p.kind !== 'ok') return p
      if (used.connection < pool.maxConnections || !endpointHasConnections) {
        used.connection++
        return { kind: 'queue', connect: true }
      }
      return { kind: 'queue', connect: false }
    },
    attachPending() {
      if (used.pending > 0) used.pending--
      return tryAcquire('request')
    },
    connectionSpent(requestsServed) {
      return pool.maxRequestsPerConnection > 0 && requestsServed >= pool.maxRequestsPerConnection
    },
    counts: () => ({ connections: used.connection, pending: used.pending, requests: used.request, retries: used.retry }),
  }
}

const NAMES: Record<ResourceKind, string> = {
  connection: 'maxConnections',
  pending: 'http1MaxPendingRequests',
  request: 'http2MaxRequests',
  retry: 'retry budget/maxRetries',
}
