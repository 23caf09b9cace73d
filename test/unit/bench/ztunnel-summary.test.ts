// `bench:ztunnel`'s summary on synthetic rounds: CPU per request of each process, our two ztunnels ÷
// the reference HBONE pair per round, and the added-latency verdicts (NOISY when a round had the mesh
// faster than no mesh, so that a PASS never rests on noise).
import t from 'tap'
import { formatSummary, summarize, verdict } from '../../../src/bench/ztunnel-summary.js'
import type { LatencyMode, LatencyRound, NamedWindow } from '../../../src/bench/ztunnel-summary.js'
import { fakeOpenLoopResult } from '../../helpers/open-loop-result.js'

const win = (role: string, cpuCores: number): NamedWindow => ({
  role,
  pid: 1,
  wallMs: 1000,
  cpuCores,
  sysCores: cpuCores / 2,
  rssMeanMB: 60,
  rssMaxMB: 60,
  hwmMB: 60,
  samples: 10,
})

const round = (r: number, mode: LatencyMode, p50Us: number, proxyCores: number): LatencyRound => {
  const result = { ...fakeOpenLoopResult({ p50Us, p90Us: p50Us, p99Us: p50Us, maxUs: p50Us }), achievedRatePerSec: 1000 }
  const proxies =
    mode === 'mesh'
      ? [win('ztunnel node-a', proxyCores), win('ztunnel node-b', proxyCores)]
      : mode === 'reference'
        ? [win('reference client', proxyCores), win('reference server', proxyCores)]
        : []
  return { round: r, mode, result, processes: [...proxies, win('loadgen', 0.1), win('app', 0.1)] }
}

/** Per round: [no-mesh p50 µs, mesh p50 µs, reference p50 µs, cores per ztunnel, cores per reference process]. */
const run = (rows: [number, number, number, number, number][]) =>
  summarize(
    rows.flatMap(([n, m, r, zc, rc], i) => [round(i + 1, 'nomesh', n, 0), round(i + 1, 'mesh', m, zc), round(i + 1, 'reference', r, rc)]),
    [],
    {},
  )

t.test('CPU per request and ours ÷ reference, per round then the median', async (t) => {
  const s = run([
    [200, 500, 400, 0.15, 0.1],
    [200, 500, 400, 0.2, 0.1],
    [200, 500, 400, 0.1, 0.1],
  ])
  const a = s.processes.find((p) => p.role === 'ztunnel node-a' && p.mode === 'mesh')!
  t.equal(a.cpuUsPerRequest.median, 150, '0.15 cores at 1000/s = 150 µs per request')
  t.same([s.cpuVsReference.min, s.cpuVsReference.median, s.cpuVsReference.max], [1, 1.5, 2])
  const ref = s.processes.find((p) => p.role === 'reference server' && p.mode === 'reference')!
  t.equal(ref.cpuUsPerRequest.median, 100)
  t.equal(s.referenceAddedMs.p50.median, 0.2)
  t.equal(s.addedMs.p50.median, 0.3)
  t.notOk(
    s.targets.some((x) => x.name.includes('reference')),
    'targets are ours only',
  )
  const text = formatSummary(s)
  t.match(text, 'CPU per request, two ztunnels ÷ reference pair (per round): 1.50 (1.00-2.00) ×')
  t.match(text, 'reference Node HBONE pair')
})

const cases: { name: string; meshP50Us: number[]; want: string }[] = [
  { name: 'every round over the baseline, under budget', meshP50Us: [300, 350, 400], want: 'PASS' },
  { name: 'over budget', meshP50Us: [600, 700, 800], want: 'MISS' },
  { name: 'a round with the mesh faster than no mesh', meshP50Us: [100, 300, 300], want: 'NOISY' },
  { name: 'over budget though one round is negative: still a MISS', meshP50Us: [100, 900, 900], want: 'MISS' },
]
for (const c of cases) {
  t.test(`added latency verdict: ${c.name}`, async (t) => {
    const s = run(c.meshP50Us.map((m) => [200, m, 300, 0.1, 0.1]))
    const p50 = s.targets.find((x) => x.name === 'added latency p50')!
    t.match(verdict(p50), new RegExp(`^${c.want}`))
  })
}
