// Whether the waypoint retries a failed try, and when: Envoy's router retry state
// (RetryStateImpl) for the RetryPolicy istiod sends, plus the timeouts that bound it.
//
// Rules (Envoy docs "x-envoy-retry-on" / route.RetryPolicy, Istio HTTPRetry; docs/istio-reference.md;
// seed §2.3 warnings):
//  - `attempts` counts retries AFTER the first try (Envoy num_retries): at most 1 + attempts tries.
//  - Conditions. `5xx`: any 5xx response, or no response at all (connect failure, reset, refused
//    stream, per-try timeout). `gateway-error`: 502/503/504 and the same no-response cases.
//    `reset`: no response at all, of any kind. `connect-failure`: connection failure (incl. connect
//    timeout). `refused-stream`: REFUSED_STREAM. `retriable-4xx`: 409. `retriable-status-codes`:
//    the listed codes (istiod always sends the condition with the codes; we honour a non-empty list
//    either way). gRPC (`grpc-status` of a trailers-only response): `cancelled` 1,
//    `deadline-exceeded` 4, `resource-exhausted` 8, `internal` 13, `unavailable` 14. A circuit
//    breaker overflow is never retried (Envoy short-circuits it). Unknown conditions are ignored.
//  - Order of checks, as Envoy: retriable? → retries left? (else URX, the last answer goes back)
//    → retry budget (else UO, the last answer goes back, counted: no silent storm) → deadline.
//  - Timeouts: the route timeout (`timeoutMs`) is ONE absolute deadline for the whole request,
//    retries and backoffs included; `perTryTimeoutMs` bounds each try and is capped by the time
//    left. A retry whose backoff would end at or after the deadline is not started: we answer 504
//    UT at once, which is what Envoy answers when its global timer fires during the backoff.
//  - Backoff: Envoy's fully jittered exponential backoff, base 25 ms, cap 250 ms (10 × base): the
//    n-th retry waits `min(random % ((2^n − 1) × 25), 250)` ms, the range growing until it first
//    exceeds the cap (0-24, 0-74, 0-174, then 0-374 clamped to 250).
//  - Retry budget (our rule, documented because Istio leaves Envoy's retry_budget unset and sets
//    max_retries to 2^32−1, i.e. no guard): concurrent retries to a cluster may not exceed
//    `min(maxRetries, max(3, floor(20 % × (active + pending requests))))` — Envoy's retry_budget
//    defaults (budget_percent 20, min_retry_concurrency 3) under the DestinationRule's
//    `maxRetries`. A refused retry is reported (flag UO, reason), never silent.
//  - Istio sets `retry_host_predicate: previous_hosts`: a retry should go to another endpoint when
//    one is available; the decision says so (`avoidPreviousEndpoints`).
// Retrying non-idempotent requests is not blocked (Envoy does not either; seed §2.3 warns users).
import type { HttpRoute, RetryPolicy, WaypointDefaults } from '../../mesh/waypoint-config.js'
import type { HttpResponseFlag } from '../../observability/traffic-labels.js'
import type { Random } from '../../random.js'

/** How one try ended. */
export type AttemptOutcome =
  /** Response headers arrived. `grpcStatus` is the `grpc-status` header (trailers-only responses), or null. */
  | { readonly kind: 'response'; readonly status: number; readonly grpcStatus: number | null }
  | { readonly kind: 'connect-failure' }
  | { readonly kind: 'refused-stream' }
  /** The upstream reset or closed the stream before response headers. */
  | { readonly kind: 'reset' }
  | { readonly kind: 'per-try-timeout' }
  /** The circuit breaker refused the try (UO): never retried. */
  | { readonly kind: 'overflow' }

export interface RetryBudgetState {
  /** Requests in flight to the cluster, this one included (Envoy: active + pending). */
  readonly activeRequests: number
  readonly pendingRequests: number
  /** Retries in flight to the cluster now, not counting the one being decided. */
  readonly activeRetries: number
  /** connectionPool.maxRetries (Istio default 2^32 − 1). */
  readonly maxRetries: number
}

export interface RetryInput {
  readonly policy: RetryPolicy
  readonly outcome: AttemptOutcome
  /** Tries made so far, including the one that just ended (1 after the first try). */
  readonly triesMade: number
  readonly nowMs: number
  /** The request's absolute deadline (from planTimeouts), or null for none. */
  readonly deadlineMs: number | null
  readonly budget: RetryBudgetState
  readonly random: Random
}

export type StopCause = 'not-retriable' | 'attempts-exhausted' | 'retry-budget' | 'deadline'

export type RetryDecision =
  | {
      readonly kind: 'retry'
      /** Number of the try to start (2 = first retry). */
      readonly tryNumber: number
      readonly backoffMs: number
      /** Timeout of that try, already capped by the deadline; null = none. */
      readonly tryTimeoutMs: number | null
      readonly avoidPreviousEndpoints: true
      readonly reason: string
    }
  | {
      readonly kind: 'stop'
      readonly cause: StopCause
      /** URX (attempts exhausted), UO (retry budget), UT (deadline); null when not retriable. */
      readonly responseFlag: HttpResponseFlag | null
      /** For `deadline`: the waypoint answers 504 instead of the last try's answer. */
      readonly replyStatus: 504 | null
      readonly reason: string
    }

export const BACKOFF_BASE_MS = 25
export const BACKOFF_MAX_MS = 250
export const RETRY_BUDGET_PERCENT = 20
export const MIN_RETRY_CONCURRENCY = 3

const GRPC_CONDITIONS: Readonly<Record<string, number>> = {
  cancelled: 1,
  'deadline-exceeded': 4,
  'resource-exhausted': 8,
  internal: 13,
  unavailable: 14,
}

/** The policy for a request: its route's (istiod fills every route), else the waypoint defaults. */
export function retryPolicyFor(route: HttpRoute | null, defaults: WaypointDefaults): RetryPolicy {
  return route?.retries ?? defaults.retries
}

export interface TimeoutPlan {
  /** Absolute time after which no try runs and the request ends 504 UT; null = no route timeout. */
  readonly deadlineMs: number | null
  readonly firstTryTimeoutMs: number | null
}

export function planTimeouts(routeTimeoutMs: number | null, policy: RetryPolicy, startMs: number): TimeoutPlan {
  const deadlineMs = routeTimeoutMs === null || routeTimeoutMs <= 0 ? null : startMs + routeTimeoutMs
  return { deadlineMs, firstTryTimeoutMs: tryTimeoutMs(policy, deadlineMs, startMs) }
}

/** A try starting at `tryStartMs` may run for min(perTryTimeout, time left); null = unbounded. */
export function tryTimeoutMs(policy: RetryPolicy, deadlineMs: number | null, tryStartMs: number): number | null {
  const perTry = policy.perTryTimeoutMs !== null && policy.perTryTimeoutMs > 0 ? policy.perTryTimeoutMs : null
  const left = deadlineMs === null ? null : Math.max(0, deadlineMs - tryStartMs)
  if (perTry === null) return left
  return left === null ? perTry : Math.min(perTry, left)
}

// Per policy object (config objects are never changed in place), what every decision reads of its
// retryOn: the conditions as a set and as the text of a 'not retriable' reason. Made once per
// policy, not per request (a response that is not retried is every request's case).
const retryOnOf = new WeakMap<RetryPolicy, { readonly set: ReadonlySet<string>; readonly text: string }>()
function retryOn(policy: RetryPolicy): { readonly set: ReadonlySet<string>; readonly text: string } {
  let on = retryOnOf.get(policy)
  if (on === undefined) retryOnOf.set(policy, (on = { set: new Set(policy.retryOn), text: policy.retryOn.join(',') }))
  return on
}

/** Which retryOn condition makes this outcome retriable, or null. */
export function retriableBy(policy: RetryPolicy, outcome: AttemptOutcome): string | null {
  const on = retryOn(policy).set
  const first = (...conditions: string[]) => conditions.find((c) => on.has(c)) ?? null
  switch (outcome.kind) {
    case 'overflow':
      return null
    case 'connect-failure':
      return first('connect-failure', 'reset', '5xx', 'gateway-error')
    case 'refused-stream':
      return first('refused-stream', 'reset', '5xx', 'gateway-error')
    case 'reset':
    case 'per-try-timeout':
      return first('reset', '5xx', 'gateway-error')
    case 'response': {
      const s = outcome.status
      if (policy.retriableStatusCodes.includes(s)) return 'retriable-status-codes'
      if (s >= 500 && s <= 599 && on.has('5xx')) return '5xx'
      if ((s === 502 || s === 503 || s === 504) && on.has('gateway-error')) return 'gateway-error'
      if (s === 409 && on.has('retriable-4xx')) return 'retriable-4xx'
      if (outcome.grpcStatus !== null) {
        for (const [condition, code] of Object.entries(GRPC_CONDITIONS)) {
          if (code === outcome.grpcStatus && on.has(condition)) return condition
        }
      }
      return null
    }
  }
}

/** Envoy's limit on concurrent retries to a cluster, under our budget rule (see the header). */
export function retryLimit(b: RetryBudgetState): number {
  const budget = Math.max(MIN_RETRY_CONCURRENCY, Math.floor((RETRY_BUDGET_PERCENT / 100) * (b.activeRequests + b.pendingRequests)))
  return Math.min(b.maxRetries, budget)
}

/** Jittered exponential backoff before retry number `retry` (1 = first retry). */
export function backoffMs(retry: number, random: Random): number {
  let multiplier = 1
  for (let n = 1; n < retry && (2 ** n - 1) * BACKOFF_BASE_MS <= BACKOFF_MAX_MS; n++) multiplier = 2 ** (n + 1) - 1
  const range = multiplier * BACKOFF_BASE_MS
  return Math.min(Math.floor(random() * range), BACKOFF_MAX_MS)
}

export function decideRetry(input: RetryInput): RetryDecision {
  const { policy, outcome, triesMade, nowMs, deadlineMs } = input
  const condition = retriableBy(policy, outcome)
  const what = describe(outcome)
  if (condition === null) return stop('not-retriable', null, `${what} is not retriable under retryOn [${retryOn(policy).text}]`)
  const retry = triesMade // the n-th retry follows the n-th try
  if (retry > policy.attempts) {
    return stop('attempts-exhausted', 'URX', `${what} (${condition}) but all ${policy.attempts} retries are used`)
  }
  const limit = retryLimit(input.budget)
  if (input.budget.activeRetries >= limit) {
    return stop(
      'retry-budget',
      'UO',
      `${what} (${condition}) but the cluster already has ${input.budget.activeRetries} retries in flight ` +
        `(limit ${limit}: max(${MIN_RETRY_CONCURRENCY}, ${RETRY_BUDGET_PERCENT} % of ` +
        `${input.budget.activeRequests + input.budget.pendingRequests} requests), maxRetries ` +
        `${input.budget.maxRetries})`,
    )
  }
  const wait = backoffMs(retry, input.random)
  const startMs = nowMs + wait
  if (deadlineMs !== null && startMs >= deadlineMs) {
    return {
      kind: 'stop',
      cause: 'deadline',
      responseFlag: 'UT',
      replyStatus: 504,
      reason: `${what} (${condition}) but retry ${retry} would start at or after the route deadline`,
    }
  }
  return {
    kind: 'retry',
    tryNumber: triesMade + 1,
    backoffMs: wait,
    tryTimeoutMs: tryTimeoutMs(policy, deadlineMs, startMs),
    avoidPreviousEndpoints: true,
    reason: `${what} (${condition}): retry ${retry} of ${policy.attempts} after ${wait} ms`,
  }
}

function stop(cause: Exclude<StopCause, 'deadline'>, responseFlag: HttpResponseFlag | null, reason: string): RetryDecision {
  return { kind: 'stop', cause, responseFlag, replyStatus: null, reason }
}

function describe(o: AttemptOutcome): string {
  if (o.kind !== 'response') return o.kind
  return o.grpcStatus === null ? `status ${o.status}` : `status ${o.status} grpc-status ${o.grpcStatus}`
}
