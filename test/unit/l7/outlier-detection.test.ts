// Table tests for outlier detection (src/l7/engines/outlier-detection.ts) with a fake clock,
// using the seed's reviews DestinationRule (§2.2: consecutive5xxErrors 5, interval 30s,
// baseEjectionTime 30s, maxEjectionPercent 50).
import t from 'tap'
import { createOutlierDetector, type EndpointResult, type OutlierConfig } from '../../../src/l7/engines/outlier-detection.js'
import { endpoint } from '../../helpers/waypoint-config.js'

const SEED: OutlierConfig = {
  consecutive5xxErrors: 5,
  consecutiveGatewayErrors: 0,
  intervalMs: 30_000,
  baseEjectionTimeMs: 30_000,
  maxEjectionPercent: 50,
}
const EPS = [endpoint('a'), endpoint('b'), endpoint('c'), endpoint('d')]
const s = (status: number): EndpointResult => ({ kind: 'status', status })

function setup(config: OutlierConfig = SEED, eps = EPS) {
  let now = 0
  const d = createOutlierDetector(config, () => now)
  d.healthyEndpoints(eps)
  return {
    d,
    at: (ms: number) => {
      now = ms
    },
    healthy: () => d.healthyEndpoints(eps).map((e) => e.uid),
  }
}

const countingRows: { name: string; config?: Partial<OutlierConfig>; results: EndpointResult[]; ejected: boolean }[] = [
  { name: '4 × 500 is below the threshold', results: [s(500), s(500), s(500), s(500)], ejected: false },
  { name: '5 × 500 ejects immediately', results: [s(500), s(500), s(500), s(500), s(500)], ejected: true },
  { name: 'a success resets the count', results: [s(500), s(500), s(500), s(500), s(200), s(500)], ejected: false },
  { name: '4xx counts as success', results: [s(503), s(503), s(503), s(503), s(404), s(503)], ejected: false },
  {
    name: 'connect failures and resets count as 503',
    results: [{ kind: 'connect-failure' }, { kind: 'reset' }, { kind: 'timeout' }, s(502), s(500)],
    ejected: true,
  },
  { name: 'consecutive5xxErrors 0 disables', config: { consecutive5xxErrors: 0 }, results: Array(20).fill(s(500)), ejected: false },
  {
    name: 'gateway errors: 3 × 503 with threshold 3',
    config: { consecutive5xxErrors: 0, consecutiveGatewayErrors: 3 },
    results: [s(503), s(502), s(504)],
    ejected: true,
  },
  {
    name: 'gateway errors: a 500 resets the gateway count',
    config: { consecutive5xxErrors: 0, consecutiveGatewayErrors: 3 },
    results: [s(503), s(502), s(500), s(504)],
    ejected: false,
  },
  {
    name: 'gateway errors reach their threshold first',
    config: { consecutive5xxErrors: 5, consecutiveGatewayErrors: 2 },
    results: [s(503), s(503)],
    ejected: true,
  },
]

for (const r of countingRows) {
  t.test(r.name, async (t) => {
    const { d } = setup({ ...SEED, ...r.config })
    for (const res of r.results) d.record('a', res)
    t.equal(d.isEjected('a'), r.ejected)
  })
}

t.test('ejected endpoint leaves the healthy set and returns on the interval tick after its time', async (t) => {
  const { d, at, healthy } = setup()
  at(1000)
  let ev = null
  for (let i = 0; i < 5; i++) ev = d.record('a', s(500))
  t.match(ev, { kind: 'ejected', uid: 'a', atMs: 1000, untilMs: 31_000, ejections: 1 })
  t.same(healthy(), ['b', 'c', 'd'])
  at(30_000) // first tick: only 29 s out
  t.same(healthy(), ['b', 'c', 'd'])
  at(31_000) // time is up, but un-ejection waits for the interval timer
  t.same(healthy(), ['b', 'c', 'd'])
  at(59_999)
  t.equal(d.isEjected('a'), true)
  at(60_000) // second tick
  t.same(d.advance(), [{ kind: 'returned', uid: 'a', atMs: 60_000 }])
  t.same(healthy(), ['a', 'b', 'c', 'd'])
})

t.test('returned events are reported by advance()', async (t) => {
  const { d, at } = setup()
  for (let i = 0; i < 5; i++) d.record('a', s(500))
  at(30_000)
  t.same(d.advance(), [{ kind: 'returned', uid: 'a', atMs: 30_000 }])
})

t.test('repeat ejections last longer (base × multiplier) and the multiplier decays while healthy', async (t) => {
  const { d, at } = setup({ ...SEED, intervalMs: 10_000 })
  const eject = () => {
    let e = null
    for (let i = 0; i < 5; i++) e = d.record('a', s(500))
    return e
  }
  t.match(eject(), { kind: 'ejected', atMs: 0, untilMs: 30_000, ejections: 1 })
  at(30_000)
  t.equal(d.isEjected('a'), false)
  t.match(eject(), { kind: 'ejected', atMs: 30_000, untilMs: 90_000, ejections: 2 }, 'second ejection: 2 × 30 s')
  at(90_000)
  t.equal(d.isEjected('a'), false)
  t.match(
    d.states().find((x) => x.uid === 'a'),
    { multiplier: 2 },
  )
  at(110_000) // two healthy ticks (100 s, 110 s)
  t.match(
    d.states().find((x) => x.uid === 'a'),
    { multiplier: 0 },
  )
  t.match(eject(), { kind: 'ejected', untilMs: 140_000 }, 'after decay: back to 1 × 30 s')
})

t.test('ejection time is capped at 300 s (Envoy max_ejection_time default)', async (t) => {
  const { d, at } = setup({ ...SEED, intervalMs: 1000, baseEjectionTimeMs: 100_000 })
  let now = 0
  let last = null
  for (let round = 0; round < 5; round++) {
    for (let i = 0; i < 5; i++) last = d.record('a', s(500))
    if (last?.kind === 'ejected') now = last.untilMs
    at(now)
    d.advance()
  }
  t.ok(last?.kind === 'ejected' && last.untilMs - last.atMs === 300_000, JSON.stringify(last))
})

t.test('maxEjectionPercent 50 of 4 endpoints: a third ejection is refused and reported', async (t) => {
  const { d, healthy } = setup()
  const fail = (uid: string) => {
    let e = null
    for (let i = 0; i < 5; i++) e = d.record(uid, s(500))
    return e
  }
  t.match(fail('a'), { kind: 'ejected' })
  t.match(fail('b'), { kind: 'ejected' })
  t.match(fail('c'), { kind: 'ejection-refused', uid: 'c', reason: /3 of 4 endpoints/ })
  t.same(healthy(), ['c', 'd'])
})

t.test('maxEjectionPercent 10 with 4 endpoints never ejects (current Envoy, no always_eject_one_host)', async (t) => {
  const { d } = setup({ ...SEED, maxEjectionPercent: 10 })
  let e = null
  for (let i = 0; i < 5; i++) e = d.record('a', s(500))
  t.match(e, { kind: 'ejection-refused' })
  t.equal(d.isEjected('a'), false)
})

t.test('unhealthy endpoints are never healthy; everything ejected → empty (no panic mode)', async (t) => {
  const eps = [endpoint('a'), endpoint('b', { healthy: false })]
  const { d, healthy } = setup({ ...SEED, maxEjectionPercent: 100 }, eps)
  t.same(healthy(), ['a'])
  for (let i = 0; i < 5; i++) d.record('a', s(500))
  t.same(healthy(), [])
})

t.test('results on an ejected endpoint do not extend its ejection; removed endpoints are forgotten', async (t) => {
  const { d } = setup({ ...SEED, maxEjectionPercent: 100 })
  for (let i = 0; i < 5; i++) d.record('a', s(500))
  for (let i = 0; i < 10; i++) t.equal(d.record('a', s(500)), null)
  t.match(
    d.states().find((x) => x.uid === 'a'),
    { ejections: 1 },
  )
  d.healthyEndpoints([endpoint('b')])
  t.same(
    d.states().map((x) => x.uid),
    [],
  )
})
