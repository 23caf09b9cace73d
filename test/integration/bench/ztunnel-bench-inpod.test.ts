// Smoke test of `npm run bench:ztunnel -- --capture inpod` (netns test: root, ip netns, iptables and
// the built addon; otherwise skipped with one line): one quick run with SOCKS and in-pod capture
// interleaved, the comparison table and its target line printed, the JSON complete, and no network
// namespace of the run left behind. No timing is asserted: PASS or FAIL of the target line is a
// figure of this machine, not a test result.
import t from 'tap'
import { listNetns } from '../../../src/capture/inpod/netns.js'
import type { CaptureComparison } from '../../../src/bench/ztunnel-capture-compare.js'
import type { LatencyRound } from '../../../src/bench/ztunnel-summary.js'
import { readBenchJson, runQuickBench } from '../../helpers/bench-run.js'
import { inpodSkipReason } from '../../helpers/inpod-harness.js'

const skip = await inpodSkipReason()
if (skip !== undefined) {
  console.log(skip)
  t.plan(0, skip)
} else {
  t.test('bench:ztunnel --capture inpod --quick: both captures in one run, the target line, nothing left behind', async (t) => {
    const before = new Set((await listNetns()).filter((n) => n.startsWith('zb')))
    const ran = await runQuickBench(t, 'ztunnel-bench.js', 'ztbench-inpod-smoke-', 140_000, ['--capture', 'inpod', '--bulk-mib', '4'])
    if (!ran) return
    t.match(
      ran.stdout,
      /^target: inpod adds ≤ 0\.05 ms p50 over socks and costs no more CPU \(on equal networks\) → (PASS|FAIL) \(/m,
      'the target line',
    )
    t.match(ran.stdout, /^socks \(loadgen → SOCKS5/m, 'a socks row')
    t.match(ran.stdout, /^inpod \(loadgen in pod → REDIRECT/m, 'an inpod row')
    const json = await readBenchJson<{ latency: LatencyRound[]; captures: CaptureComparison }>(t, ran.stdout)
    if (!json) return
    t.same(
      json.latency.map((r) => `${r.round} ${r.mode}`),
      ['1 nomesh', '1 mesh', '1 reference', '1 inpod-nomesh', '1 inpod'],
      'rounds interleave the five modes (the socks three, with the reference HBONE pair, then the in-pod two)',
    )
    for (const r of json.latency) {
      t.equal(r.result.errors, 0, `${r.mode}: no errors`)
      t.ok(r.result.completed > 0, `${r.mode}: requests completed`)
    }
    const inpod = json.latency.find((r) => r.mode === 'inpod')!
    t.same(
      inpod.processes.map((p) => p.role).sort(),
      ['app', 'loadgen', 'ztunnel node-1', 'ztunnel node-2'],
      "the in-pod rounds measure the in-pod ztunnels and the pods' own loadgen and app",
    )
    for (const m of ['socks', 'inpod'] as const) {
      t.equal(json.captures[m].addedP50Ms.n, 1, `${m}: one added p50`)
      t.ok(Number.isFinite(json.captures[m].ztunnelCores.median), `${m}: ztunnel cores measured`)
    }
    const left = (await listNetns()).filter((n) => n.startsWith('zb') && !before.has(n))
    t.same(left, [], "the run's namespaces are gone")
  })
}
