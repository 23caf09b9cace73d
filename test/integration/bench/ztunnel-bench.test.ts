// Smoke test of `npm run bench:ztunnel`: runs the built benchmark with --quick (two real ztunnel
// processes, the app, the relay and the load generator on loopback) and checks the shape of its JSON.
// No timing target is asserted: figures on a shared machine are not a test result. The one relation
// checked (no-mesh p50 ≤ mesh p50) holds by a wide margin: the mesh path adds two proxy processes,
// SOCKS and mutual TLS on top of the very same client → app request.
import t from 'tap'
import { readBenchJson, runQuickBench } from '../../helpers/bench-run.js'
import type { BenchHeader } from '../../../src/bench/report.js'
import type { BulkRound, LatencyRound, ZtunnelBenchSummary } from '../../../src/bench/ztunnel-summary.js'

interface BenchJson {
  header: BenchHeader
  summary: ZtunnelBenchSummary
  idleRssMB: Record<string, number>
  latency: LatencyRound[]
  bulk: BulkRound[]
}

const finite = (v: unknown): boolean => typeof v === 'number' && Number.isFinite(v)

t.test('bench:ztunnel --quick produces a complete, sane JSON result', async (t) => {
  const ran = await runQuickBench(t, 'ztunnel-bench.js', 'ztbench-smoke-', 120_000)
  if (!ran) return
  const { stdout } = ran
  t.match(stdout, /node v\d+/, 'header names the node version')
  t.match(stdout, /kernel /, 'header names the kernel')
  t.match(stdout, /added latency p90/, 'prints the targets table')
  t.match(stdout, /throughput mesh ÷ relay/, 'prints the throughput target')
  const json = await readBenchJson<BenchJson>(t, stdout)
  if (!json) return
  const rounds = Number(json.header.options['rounds'])
  const rate = Number(json.header.options['rate'])
  const durationS = Number(json.header.options['durationS'])

  t.test('header', async (t) => {
    for (const key of ['name', 'date', 'node', 'kernel', 'cores', 'method', 'options'] as const) t.ok(json.header[key], `header.${key}`)
    t.equal(json.header.name, 'bench:ztunnel')
    t.equal(rounds, 1, 'one quick round')
    t.ok(rate > 0 && durationS > 0, `rate ${rate}/s for ${durationS} s`)
  })

  t.test('latency runs: one per mode and round, interleaved, counts right', async (t) => {
    t.same(
      json.latency.map((r) => `${r.round} ${r.mode}`),
      ['1 nomesh', '1 mesh', '1 reference'],
    )
    const expected = Math.round(rate * durationS)
    for (const r of json.latency) {
      t.equal(r.result.scheduled, expected, `${r.mode}: every request scheduled`)
      t.equal(r.result.completed + r.result.errors + r.result.dropped, expected, `${r.mode}: every request accounted for`)
      t.equal(r.result.errors, 0, `${r.mode}: no errors`)
      t.equal(r.result.latency.count, r.result.completed, `${r.mode}: one histogram sample per completed request`)
      for (const k of ['p50Us', 'p90Us', 'p99Us', 'maxUs'] as const)
        t.ok(finite(r.result.latency[k]) && r.result.latency[k] > 0, `${r.mode} ${k} = ${r.result.latency[k]}`)
      t.ok(
        r.result.latency.p50Us <= r.result.latency.p90Us && r.result.latency.p90Us <= r.result.latency.p99Us,
        `${r.mode} percentiles ordered`,
      )
      const proxies = r.mode === 'reference' ? ['reference client', 'reference server'] : ['ztunnel node-a', 'ztunnel node-b']
      t.same(
        r.processes.map((p) => p.role).sort(),
        ['app', 'loadgen', ...proxies].sort(),
        `${r.mode}: the app, the loadgen and the mode's two proxies`,
      )
      for (const p of r.processes) {
        t.ok(finite(p.cpuCores) && p.cpuCores >= 0 && p.cpuCores < 4, `${r.mode} ${p.role} cores = ${p.cpuCores}`)
        t.ok(finite(p.rssMeanMB) && p.rssMeanMB > 5 && p.rssMeanMB < 2000, `${r.mode} ${p.role} RSS = ${p.rssMeanMB} MB`)
        // The kernel's RSS counters are per-CPU approximations: a sample may pass VmHWM by a little.
        t.ok(p.hwmMB >= p.rssMaxMB * 0.95, `${r.mode} ${p.role} VmHWM ${p.hwmMB} ≈≥ max RSS ${p.rssMaxMB}`)
      }
    }
  })

  t.test('summary: every figure finite, added latency from both modes', async (t) => {
    const s = json.summary
    for (const mode of ['nomesh', 'mesh'] as const) {
      for (const [k, v] of Object.entries(s.latency[mode])) {
        t.ok(finite(v.median) && v.median >= 0, `${mode}.${k} = ${v.median}`)
        t.equal(v.n, 1, `${mode}.${k} from the one round`)
      }
    }
    for (const k of ['p50', 'p90', 'p99'] as const) t.ok(finite(s.addedMs[k].median), `added ${k} = ${s.addedMs[k].median}`)
    t.ok(
      s.latency.nomesh.p50Ms.median <= s.latency.mesh.p50Ms.median,
      `no mesh p50 ${s.latency.nomesh.p50Ms.median} ms ≤ mesh p50 ${s.latency.mesh.p50Ms.median} ms`,
    )
    const zt = s.processes.filter((p) => p.role.startsWith('ztunnel'))
    t.equal(zt.length, 4, 'two ztunnels × two modes')
    for (const p of zt) {
      t.ok(finite(p.cores.median), `${p.role} ${p.mode} cores`)
      t.ok(finite(p.idleRssMB) && p.idleRssMB! > 5, `${p.role} idle RSS = ${p.idleRssMB}`)
      t.ok(finite(p.rssIncrementMB.median), `${p.role} ${p.mode} RSS increment`)
    }
    // The mesh window carries 1000 requests through each ztunnel: some CPU ticks must show up.
    t.ok(
      zt.filter((p) => p.mode === 'mesh').every((p) => p.cores.median > 0),
      'both ztunnels used CPU under mesh load',
    )
  })

  t.test('throughput: direct, relay and mesh per round, ratio finite', async (t) => {
    t.same(
      json.bulk.map((b) => `${b.round} ${b.mode}`),
      ['1 direct', '1 relay', '1 mesh'],
    )
    for (const b of json.bulk) {
      t.ok(finite(b.result.gbitPerSec) && b.result.gbitPerSec > 0, `${b.mode} ${b.result.gbitPerSec} Gb/s`)
      t.ok(b.result.bytes > 0, `${b.mode} bytes`)
    }
    t.ok(
      finite(json.summary.throughputRatio.median) && json.summary.throughputRatio.median > 0,
      `ratio ${json.summary.throughputRatio.median}`,
    )
  })

  t.test('targets: each has a finite value and a verdict', async (t) => {
    t.same(
      json.summary.targets.map((x) => x.name),
      [
        'added latency p50',
        'added latency p90',
        'added latency p99',
        'ztunnel node-a CPU at the target rate',
        'ztunnel node-b CPU at the target rate',
        'ztunnel node-a RSS under load',
        'ztunnel node-b RSS under load',
        'throughput mesh ÷ relay',
      ],
    )
    for (const target of json.summary.targets) {
      t.ok(finite(target.value.median), `${target.name} = ${target.value.median}`)
      t.type(target.pass, 'boolean')
      t.ok(target.target, `${target.name} states its target`)
    }
  })
})
