// `ambient compare`'s pure parts on synthetic runs: the summary (ratios, crossover, verdicts with and
// without a sweep or a no-mesh baseline), the markdown report and SVG chart, and the idle-RSS settle rule.
import t from 'tap'
import { formatSummary, summarize } from '../../../src/bench/compare-summary.js'
import type { LatencyRun, SweepRun } from '../../../src/bench/compare-summary.js'
import { renderMarkdown, renderSvg } from '../../../src/bench/compare-report.js'
import { isSettled } from '../../../src/bench/compare-sweep.js'
import { collectHeader } from '../../../src/bench/report.js'
import type { OpenLoopResult } from '../../../src/bench/open-loop.js'
import { checkXml } from '../../helpers/xml-check.js'
import { fakeOpenLoopResult } from '../../helpers/open-loop-result.js'

const fakeResult = (p50: number): OpenLoopResult => fakeOpenLoopResult({ p50Us: p50, p90Us: p50 * 2, p99Us: p50 * 4, maxUs: p50 * 8 })
const proxy = (role: 'ztunnel' | 'waypoint' | 'sidecar', name: string, cpu: number, rss: number): LatencyRun['proxies'][number] => ({
  role,
  name,
  cpuCores: cpu,
  rssMeanMB: rss,
  rssMaxMB: rss,
  hwmMB: rss + 5,
  idleRssMB: rss - 10,
})

t.test('summary with sidecar figures: ratios, crossover; markdown and SVG render', async (t) => {
  const runs: LatencyRun[] = []
  for (const round of [1, 2, 3]) {
    runs.push({ round, rate: 1000, mode: 'nomesh', result: fakeResult(300), proxies: [] })
    runs.push({
      round,
      rate: 1000,
      mode: 'ambient-l4',
      result: fakeResult(400),
      proxies: [proxy('ztunnel', 'ztunnel/node-1', 0.03, 50), proxy('ztunnel', 'ztunnel/node-2', 0.03, 50)],
    })
    runs.push({
      round,
      rate: 1000,
      mode: 'sidecar',
      result: fakeResult(800),
      proxies: [proxy('sidecar', 'sidecar/client', 0.12, 60), proxy('sidecar', 'sidecar/server', 0.12, 60)],
    })
  }
  const sweep: SweepRun[] = []
  for (const n of [1, 2, 4, 8]) {
    sweep.push({
      podsPerNode: n,
      mode: 'ambient-l4',
      pods: 2 * n + 1,
      proxies: [proxy('ztunnel', 'a', 0, 50 + n), proxy('ztunnel', 'b', 0, 50 + n)],
    })
    sweep.push({
      podsPerNode: n,
      mode: 'sidecar',
      pods: 2 * n + 1,
      proxies: Array.from({ length: 2 * n + 1 }, (_, i) => proxy('sidecar', `s${i}`, 0, 60)),
    })
  }
  const s = summarize(['nomesh', 'ambient-l4', 'sidecar'], [], [1000], runs, sweep)
  const l4 = s.byModeRate.find((r) => r.mode === 'ambient-l4')!
  t.equal(l4.addedP50Us.median, 100)
  t.equal(l4.proxies, 2)
  t.equal(s.ratios[0]!.ours, 0.25, 'CPU per proxy ztunnel ÷ sidecar')
  t.equal(s.ratios[0]!.pass, true)
  t.equal(s.ratios[1]!.ours, 116 / (17 * 60), 'memory at 8 pods/node: 2 ztunnels ÷ 17 sidecars')
  t.equal(s.ratios[2]!.ours, 0.2, 'added p50 100 µs ÷ 500 µs')
  t.same(s.crossover, [{ mode: 'ambient-l4', podsPerNode: 1, note: 'ambient memory below the summed sidecars from 1 pod(s) per node' }])
  const text = formatSummary(s)
  t.match(text, /0\.25\s+≤ 0\.30\s+PASS\s+0\.30 \(Istio 1\.24\)/)
  t.match(text, /crossover \(ambient L4\): 1 pods per node/)
  const md = renderMarkdown(collectHeader('ambient compare', ['m'], {}), s, 'c.svg')
  t.match(md, /\| sidecar \|/)
  t.match(md, /crossover, ambient L4: 1 pods per node/)
  t.match(md, /\| RPS achieved \|/, 'the sweep table has the achieved rate')
  const svg = renderSvg(s)
  t.equal(checkXml(svg), undefined, 'well-formed')
  t.match(svg, /sidecar p50/)
  const worse = summarize(
    ['nomesh', 'ambient-l4', 'sidecar'],
    [],
    [1000],
    runs.map((r) => (r.mode === 'ambient-l4' ? { ...r, result: fakeResult(700) } : r)),
    sweep,
  )
  t.equal(worse.ratios[2]!.pass, false)
  t.match(formatSummary(worse), /≤ 0\.4\s+MISS/, 'a missed target reads MISS')
})

t.test(
  'summary without a sweep or a no-mesh baseline (bookinfo): memory and whole-request p50 from the load runs, no verdict',
  async (t) => {
    const runs: LatencyRun[] = [
      {
        round: 1,
        rate: 100,
        mode: 'ambient-l4',
        result: fakeResult(4000),
        proxies: [proxy('ztunnel', 'ztunnel/node-1', 0.05, 80), proxy('ztunnel', 'ztunnel/node-2', 0.05, 80)],
      },
      {
        round: 1,
        rate: 100,
        mode: 'sidecar',
        result: fakeResult(8000),
        proxies: Array.from({ length: 7 }, (_, i) => proxy('sidecar', `sidecar/p${i}`, 0.1, 80)),
      },
    ]
    const s = summarize(['ambient-l4', 'sidecar'], [], [100], runs, [])
    t.equal(s.ratios[1]!.ours, 160 / 560, 'memory: 2 ztunnels ÷ 7 sidecars under load')
    t.equal(s.ratios[1]!.pass, null, 'no 8-pods-per-node verdict without the sweep')
    t.match(s.ratios[1]!.name, /under load at 100 RPS/)
    t.equal(s.ratios[2]!.ours, 0.5, 'whole-request p50 4 ms ÷ 8 ms')
    t.equal(s.ratios[2]!.pass, null)
    t.match(s.ratios[2]!.name, /whole-request p50 \(no no-mesh baseline\)/)
  },
)

t.test('idle RSS settles: every series within max(tolerance, 1 %) over the window', async (t) => {
  t.equal(isSettled([[50, 60, 70]], 3, 0.5), false, 'still growing')
  t.equal(isSettled([[50, 60, 70, 70.2, 70.1]], 3, 0.5), true, 'held within 0.5 MB')
  t.equal(isSettled([[70, 70.1]], 3, 0.5), false, 'too few readings')
  t.equal(
    isSettled(
      [
        [70, 70, 70],
        [100, 130, 131],
      ],
      3,
      0.5,
    ),
    false,
    'one proxy still moving',
  )
  t.equal(isSettled([[500, 503, 504]], 3, 0.5), true, '1 % of a large RSS')
})
