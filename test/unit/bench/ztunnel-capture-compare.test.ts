// `bench:ztunnel --capture inpod`'s verdict on synthetic rounds: added latency per capture mode over
// its own baseline, the ztunnels' cores summed per mode, and the target line's PASS/FAIL.
import t from 'tap'
import { compareCaptures, formatCaptureComparison } from '../../../src/bench/ztunnel-capture-compare.js'
import type { OpenLoopResult } from '../../../src/bench/open-loop.js'
import { fakeOpenLoopResult } from '../../helpers/open-loop-result.js'
import type { AnyLatencyMode, LatencyRound, NamedWindow } from '../../../src/bench/ztunnel-summary.js'

const result = (p50Us: number, p99Us: number): OpenLoopResult => fakeOpenLoopResult({ p50Us, p90Us: p50Us, p99Us, maxUs: p99Us })
const win = (role: string, cpuCores: number): NamedWindow => ({
  role,
  pid: 1,
  wallMs: 1000,
  cpuCores,
  rssMeanMB: 50,
  rssMaxMB: 50,
  hwmMB: 50,
  samples: 10,
})
const round = (r: number, mode: AnyLatencyMode, p50Us: number, p99Us: number, cores: [number, number] = [0, 0]): LatencyRound => ({
  round: r,
  mode,
  result: result(p50Us, p99Us),
  processes: [win('ztunnel a', cores[0]), win('ztunnel b', cores[1]), win('loadgen', 0.5), win('app', 0.5)],
})

/** One round per entry: [socks added p50 µs, inpod added p50 µs, socks cores (per ztunnel), inpod cores (per ztunnel)]. */
const rounds = (rows: [number, number, number, number][]): LatencyRound[] =>
  rows.flatMap(([socksUs, inpodUs, socksCores, inpodCores], i) => [
    round(i + 1, 'nomesh', 100, 300),
    round(i + 1, 'mesh', 100 + socksUs, 600, [socksCores, socksCores]),
    round(i + 1, 'inpod-nomesh', 200, 400),
    round(i + 1, 'inpod', 200 + inpodUs, 900, [inpodCores, inpodCores]),
  ])

const cases: { name: string; rows: [number, number, number, number][]; latencyPass: boolean; cpuPass: boolean }[] = [
  { name: 'in-pod faster and cheaper', rows: [[300, 250, 0.1, 0.08]], latencyPass: true, cpuPass: true },
  { name: 'in-pod 50 µs over: the bound itself passes', rows: [[300, 350, 0.1, 0.1]], latencyPass: true, cpuPass: true },
  { name: 'in-pod 60 µs over', rows: [[300, 360, 0.1, 0.1]], latencyPass: false, cpuPass: true },
  { name: 'in-pod costlier', rows: [[300, 300, 0.1, 0.11]], latencyPass: true, cpuPass: false },
  {
    name: 'medians over rounds, not one bad round',
    rows: [
      [300, 300, 0.1, 0.1],
      [300, 900, 0.1, 0.5],
      [300, 310, 0.1, 0.09],
    ],
    latencyPass: true,
    cpuPass: true,
  },
]

for (const c of cases) {
  t.test(c.name, async (t) => {
    const got = compareCaptures(rounds(c.rows))
    t.equal(got.latencyPass, c.latencyPass, 'latency verdict')
    t.equal(got.cpuPass, c.cpuPass, 'CPU verdict')
    t.equal(got.pass, c.latencyPass && c.cpuPass, 'overall')
    const text = formatCaptureComparison(got, 1000)
    t.match(text, `target: inpod adds ≤ 0.05 ms p50 over socks and costs no more CPU → ${got.pass ? 'PASS' : 'FAIL'}`)
  })
}

t.test("figures: added over each mode's own baseline, both ztunnels summed", async (t) => {
  const got = compareCaptures(rounds([[300, 250, 0.1, 0.08]]))
  t.equal(got.socks.addedP50Ms.median, 0.3)
  t.equal(got.inpod.addedP50Ms.median, 0.25)
  t.equal(got.socks.addedP99Ms.median, 0.3, 'socks p99 600 − 300 µs')
  t.equal(got.inpod.addedP99Ms.median, 0.5, 'inpod p99 900 − 400 µs')
  t.equal(got.socks.ztunnelCores.median, 0.2)
  t.ok(Math.abs(got.inpod.ztunnelCores.median - 0.16) < 1e-9)
})

t.test('no in-pod rounds: FAIL, never a silent PASS', async (t) => {
  const got = compareCaptures(rounds([[300, 250, 0.1, 0.08]]).filter((r) => !r.mode.startsWith('inpod')))
  t.equal(got.p50OverSocksMs.n, 0)
  t.equal(got.pass, false)
})
