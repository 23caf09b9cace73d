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
  sysCores: cpuCores / 2,
  rssMeanMB: 50,
  rssMaxMB: 50,
  hwmMB: 50,
  samples: 10,
})
const round = (
  r: number,
  mode: AnyLatencyMode,
  p50Us: number,
  p99Us: number,
  cores: [number, number] = [0, 0],
  appCores = 0.5,
): LatencyRound => ({
  round: r,
  mode,
  result: result(p50Us, p99Us),
  processes: [win('ztunnel a', cores[0]), win('ztunnel b', cores[1]), win('loadgen', appCores), win('app', appCores)],
})

/**
 * One round per entry: [socks added p50 µs, inpod added p50 µs, socks cores (per ztunnel), inpod
 * cores (per ztunnel), and optionally the in-pod baseline's loadgen and app cores (each; 0.5 on loopback)].
 */
type Row = [number, number, number, number] | [number, number, number, number, number]
const rounds = (rows: Row[]): LatencyRound[] =>
  rows.flatMap(([socksUs, inpodUs, socksCores, inpodCores, inpodAppCores], i) => [
    round(i + 1, 'nomesh', 100, 300),
    round(i + 1, 'mesh', 100 + socksUs, 600, [socksCores, socksCores]),
    round(i + 1, 'inpod-nomesh', 200, 400, [0, 0], inpodAppCores ?? 0.5),
    round(i + 1, 'inpod', 200 + inpodUs, 900, [inpodCores, inpodCores]),
  ])

const cases: { name: string; rows: Row[]; latencyPass: boolean; cpuPass: boolean }[] = [
  { name: 'in-pod faster and cheaper', rows: [[300, 250, 0.1, 0.08]], latencyPass: true, cpuPass: true },
  { name: 'in-pod 50 µs over: the bound itself passes', rows: [[300, 350, 0.1, 0.1]], latencyPass: true, cpuPass: true },
  { name: 'in-pod 60 µs over', rows: [[300, 360, 0.1, 0.1]], latencyPass: false, cpuPass: true },
  { name: 'in-pod costlier', rows: [[300, 300, 0.1, 0.11]], latencyPass: true, cpuPass: false },
  {
    name: "in-pod costlier by exactly the network's own cost (baseline +0.02 cores)",
    rows: [[300, 300, 0.1, 0.11, 0.51]],
    latencyPass: true,
    cpuPass: true,
  },
  { name: "in-pod costlier than the network's own cost", rows: [[300, 300, 0.1, 0.12, 0.51]], latencyPass: true, cpuPass: false },
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
    t.match(text, `target: inpod adds ≤ 0.05 ms p50 over socks and costs no more CPU (on equal networks) → ${got.pass ? 'PASS' : 'FAIL'}`)
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
  t.equal(got.inpod.ztunnelSysCores.median, 0.08, 'the kernel share of both ztunnels')
})

t.test("the network's own cost: the in-pod baseline's loadgen + app minus the loopback one's, per round", async (t) => {
  const got = compareCaptures(rounds([[300, 300, 0.1, 0.13, 0.52]]))
  t.ok(Math.abs(got.coresOverSocks.median - 0.06) < 1e-9, 'inpod − socks: 0.26 − 0.2')
  t.ok(Math.abs(got.networkCores.median - 0.04) < 1e-9, 'network: 1.04 − 1.0')
  t.ok(Math.abs(got.captureCores.median - 0.02) < 1e-9, 'capture on equal networks')
  t.equal(got.cpuPass, false)
  t.match(formatCaptureComparison(got, 1000), /inpod − socks − the network \(per round\)\s+0\.020/)
})

t.test('a baseline without its loadgen or app: no network figure, CPU FAIL (never a silent PASS)', async (t) => {
  const rs = rounds([[300, 250, 0.1, 0.08]]).map((r) => (r.mode === 'inpod-nomesh' ? { ...r, processes: r.processes.slice(0, 2) } : r))
  const got = compareCaptures(rs)
  t.equal(got.networkCores.n, 0)
  t.equal(got.cpuPass, false)
})

t.test('no in-pod rounds: FAIL, never a silent PASS', async (t) => {
  const got = compareCaptures(rounds([[300, 250, 0.1, 0.08]]).filter((r) => !r.mode.startsWith('inpod')))
  t.equal(got.p50OverSocksMs.n, 0)
  t.equal(got.pass, false)
})
