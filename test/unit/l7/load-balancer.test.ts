// Table tests for endpoint choice (src/l7/engines/load-balancer.ts).
import t from 'tap'
import { createLoadBalancer, type LbPolicy, type PickOptions } from '../../../src/l7/engines/load-balancer.js'
import type { Endpoint } from '../../../src/mesh/waypoint-config.js'
import { endpoint, scripted, seeded } from '../../helpers/waypoint-config.js'

const A = endpoint('a')
const B = endpoint('b')
const C = endpoint('c')

function picks(policy: LbPolicy, eps: Endpoint[], n: number, random: () => number, opts?: PickOptions): string[] {
  const lb = createLoadBalancer(policy, random)
  const out: string[] = []
  for (let i = 0; i < n; i++) {
    const p = lb.pick(eps, opts)
    out.push(p.kind === 'picked' ? p.endpoint.uid : 'UH')
  }
  return out
}

const rows: { name: string; policy: LbPolicy; eps: Endpoint[]; n: number; random: () => number; opts?: PickOptions; want: string[] }[] = [
  {
    name: 'RR from a random start, in order',
    policy: 'ROUND_ROBIN',
    eps: [A, B, C],
    n: 5,
    random: scripted(0.5),
    want: ['b', 'c', 'a', 'b', 'c'],
  },
  {
    name: 'RR weights 2:1 interleaved',
    policy: 'ROUND_ROBIN',
    eps: [endpoint('a', { weight: 2 }), B],
    n: 6,
    random: scripted(0),
    want: ['a', 'b', 'a', 'a', 'b', 'a'],
  },
  {
    name: 'RR skips excluded',
    policy: 'ROUND_ROBIN',
    eps: [A, B],
    n: 3,
    random: scripted(0),
    opts: { exclude: new Set(['a']) },
    want: ['b', 'b', 'b'],
  },
  {
    name: 'all excluded → reuse rather than fail',
    policy: 'ROUND_ROBIN',
    eps: [A],
    n: 2,
    random: scripted(0),
    opts: { exclude: new Set(['a']) },
    want: ['a', 'a'],
  },
  { name: 'RANDOM draw', policy: 'RANDOM', eps: [A, B, C], n: 3, random: scripted(0, 0.5, 0.99), want: ['a', 'b', 'c'] },
  {
    name: 'RANDOM weighted 1:3',
    policy: 'RANDOM',
    eps: [A, endpoint('b', { weight: 3 })],
    n: 2,
    random: scripted(0.24, 0.26),
    want: ['a', 'b'],
  },
  {
    name: 'LEAST_REQUEST: fewer active wins',
    policy: 'LEAST_REQUEST',
    eps: [A, B, C],
    n: 1,
    random: scripted(0, 0.5),
    opts: { activeRequests: (u) => (u === 'a' ? 5 : 1) },
    want: ['b'],
  },
  { name: 'LEAST_REQUEST: tie → first draw', policy: 'LEAST_REQUEST', eps: [A, B, C], n: 1, random: scripted(0.9, 0), want: ['c'] },
  {
    name: 'LEAST_REQUEST: same endpoint twice',
    policy: 'LEAST_REQUEST',
    eps: [A, B],
    n: 1,
    random: scripted(0, 0),
    opts: { activeRequests: () => 9 },
    want: ['a'],
  },
  {
    name: 'unhealthy endpoints skipped',
    policy: 'RANDOM',
    eps: [endpoint('a', { healthy: false }), B],
    n: 2,
    random: scripted(0, 0.99),
    want: ['b', 'b'],
  },
  { name: 'no endpoints → UH', policy: 'ROUND_ROBIN', eps: [], n: 1, random: scripted(0), want: ['UH'] },
  {
    name: 'only unhealthy → UH',
    policy: 'LEAST_REQUEST',
    eps: [endpoint('a', { healthy: false })],
    n: 1,
    random: scripted(0),
    want: ['UH'],
  },
  { name: 'PASSTHROUGH behaves as RANDOM', policy: 'PASSTHROUGH', eps: [A, B], n: 1, random: scripted(0.7), want: ['b'] },
]

for (const r of rows) t.test(r.name, async (t) => t.same(picks(r.policy, r.eps, r.n, r.random, r.opts), r.want))

t.test('no healthy upstream reply', async (t) => {
  t.same(createLoadBalancer('RANDOM', Math.random).pick([]), {
    kind: 'noHealthyUpstream',
    reply: { status: 503, body: 'no healthy upstream', responseFlag: 'UH' },
  })
})

t.test('LEAST_REQUEST steers away from a busy endpoint', async (t) => {
  const out = picks('LEAST_REQUEST', [A, B, C], 3000, seeded(3), { activeRequests: (u) => (u === 'a' ? 10 : 0) })
  const share = out.filter((u) => u === 'a').length / out.length
  // P2C picks the busy one only when both draws land on it: 1/9.
  t.ok(share > 0.08 && share < 0.14, `busy share ${share}`)
})

t.test('LEAST_REQUEST with unequal weights favours weight / (active + 1)', async (t) => {
  const heavy = endpoint('h', { weight: 4 })
  const out = picks('LEAST_REQUEST', [heavy, A], 4000, seeded(5), { activeRequests: (u) => (u === 'h' ? 3 : 0) })
  const share = out.filter((u) => u === 'h').length / out.length
  t.ok(share > 0.45 && share < 0.55, `equal effective weights: ${share}`)
})

t.test('RR weights 3:1 over many picks are exact', async (t) => {
  const out = picks('ROUND_ROBIN', [endpoint('a', { weight: 3 }), B], 400, Math.random)
  t.equal(out.filter((u) => u === 'a').length, 300)
})
