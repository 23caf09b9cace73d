// Smoke test of `npm run bench:hbone`: runs the built benchmark with --quick (real proxy processes on
// loopback) and checks the shape of its JSON. It asserts no timing target: figures on a shared
// machine are not a test result. The one relation checked (direct ping-pong p50 ≤ hbone's) holds by
// an order of magnitude, since the HBONE path adds two processes and TLS on top of the direct one.
import t from 'tap'
import { readBenchJson, runQuickBench } from '../../helpers/bench-run.js'
import type { BenchSummary } from '../../../src/bench/hbone-summary.js'
import type { ModeRound } from '../../../src/bench/hbone-phases.js'
import type { BenchHeader } from '../../../src/bench/report.js'

const MODES = ['direct', 'relay', 'hbone'] as const

interface BenchJson {
  header: BenchHeader
  summary: BenchSummary
  rounds: ModeRound[]
}

/** Every number under `value` (with its path), skipping keys in `skip`. */
function numbers(value: unknown, at: string, skip: ReadonlySet<string>, out: [string, number][] = []): [string, number][] {
  if (typeof value === 'number') out.push([at, value])
  else if (Array.isArray(value)) value.forEach((v, i) => numbers(v, `${at}[${i}]`, skip, out))
  else if (value !== null && typeof value === 'object') {
    for (const [k, v] of Object.entries(value)) if (!skip.has(k)) numbers(v, `${at}.${k}`, skip, out)
  }
  return out
}

t.test('bench:hbone --quick produces a complete, sane JSON result', async (t) => {
  const ran = await runQuickBench(t, 'hbone-bench.js', 'bench-smoke-', 120_000)
  if (!ran) return
  const { stdout } = ran
  t.match(stdout, /node v\d+/, 'header names the node version')
  t.match(stdout, /kernel /, 'header names the kernel')
  t.match(stdout, /throughput hbone ÷ relay/, 'prints the targets table')
  t.match(stdout, /^\{"header":/m, 'prints the summary as JSON')
  const json = await readBenchJson<BenchJson>(t, stdout)
  if (!json) return

  t.test('header', async (t) => {
    for (const key of ['name', 'date', 'node', 'kernel', 'cores', 'method', 'options'] as const) t.ok(json.header[key], `header.${key}`)
    t.ok(json.header.cores > 0)
  })

  t.test('every mode has every figure, finite and positive', async (t) => {
    const fields = [
      'throughputGbitPerSec',
      'pingPongP50Us',
      'pingPongP99Us',
      'openLoopP50Us',
      'openLoopP90Us',
      'openLoopP99Us',
      'openLoopAchievedPerSec',
      'churnAchievedPerSec',
      'churnP50Us',
      'churnP99Us',
      'capacityPerSec',
    ] as const
    for (const mode of MODES) {
      const m = json.summary.modes[mode]
      t.ok(m, `summary.modes.${mode}`)
      for (const f of fields) {
        t.ok(m[f], `${mode}.${f} present`)
        for (const k of ['median', 'min', 'max'] as const) {
          const v = m[f][k]
          t.ok(Number.isFinite(v) && v > 0, `${mode}.${f}.${k} = ${v}`)
        }
        t.equal(m[f].n, 1, `${mode}.${f} from the one quick round`)
      }
    }
  })

  t.test('every proxy process has CPU and memory figures', async (t) => {
    // Two sets of processes: …/bulk for throughput and latency, the others for new connections.
    t.same(json.summary.proxies.map((p) => `${p.role} ${p.phase}`).sort(), [
      'hbone-client churn',
      'hbone-client/bulk openLoop',
      'hbone-server churn',
      'hbone-server/bulk openLoop',
      'relay churn',
      'relay/bulk openLoop',
    ])
    // The increment over idle may be negative (the heap can shrink after start-up): finite only.
    // CPU comes in 10 ms ticks: a quick 0.3 s window of a nearly idle relay can hold none, so ≥ 0.
    for (const [at, v] of numbers(json.summary.proxies, 'proxies', new Set(['role', 'phase', 'rssIncrementMB', 'cores', 'n']))) {
      t.ok(Number.isFinite(v) && v > 0, `${at} = ${v}`)
    }
    for (const p of json.summary.proxies) {
      for (const k of ['median', 'min', 'max'] as const)
        t.ok(Number.isFinite(p.cores[k]) && p.cores[k] >= 0, `${p.role} cores.${k} = ${p.cores[k]}`)
    }
    const churnCores = json.summary.proxies.filter((p) => p.phase === 'churn').map((p) => p.cores.median)
    t.ok(
      churnCores.every((c) => c > 0),
      `every proxy used CPU during the churn: ${churnCores.join(', ')}`,
    )
    for (const p of json.summary.proxies) t.ok(Number.isFinite(p.rssIncrementMB.median), `${p.role} RSS increment finite`)
    t.ok(json.summary.generatorChurnCores.median > 0, 'load generator CPU')
    // Added latency is a difference and may be negative for a noisy percentile: finite only.
    for (const [at, v] of numbers(json.summary.addedLatencyMs, 'addedLatencyMs', new Set(['n']))) t.ok(Number.isFinite(v), `${at} = ${v}`)
  })

  t.test('every target has a finite value and a verdict', async (t) => {
    t.ok(json.summary.targets.length >= 9, 'throughput, 2 latency, 2 tunnel rate, cores and RSS per side')
    for (const target of json.summary.targets) {
      t.ok(Number.isFinite(target.value.median), `${target.name} = ${target.value.median}`)
      t.type(target.pass, 'boolean')
      t.ok(target.target, `${target.name} states its target`)
    }
  })

  t.test('rounds carry the raw figures', async (t) => {
    t.equal(json.rounds.length, MODES.length, 'one quick round per mode')
    for (const r of json.rounds) {
      t.ok(r.throughput.gbitPerSec > 0, `${r.mode} throughput`)
      t.ok(r.pingPong.count > 0 && r.openLoop.latency.count > 0, `${r.mode} latency samples`)
      t.ok(r.churn.completed > 0 && r.capacity.completed > 0, `${r.mode} connections completed`)
      t.equal(r.capacity.errors, 0, `${r.mode} capacity run without connection errors`)
    }
  })

  t.test('sanity: direct is not slower than the HBONE pair (ping-pong p50)', async (t) => {
    t.ok(
      json.summary.modes.direct.pingPongP50Us.median <= json.summary.modes.hbone.pingPongP50Us.median,
      `direct ${json.summary.modes.direct.pingPongP50Us.median} µs ≤ hbone ${json.summary.modes.hbone.pingPongP50Us.median} µs`,
    )
  })
})
