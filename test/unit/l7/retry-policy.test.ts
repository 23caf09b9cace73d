// Table tests for retry decisions and timeouts (src/l7/engines/retry-policy.ts), including
// the seed's warnings (§2.3): perTryTimeout is per try, the route timeout bounds all tries, and
// there is no silent retry storm.
import t from 'tap'
import {
  backoffMs,
  decideRetry,
  planTimeouts,
  retriableBy,
  retryLimit,
  retryPolicyFor,
  tryTimeoutMs,
  type AttemptOutcome,
  type RetryBudgetState,
  type RetryInput,
} from '../../../src/l7/engines/retry-policy.js'
import type { RetryPolicy } from '../../../src/mesh/waypoint-config.js'
import { DEFAULT_RETRIES, route, scripted } from '../../helpers/waypoint-config.js'

const resp = (status: number, grpcStatus: number | null = null): AttemptOutcome => ({ kind: 'response', status, grpcStatus })
const policy = (retryOn: string[], p: Partial<RetryPolicy> = {}): RetryPolicy => ({
  attempts: 3,
  perTryTimeoutMs: null,
  retryOn,
  retriableStatusCodes: [],
  ...p,
})
const IDLE: RetryBudgetState = { activeRequests: 1, pendingRequests: 0, activeRetries: 0, maxRetries: 4294967295 }
// The seed's VirtualService: timeout 3s, attempts 3, perTryTimeout 1s, retryOn gateway-error,connect-failure,refused-stream.
const SEED = policy(['gateway-error', 'connect-failure', 'refused-stream'], { perTryTimeoutMs: 1000 })

const conditionRows: { name: string; policy: RetryPolicy; outcome: AttemptOutcome; want: string | null }[] = [
  // Istio's default waypoint policy: connect-failure, refused-stream, unavailable, cancelled, 503
  { name: 'default: 503 retried', policy: DEFAULT_RETRIES, outcome: resp(503), want: 'retriable-status-codes' },
  { name: 'default: 500 not retried', policy: DEFAULT_RETRIES, outcome: resp(500), want: null },
  { name: 'default: 502 not retried', policy: DEFAULT_RETRIES, outcome: resp(502), want: null },
  { name: 'default: connect failure', policy: DEFAULT_RETRIES, outcome: { kind: 'connect-failure' }, want: 'connect-failure' },
  { name: 'default: refused stream', policy: DEFAULT_RETRIES, outcome: { kind: 'refused-stream' }, want: 'refused-stream' },
  { name: 'default: reset not retried', policy: DEFAULT_RETRIES, outcome: { kind: 'reset' }, want: null },
  { name: 'default: per-try timeout not retried', policy: DEFAULT_RETRIES, outcome: { kind: 'per-try-timeout' }, want: null },
  { name: 'default: gRPC UNAVAILABLE', policy: DEFAULT_RETRIES, outcome: resp(200, 14), want: 'unavailable' },
  { name: 'default: gRPC CANCELLED', policy: DEFAULT_RETRIES, outcome: resp(200, 1), want: 'cancelled' },
  { name: 'default: gRPC INTERNAL not retried', policy: DEFAULT_RETRIES, outcome: resp(200, 13), want: null },
  { name: 'default: 200 not retried', policy: DEFAULT_RETRIES, outcome: resp(200), want: null },
  // gateway-error
  { name: 'gateway-error: 502', policy: policy(['gateway-error']), outcome: resp(502), want: 'gateway-error' },
  { name: 'gateway-error: 504', policy: policy(['gateway-error']), outcome: resp(504), want: 'gateway-error' },
  { name: 'gateway-error: 500 no', policy: policy(['gateway-error']), outcome: resp(500), want: null },
  { name: 'gateway-error: reset', policy: policy(['gateway-error']), outcome: { kind: 'reset' }, want: 'gateway-error' },
  {
    name: 'gateway-error: per-try timeout',
    policy: policy(['gateway-error']),
    outcome: { kind: 'per-try-timeout' },
    want: 'gateway-error',
  },
  // 5xx
  { name: '5xx: 500', policy: policy(['5xx']), outcome: resp(500), want: '5xx' },
  { name: '5xx: 599', policy: policy(['5xx']), outcome: resp(599), want: '5xx' },
  { name: '5xx: 404 no', policy: policy(['5xx']), outcome: resp(404), want: null },
  { name: '5xx: connect failure', policy: policy(['5xx']), outcome: { kind: 'connect-failure' }, want: '5xx' },
  { name: '5xx: refused stream', policy: policy(['5xx']), outcome: { kind: 'refused-stream' }, want: '5xx' },
  // reset, connect-failure, refused-stream
  { name: 'reset: reset', policy: policy(['reset']), outcome: { kind: 'reset' }, want: 'reset' },
  { name: 'reset: connect failure', policy: policy(['reset']), outcome: { kind: 'connect-failure' }, want: 'reset' },
  { name: 'reset: 503 response no', policy: policy(['reset']), outcome: resp(503), want: null },
  { name: 'connect-failure: reset no', policy: policy(['connect-failure']), outcome: { kind: 'reset' }, want: null },
  { name: 'refused-stream: connect failure no', policy: policy(['refused-stream']), outcome: { kind: 'connect-failure' }, want: null },
  // 4xx and codes
  { name: 'retriable-4xx: 409', policy: policy(['retriable-4xx']), outcome: resp(409), want: 'retriable-4xx' },
  { name: 'retriable-4xx: 429 no', policy: policy(['retriable-4xx']), outcome: resp(429), want: null },
  {
    name: 'retriable-status-codes: 429',
    policy: policy(['retriable-status-codes'], { retriableStatusCodes: [429] }),
    outcome: resp(429),
    want: 'retriable-status-codes',
  },
  // gRPC
  { name: 'deadline-exceeded', policy: policy(['deadline-exceeded']), outcome: resp(200, 4), want: 'deadline-exceeded' },
  { name: 'resource-exhausted', policy: policy(['resource-exhausted']), outcome: resp(200, 8), want: 'resource-exhausted' },
  { name: 'gRPC condition needs grpc-status', policy: policy(['unavailable']), outcome: resp(503), want: null },
  // never
  {
    name: 'overflow never retried',
    policy: policy(['5xx', 'reset', 'gateway-error', 'connect-failure']),
    outcome: { kind: 'overflow' },
    want: null,
  },
  {
    name: 'attempts 0 policy has no conditions',
    policy: { attempts: 0, perTryTimeoutMs: null, retryOn: [], retriableStatusCodes: [] },
    outcome: resp(503),
    want: null,
  },
]

for (const r of conditionRows) t.test(`condition: ${r.name}`, async (t) => t.equal(retriableBy(r.policy, r.outcome), r.want))

const input = (i: Partial<RetryInput>): RetryInput => ({
  policy: DEFAULT_RETRIES,
  outcome: resp(503),
  triesMade: 1,
  nowMs: 0,
  deadlineMs: null,
  budget: IDLE,
  random: scripted(0),
  ...i,
})

const decisionRows: {
  name: string
  in: Partial<RetryInput>
  want: { kind: 'retry' | 'stop'; cause?: string; flag?: string | null; tryNumber?: number }
}[] = [
  { name: 'first 503 → retry 2nd try', in: {}, want: { kind: 'retry', tryNumber: 2 } },
  { name: 'second 503 → retry 3rd try', in: { triesMade: 2 }, want: { kind: 'retry', tryNumber: 3 } },
  { name: 'default 2 attempts: third 503 → URX', in: { triesMade: 3 }, want: { kind: 'stop', cause: 'attempts-exhausted', flag: 'URX' } },
  { name: 'not retriable → stop without flag', in: { outcome: resp(500) }, want: { kind: 'stop', cause: 'not-retriable', flag: null } },
  { name: 'success → stop', in: { outcome: resp(200) }, want: { kind: 'stop', cause: 'not-retriable', flag: null } },
  {
    name: 'attempts 0 → never',
    in: { policy: { ...DEFAULT_RETRIES, attempts: 0 } },
    want: { kind: 'stop', cause: 'attempts-exhausted', flag: 'URX' },
  },
  { name: 'deadline reached → 504 UT', in: { nowMs: 3000, deadlineMs: 3000 }, want: { kind: 'stop', cause: 'deadline', flag: 'UT' } },
  {
    name: 'backoff would cross the deadline → 504 UT',
    in: { nowMs: 2990, deadlineMs: 3000, random: scripted(0.5) },
    want: { kind: 'stop', cause: 'deadline', flag: 'UT' },
  },
  {
    name: 'budget: 3 in flight with few requests → UO',
    in: { budget: { ...IDLE, activeRetries: 3, activeRequests: 10 } },
    want: { kind: 'stop', cause: 'retry-budget', flag: 'UO' },
  },
  {
    name: 'budget: 19 of 100 → allowed',
    in: { budget: { ...IDLE, activeRetries: 19, activeRequests: 100 } },
    want: { kind: 'retry', tryNumber: 2 },
  },
  {
    name: 'budget: 20 of 100 → UO',
    in: { budget: { ...IDLE, activeRetries: 20, activeRequests: 100 } },
    want: { kind: 'stop', cause: 'retry-budget', flag: 'UO' },
  },
  {
    name: 'budget counts pending requests',
    in: { budget: { ...IDLE, activeRetries: 20, activeRequests: 60, pendingRequests: 50 } },
    want: { kind: 'retry', tryNumber: 2 },
  },
  {
    name: 'maxRetries caps the budget',
    in: { budget: { ...IDLE, activeRetries: 1, activeRequests: 100, maxRetries: 1 } },
    want: { kind: 'stop', cause: 'retry-budget', flag: 'UO' },
  },
  {
    name: 'attempts checked before budget (URX wins)',
    in: { triesMade: 3, budget: { ...IDLE, activeRetries: 99 } },
    want: { kind: 'stop', cause: 'attempts-exhausted', flag: 'URX' },
  },
]

for (const r of decisionRows) {
  t.test(`decision: ${r.name}`, async (t) => {
    const d = decideRetry(input(r.in))
    t.equal(d.kind, r.want.kind, d.reason)
    if (d.kind === 'stop') {
      t.equal(d.cause, r.want.cause)
      t.equal(d.responseFlag, r.want.flag)
      t.equal(d.replyStatus, d.cause === 'deadline' ? 504 : null)
    } else {
      t.equal(d.tryNumber, r.want.tryNumber)
      t.equal(d.avoidPreviousEndpoints, true)
    }
  })
}

t.test('backoff: Envoy ranges 0-24, 0-74, 0-174, then capped at 250', async (t) => {
  const almostOne = scripted(0.999999)
  t.equal(backoffMs(1, almostOne), 24)
  t.equal(backoffMs(2, almostOne), 74)
  t.equal(backoffMs(3, almostOne), 174)
  t.equal(backoffMs(4, almostOne), 250)
  t.equal(backoffMs(9, almostOne), 250)
  t.equal(backoffMs(4, scripted(0.5)), 187)
  t.equal(backoffMs(1, scripted(0)), 0)
})

t.test('retry limit rule: min(maxRetries, max(3, 20 % of active + pending))', async (t) => {
  t.equal(retryLimit({ ...IDLE, activeRequests: 0 }), 3)
  t.equal(retryLimit({ ...IDLE, activeRequests: 14 }), 3)
  t.equal(retryLimit({ ...IDLE, activeRequests: 100 }), 20)
  t.equal(retryLimit({ ...IDLE, activeRequests: 100, pendingRequests: 50 }), 30)
  t.equal(retryLimit({ ...IDLE, activeRequests: 100, maxRetries: 5 }), 5)
})

t.test('timeouts: per-try capped by the time left; null when neither is set', async (t) => {
  t.same(planTimeouts(3000, SEED, 1000), { deadlineMs: 4000, firstTryTimeoutMs: 1000 })
  t.same(planTimeouts(null, SEED, 1000), { deadlineMs: null, firstTryTimeoutMs: 1000 })
  t.same(planTimeouts(500, SEED, 0), { deadlineMs: 500, firstTryTimeoutMs: 500 })
  t.same(planTimeouts(null, DEFAULT_RETRIES, 0), { deadlineMs: null, firstTryTimeoutMs: null })
  t.same(planTimeouts(0, DEFAULT_RETRIES, 0), { deadlineMs: null, firstTryTimeoutMs: null }, 'timeout 0 = disabled')
  t.equal(tryTimeoutMs(DEFAULT_RETRIES, 3000, 1000), 2000, 'no perTryTimeout: each try may use the rest')
  t.equal(tryTimeoutMs(SEED, 3000, 2500), 500)
  t.equal(tryTimeoutMs(SEED, 3000, 3500), 0)
})

t.test('seed warning: perTryTimeout is per try, the 3 s route timeout bounds all tries', async (t) => {
  // Every try hangs until its per-try timeout; backoff draws are the largest possible.
  const random = scripted(0.999999)
  const plan = planTimeouts(3000, SEED, 0)
  let now = 0
  let tryTimeout = plan.firstTryTimeoutMs
  let tries = 1
  const starts = [0]
  for (;;) {
    now += tryTimeout ?? 0
    const d = decideRetry({
      policy: SEED,
      outcome: { kind: 'per-try-timeout' },
      triesMade: tries,
      nowMs: now,
      deadlineMs: plan.deadlineMs,
      budget: IDLE,
      random,
    })
    if (d.kind === 'stop') {
      t.equal(d.cause, 'deadline', 'ends on the route deadline, not after 4 × 1 s')
      t.equal(d.replyStatus, 504)
      t.equal(d.responseFlag, 'UT')
      break
    }
    now += d.backoffMs
    starts.push(now)
    tryTimeout = d.tryTimeoutMs
    t.ok(tryTimeout !== null && tryTimeout <= 1000, 'each try at most perTryTimeout')
    t.ok(now + (tryTimeout ?? 0) <= 3000, 'no try outlives the deadline')
    tries++
  }
  t.ok(tries <= 3, `tries ${tries}: fewer than the 4 that attempts alone would allow`)
  t.ok(
    starts.every((s) => s < 3000),
    'no try starts after the deadline',
  )
})

t.test('seed warning: per-try timeouts alone would allow 4 tries without a route timeout', async (t) => {
  let tries = 1
  for (;;) {
    const d = decideRetry({
      policy: SEED,
      outcome: { kind: 'per-try-timeout' },
      triesMade: tries,
      nowMs: tries * 1000,
      deadlineMs: null,
      budget: IDLE,
      random: scripted(0),
    })
    if (d.kind === 'stop') {
      t.equal(d.cause, 'attempts-exhausted')
      break
    }
    tries++
  }
  t.equal(tries, 4, '1 try + 3 retries')
})

t.test('seed warning: no silent retry storm — a burst of failures is capped and every refusal says why', async (t) => {
  // 100 requests in flight all get a 503 at once; each retry admitted stays in flight.
  let activeRetries = 0
  const refused: string[] = []
  for (let i = 0; i < 100; i++) {
    const d = decideRetry(input({ budget: { activeRequests: 100, pendingRequests: 0, activeRetries, maxRetries: 4294967295 } }))
    if (d.kind === 'retry') activeRetries++
    else refused.push(d.reason)
  }
  t.equal(activeRetries, 20, '20 % of 100 active requests')
  t.equal(refused.length, 80)
  t.match(refused[0], /retries in flight \(limit 20/)
})

t.test('retryPolicyFor: the route policy, else the waypoint defaults', async (t) => {
  const defaults = { retries: DEFAULT_RETRIES, connectTimeoutMs: 10_000 }
  t.equal(retryPolicyFor(null, defaults), DEFAULT_RETRIES)
  const r = route('r', [], { retries: SEED })
  t.equal(retryPolicyFor(r, defaults), SEED)
})

t.test('a policy decided again, and another policy object, each by its own retryOn (what is kept per policy object)', async (t) => {
  const gateway = policy(['gateway-error'])
  const five = policy(['5xx'])
  for (let i = 0; i < 2; i++) {
    const input = (p: RetryPolicy, outcome: AttemptOutcome): RetryInput => ({
      policy: p,
      outcome,
      triesMade: 1,
      nowMs: 0,
      deadlineMs: null,
      budget: IDLE,
      random: () => 0,
    })
    t.match(
      decideRetry(input(gateway, resp(500))),
      { kind: 'stop', reason: 'status 500 is not retriable under retryOn [gateway-error]' },
      `pass ${i}`,
    )
    t.match(decideRetry(input(five, resp(500))), { kind: 'retry' }, `pass ${i}: 5xx retries 500`)
    t.equal(retriableBy(gateway, resp(502)), 'gateway-error')
    t.equal(retriableBy(five, resp(404)), null)
  }
})
