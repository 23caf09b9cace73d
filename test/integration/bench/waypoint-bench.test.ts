// Smoke test of `npm run bench:waypoint`: runs the built benchmark with --quick (one real cluster:
// istiod, two ztunnels, a waypoint, pods; no mesh, ambient L4 and L7 at 1000 RPS; the reference L7
// path in the same round) and checks its JSON.
// No timing target is asserted (PASS or MISS is the bench's verdict, not the test's); what is asserted
// is the shape, that no mesh has the lowest p50 (a wide margin on any machine) and that the waypoint
// was sampled with finite figures.
import t from 'tap'
import { readBenchJson, runQuickBench } from '../../helpers/bench-run.js'
import type { WaypointBenchResult } from '../../../src/bench/waypoint-bench.js'

const finite = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v)

t.test('bench:waypoint --quick produces a complete, sane JSON result', async (t) => {
  const ran = await runQuickBench(t, 'waypoint-bench.js', 'waypointbench-smoke-', 120_000)
  if (!ran) return
  const { stdout } = ran
  t.match(stdout, /node v\d+/, 'header names the node version')
  t.match(stdout, /no memory sweep/, 'the method says there is no sweep')
  t.match(stdout, /waypoint CPU at 1000 RPS.*≤ 0\.25 cores\s+(PASS|MISS)/, 'prints the CPU target with a verdict')
  t.match(stdout, /added p99 on the waypoint path.*≤ 2 ms\s+(PASS|MISS)/, 'prints the latency target with a verdict')
  t.match(stdout, /waypoint RSS at 1000 RPS.*≤ 70 MB\s+(PASS|MISS)/, 'prints the memory target with a verdict')
  t.notMatch(stdout, /^report: /m, "compare's own files are not written")
  t.match(stdout, /reference L7, in the same rounds after the modes: /, 'the method describes the reference path')
  t.match(stdout, /our waypoint against the reference Node L7 hop/, 'prints the waypoint against the reference')
  const json = await readBenchJson<WaypointBenchResult>(t, stdout)
  if (!json) return
  const s = json.summary

  t.same(Object.keys(json).sort(), ['compare', 'extraRuns', 'header', 'runs', 'summary'])
  t.equal(json.header.name, 'bench:waypoint')
  t.equal(json.header.options['rates'], '1000')
  t.equal(s.rate, 1000)
  t.same(json.compare.modes, ['nomesh', 'ambient-l4', 'ambient-l7'], 'the three modes, nothing else')
  t.same(json.compare.sweep, [], 'no memory sweep')
  t.same(
    s.paths.map((p) => p.mode),
    ['nomesh', 'ambient-l4', 'ambient-l7', 'reference-l7'],
  )
  for (const p of s.paths) {
    for (const k of ['mode', 'path', 'p50Us', 'p99Us', 'addedP50Us', 'addedP99Us', 'achievedRate', 'rejectedRuns'])
      t.ok(k in p, `paths[${p.mode}].${k}`)
    t.ok(finite(p.p50Us.median) && p.p50Us.median > 0, `${p.mode} p50 ${p.p50Us.median} µs`)
    t.ok(finite(p.p99Us.median) && p.p99Us.median >= p.p50Us.median, `${p.mode} p99 ${p.p99Us.median} µs`)
    t.ok(finite(p.achievedRate.median) && p.achievedRate.median > 0, `${p.mode} achieved ${p.achievedRate.median} RPS`)
  }
  const [nomesh, l4, l7, ref] = s.paths
  t.ok(nomesh!.p50Us.median < l4!.p50Us.median, 'no mesh is faster than ztunnel only (p50)')
  t.ok(nomesh!.p50Us.median < l7!.p50Us.median, 'no mesh is faster than the waypoint path (p50)')
  t.ok(nomesh!.p50Us.median < ref!.p50Us.median, 'no mesh is faster than the reference path (p50)')
  for (const p of [l4!, l7!, ref!]) {
    t.ok(finite(p.addedP50Us.median) && p.addedP50Us.median > 0, `${p.mode} added p50 ${p.addedP50Us.median} µs`)
    t.ok(finite(p.addedP99Us.median), `${p.mode} added p99 ${p.addedP99Us.median} µs`)
  }
  t.ok(finite(s.waypointHopP99Us.median), 'the waypoint hop alone (p99)')
  const w = s.waypoint
  t.ok(finite(w.cpuCores.median) && w.cpuCores.median > 0 && w.cpuCores.median < 4, `waypoint CPU ${w.cpuCores.median} cores`)
  t.ok(finite(w.rssMeanMB.median) && w.rssMeanMB.median > 10 && w.rssMeanMB.median < 2000, `waypoint RSS ${w.rssMeanMB.median} MB`)
  t.ok(finite(w.hwmMB.median) && w.hwmMB.median >= w.rssMeanMB.median * 0.99, `waypoint peak ${w.hwmMB.median} MB`)
  t.ok(finite(w.rssOverIdleMB.median), 'waypoint RSS over idle')
  const l7Run = json.runs.find((r) => r.mode === 'ambient-l7')
  t.same(l7Run?.proxies.map((p) => p.role).sort(), ['waypoint', 'ztunnel', 'ztunnel'], 'L7: one waypoint + two ztunnels sampled')
  t.same(
    json.extraRuns.map((r) => [r.round, r.path, r.processes.map((p) => p.role).sort()]),
    [[1, 'reference-l7', ['reference client', 'reference server', 'reference waypoint']]],
    'one measured reference window (the warm-up is not kept): HBONE client, hop and server sampled',
  )
  const r = s.reference
  t.ok(r !== undefined, 'the reference summary is there')
  t.equal(r?.rounds.length, 1, 'one round of it')
  for (const k of ['oursCoresPer1k', 'referenceCoresPer1k', 'cpuRatio', 'pathCpuRatio', 'referenceRssMB'] as const) {
    const v = r?.[k].median
    t.ok(finite(v) && v > 0, `reference.${k} ${v}`)
  }
  const rss = r?.referenceRssMB.median
  t.ok(finite(rss) && rss > 10 && rss < 2000, `the reference hop RSS ${rss} MB`)
  t.ok(finite(r?.referenceAddedP99Us.median), 'the reference path added p99')
  t.same(
    s.targets.map((x) => x.unit),
    ['cores', 'MB', 'ms'],
  )
  for (const x of s.targets) {
    t.ok(finite(x.ours), `${x.name}: ours ${x.ours}`)
    t.equal(typeof x.pass, 'boolean', `${x.name}: PASS or MISS`)
  }
  t.equal(s.targets[0]!.pass, s.targets[0]!.ours! <= 0.25, 'CPU verdict matches the 0.25-core target')
  t.equal(s.targets[1]!.pass, s.targets[1]!.ours! <= 70, 'memory verdict matches the 70 MB target')
  t.equal(s.targets[2]!.pass, s.targets[2]!.ours! <= 2, 'latency verdict matches the 2 ms target')
})
