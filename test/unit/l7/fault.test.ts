// Table tests for fault injection (src/l7/engines/fault.ts), with the seed's ratings fault
// (§2.5: 10 % delayed 5 s, 5 % aborted with 503).
import t from 'tap'
import { decideFault } from '../../../src/l7/engines/fault.js'
import type { FaultInjection } from '../../../src/mesh/waypoint-config.js'
import { scripted, seeded } from '../../helpers/waypoint-config.js'

const SEED: FaultInjection = { delay: { fixedDelayMs: 5000, percentage: 10 }, abort: { httpStatus: 503, grpcStatus: null, percentage: 5 } }
const grpc: FaultInjection = { delay: null, abort: { httpStatus: null, grpcStatus: 'UNAVAILABLE', percentage: 100 } }

const rows: {
  name: string
  fault: FaultInjection | null
  draws: number[]
  delayMs: number | null
  abort: number | null
  grpc?: number
  flags: string[]
}[] = [
  { name: 'no fault', fault: null, draws: [0], delayMs: null, abort: null, flags: [] },
  { name: 'seed: neither (draws high)', fault: SEED, draws: [0.5, 0.5], delayMs: null, abort: null, flags: [] },
  { name: 'seed: delay only', fault: SEED, draws: [0.05, 0.5], delayMs: 5000, abort: null, flags: ['DI'] },
  { name: 'seed: abort only', fault: SEED, draws: [0.5, 0.01], delayMs: null, abort: 503, flags: ['FI'] },
  { name: 'seed: delay then abort', fault: SEED, draws: [0.01, 0.01], delayMs: 5000, abort: 503, flags: ['DI', 'FI'] },
  { name: 'boundary: draw exactly at percentage does not fire', fault: SEED, draws: [0.1, 0.05], delayMs: null, abort: null, flags: [] },
  {
    name: '0 % never',
    fault: { delay: { fixedDelayMs: 10, percentage: 0 }, abort: null },
    draws: [0],
    delayMs: null,
    abort: null,
    flags: [],
  },
  {
    name: '100 % always',
    fault: { delay: null, abort: { httpStatus: 418, grpcStatus: null, percentage: 100 } },
    draws: [0.999999],
    delayMs: null,
    abort: 418,
    flags: ['FI'],
  },
  {
    name: 'fractional percentage 0.1 %',
    fault: { delay: { fixedDelayMs: 7, percentage: 0.1 }, abort: null },
    draws: [0.0009],
    delayMs: 7,
    abort: null,
    flags: ['DI'],
  },
  { name: 'gRPC abort: HTTP 200 with grpc-status 14', fault: grpc, draws: [0], delayMs: null, abort: 200, grpc: 14, flags: ['FI'] },
]

for (const r of rows) {
  t.test(r.name, async (t) => {
    const d = decideFault(r.fault, scripted(...r.draws))
    t.equal(d.delayMs, r.delayMs)
    t.equal(d.abort?.httpStatus ?? null, r.abort)
    if (r.grpc !== undefined) t.equal(d.abort?.grpcStatus, r.grpc)
    if (r.abort !== null && r.grpc === undefined) t.equal(d.abort?.body, 'fault filter abort')
    t.same(d.responseFlags, r.flags)
  })
}

t.test('seed rates over 20 000 requests: ~10 % delayed, ~5 % aborted, independently', async (t) => {
  const random = seeded(7)
  let delayed = 0
  let aborted = 0
  let both = 0
  const n = 20_000
  for (let i = 0; i < n; i++) {
    const d = decideFault(SEED, random)
    if (d.delayMs !== null) delayed++
    if (d.abort !== null) aborted++
    if (d.delayMs !== null && d.abort !== null) both++
  }
  t.ok(Math.abs(delayed / n - 0.1) < 0.01, `delayed ${delayed / n}`)
  t.ok(Math.abs(aborted / n - 0.05) < 0.01, `aborted ${aborted / n}`)
  t.ok(Math.abs(both / n - 0.005) < 0.003, `both ${both / n}`)
})
