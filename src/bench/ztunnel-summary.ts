// Summary of `bench:ztunnel`: per-round figures → medians (min-max) over rounds, added latency as
// percentile(mesh) − percentile(no mesh) per round, the issue's targets with PASS/MISS, and the tables.
import type { OpenLoopResult } from './open-loop.js'
import type { ProcWindow } from './proc-stats.js'
import { formatSpread, formatTable, spread } from './report.js'
import type { Spread } from './report.js'
import type { BulkResult } from './ztunnel-http.js'

/** `reference`: the same load through the minimal Node HBONE pair (src/bench/workers/hbone-reference.ts). */
export const LATENCY_MODES = ['nomesh', 'mesh', 'reference'] as const
export type LatencyMode = (typeof LATENCY_MODES)[number]
/** `--capture inpod` adds these (src/bench/ztunnel-inpod.ts): the in-pod mesh and its own no-mesh baseline. */
export const INPOD_LATENCY_MODES = ['inpod-nomesh', 'inpod'] as const
export type InpodLatencyMode = (typeof INPOD_LATENCY_MODES)[number]
export type AnyLatencyMode = LatencyMode | InpodLatencyMode
export const BULK_MODES = ['direct', 'relay', 'mesh'] as const
export type BulkMode = (typeof BULK_MODES)[number]

export interface NamedWindow extends ProcWindow {
  /** 'ztunnel node-a', 'ztunnel node-b', 'loadgen', 'app'. */
  role: string
}

export interface LatencyRound {
  round: number
  mode: AnyLatencyMode
  result: OpenLoopResult
  /** CPU/RSS over the steady window (warm-up excluded). */
  processes: NamedWindow[]
}

export interface BulkRound {
  round: number
  mode: BulkMode
  result: BulkResult
}

export interface ModeLatency {
  achievedPerSec: Spread
  completed: Spread
  p50Ms: Spread
  p90Ms: Spread
  p99Ms: Spread
  maxMs: Spread
  /** Send lateness of the generator (actual − intended send time), p99: its own share of the tail. */
  sendLagP99Ms: Spread
}

export interface ProcessSummary {
  role: string
  mode: LatencyMode
  cores: Spread
  rssMeanMB: Spread
  /** VmHWM at the end of the window: peak since the process started. */
  hwmMB: Spread
  idleRssMB: number | undefined
  /** Mean RSS under load minus the idle RSS, per round. */
  rssIncrementMB: Spread
  /** CPU per request: cores ÷ achieved requests per second, in µs. */
  cpuUsPerRequest: Spread
}

export interface Target {
  name: string
  value: Spread
  unit: string
  target: string
  pass: boolean
  /**
   * Added latency only: some round had the mesh faster than no mesh at this percentile (a negative
   * difference), so the baseline's noise exceeds the budget and a PASS would mean nothing.
   */
  noisy?: boolean
}

export interface ZtunnelBenchSummary {
  latency: Record<LatencyMode, ModeLatency>
  addedMs: { p50: Spread; p90: Spread; p99: Spread }
  /** The same, through the reference HBONE pair instead of our ztunnels. */
  referenceAddedMs: { p50: Spread; p90: Spread; p99: Spread }
  /** Per round: the two ztunnels' CPU per request ÷ the reference pair's (sum of both processes each). */
  cpuVsReference: Spread
  processes: ProcessSummary[]
  throughputGbitPerSec: Record<BulkMode, Spread>
  /** mesh ÷ relay per round. */
  throughputRatio: Spread
  targets: Target[]
  /** Open-loop runs under 99 % of the target rate, or with errors: their figures are suspect. */
  rejected: { round: number; mode: AnyLatencyMode; reasons: string[] }[]
}

const ms = (us: number): number => us / 1000
const usPerRequest = (cores: number, perSec: number): number => (perSec > 0 ? (cores * 1e6) / perSec : Number.NaN)
/** Process roles of the proxies in each meshed mode: `ztunnel node-a`, …, and `reference client` / `reference server`. */
export const ZTUNNEL_ROLE = /^ztunnel /
export const REFERENCE_ROLE = /^reference /
const sumCores = (r: LatencyRound, role: RegExp): number => r.processes.filter((p) => role.test(p.role)).reduce((a, p) => a + p.cpuCores, 0)

export function summarize(latency: LatencyRound[], bulk: BulkRound[], idleRssMB: Record<string, number>): ZtunnelBenchSummary {
  const of = (mode: LatencyMode): LatencyRound[] => latency.filter((r) => r.mode === mode)
  const modeLatency = (mode: LatencyMode): ModeLatency => {
    const rs = of(mode)
    return {
      achievedPerSec: spread(rs.map((r) => r.result.achievedRatePerSec)),
      completed: spread(rs.map((r) => r.result.completed)),
      p50Ms: spread(rs.map((r) => ms(r.result.latency.p50Us))),
      p90Ms: spread(rs.map((r) => ms(r.result.latency.p90Us))),
      p99Ms: spread(rs.map((r) => ms(r.result.latency.p99Us))),
      maxMs: spread(rs.map((r) => ms(r.result.latency.maxUs))),
      sendLagP99Ms: spread(rs.map((r) => ms(r.result.sendLag.p99Us))),
    }
  }
  // Added latency per round, pairing the mesh run with the no-mesh run of the same round.
  const added = (key: 'p50Us' | 'p90Us' | 'p99Us', mode: LatencyMode = 'mesh'): Spread => {
    const diffs: number[] = []
    for (const m of of(mode)) {
      const base = of('nomesh').find((n) => n.round === m.round)
      if (base) diffs.push(ms(m.result.latency[key] - base.result.latency[key]))
    }
    return spread(diffs)
  }
  const roles = [...new Set(latency.flatMap((r) => r.processes.map((p) => p.role)))]
  const processes: ProcessSummary[] = []
  for (const mode of LATENCY_MODES) {
    for (const role of roles) {
      const ws = of(mode).flatMap((r) => r.processes.filter((p) => p.role === role))
      if (ws.length === 0) continue
      const idle = idleRssMB[role]
      processes.push({
        role,
        mode,
        cores: spread(ws.map((w) => w.cpuCores)),
        rssMeanMB: spread(ws.map((w) => w.rssMeanMB)),
        hwmMB: spread(ws.map((w) => w.hwmMB)),
        idleRssMB: idle,
        rssIncrementMB: spread(idle === undefined ? [] : ws.map((w) => w.rssMeanMB - idle)),
        cpuUsPerRequest: spread(
          of(mode).flatMap((r) =>
            r.processes.filter((p) => p.role === role).map((w) => usPerRequest(w.cpuCores, r.result.achievedRatePerSec)),
          ),
        ),
      })
    }
  }
  const bulkOf = (mode: BulkMode): number[] => bulk.filter((b) => b.mode === mode).map((b) => b.result.gbitPerSec)
  const ratios: number[] = []
  for (const m of bulk.filter((b) => b.mode === 'mesh')) {
    const relay = bulk.find((b) => b.mode === 'relay' && b.round === m.round)
    if (relay) ratios.push(m.result.gbitPerSec / relay.result.gbitPerSec)
  }
  const addedMs = { p50: added('p50Us'), p90: added('p90Us'), p99: added('p99Us') }
  const referenceAddedMs = { p50: added('p50Us', 'reference'), p90: added('p90Us', 'reference'), p99: added('p99Us', 'reference') }
  const cpuRatios: number[] = []
  for (const m of of('mesh')) {
    const ref = of('reference').find((r) => r.round === m.round)
    if (ref === undefined) continue
    const ours = usPerRequest(sumCores(m, ZTUNNEL_ROLE), m.result.achievedRatePerSec)
    const theirs = usPerRequest(sumCores(ref, REFERENCE_ROLE), ref.result.achievedRatePerSec)
    if (theirs > 0) cpuRatios.push(ours / theirs)
  }
  const throughputRatio = spread(ratios)
  const addedTarget = (name: string, value: Spread, boundMs: number): Target => ({
    name: `added latency ${name}`,
    value,
    unit: 'ms',
    target: `≤ ${boundMs} ms`,
    pass: value.median <= boundMs,
    ...(value.min < 0 ? { noisy: true } : {}),
  })
  const targets: Target[] = [
    addedTarget('p50', addedMs.p50, 0.25),
    addedTarget('p90', addedMs.p90, 0.5),
    addedTarget('p99', addedMs.p99, 1),
  ]
  for (const p of processes.filter((x) => x.mode === 'mesh' && x.role.startsWith('ztunnel'))) {
    targets.push({
      name: `${p.role} CPU at the target rate`,
      value: p.cores,
      unit: 'cores',
      target: '≤ 0.05 cores',
      pass: p.cores.median <= 0.05,
    })
  }
  // Issue 14's memory target is per ztunnel at 8 pods per node (`ambient compare`'s sweep); here, two pods.
  for (const p of processes.filter((x) => x.mode === 'mesh' && x.role.startsWith('ztunnel'))) {
    targets.push({ name: `${p.role} RSS under load`, value: p.rssMeanMB, unit: 'MB', target: '≤ 50 MB', pass: p.rssMeanMB.median <= 50 })
  }
  targets.push({
    name: 'throughput mesh ÷ relay',
    value: throughputRatio,
    unit: '×',
    target: '≥ 0.5×',
    pass: throughputRatio.median >= 0.5,
  })
  return {
    latency: { nomesh: modeLatency('nomesh'), mesh: modeLatency('mesh'), reference: modeLatency('reference') },
    addedMs,
    referenceAddedMs,
    cpuVsReference: spread(cpuRatios),
    processes,
    throughputGbitPerSec: { direct: spread(bulkOf('direct')), relay: spread(bulkOf('relay')), mesh: spread(bulkOf('mesh')) },
    throughputRatio,
    targets,
    rejected: latency.filter((r) => r.result.rejected).map((r) => ({ round: r.round, mode: r.mode, reasons: r.result.rejectReasons })),
  }
}

const MODE_LABEL: Record<LatencyMode | BulkMode, string> = {
  nomesh: 'no mesh (client → app)',
  mesh: 'mesh (SOCKS → ztunnel A → HBONE → ztunnel B → app)',
  reference: 'reference Node HBONE pair (client → ref A → HBONE → ref B → app)',
  direct: 'direct (client → sink)',
  relay: 'Node TCP relay (client → relay → sink)',
}

const addedRow = (label: string, a: { p50: Spread; p90: Spread; p99: Spread }): string[] => [
  label,
  '',
  formatSpread(a.p50, 3),
  formatSpread(a.p90, 3),
  formatSpread(a.p99, 3),
  '',
  '',
]

/** PASS or MISS; a PASS on a difference the baseline's noise swamps is NOISY (no verdict), a MISS stays a MISS. */
export function verdict(t: Target): string {
  if (!t.pass) return 'MISS'
  return t.noisy === true ? 'NOISY (mesh faster than no mesh in a round: no verdict)' : 'PASS'
}

export function formatSummary(s: ZtunnelBenchSummary): string {
  const right = (n: number): ('left' | 'right')[] => ['left', ...new Array<'right'>(n).fill('right')]
  const latency = formatTable(
    ['latency, from intended send (ms)', 'achieved/s', 'p50', 'p90', 'p99', 'max', 'gen lag p99'],
    [
      ...LATENCY_MODES.map((m) => {
        const l = s.latency[m]
        return [
          MODE_LABEL[m],
          formatSpread(l.achievedPerSec, 1),
          formatSpread(l.p50Ms, 3),
          formatSpread(l.p90Ms, 3),
          formatSpread(l.p99Ms, 3),
          formatSpread(l.maxMs, 2),
          formatSpread(l.sendLagP99Ms, 3),
        ]
      }),
      addedRow('added by two ztunnels (mesh − no mesh, per round)', s.addedMs),
      addedRow('added by the reference pair (reference − no mesh)', s.referenceAddedMs),
    ],
    right(6),
  )
  const procs = formatTable(
    ['process (steady window)', 'mode', 'cores', 'CPU µs/req', 'RSS mean MB', 'VmHWM MB', 'idle RSS MB', 'Δ RSS MB'],
    s.processes.map((p) => [
      p.role,
      p.mode,
      formatSpread(p.cores, 3),
      formatSpread(p.cpuUsPerRequest, 1),
      formatSpread(p.rssMeanMB, 1),
      formatSpread(p.hwmMB, 1),
      p.idleRssMB === undefined ? 'n/a' : p.idleRssMB.toFixed(1),
      formatSpread(p.rssIncrementMB, 1),
    ]),
    ['left', 'left', 'right', 'right', 'right', 'right', 'right', 'right'],
  )
  const ratio = `CPU per request, two ztunnels ÷ reference pair (per round): ${formatSpread(s.cpuVsReference, 2)} ×`
  const bulk = formatTable(
    ['single-stream throughput', 'Gb/s'],
    [
      ...BULK_MODES.map((m) => [MODE_LABEL[m], formatSpread(s.throughputGbitPerSec[m], 2)]),
      ['mesh ÷ relay (per round)', formatSpread(s.throughputRatio, 2)],
    ],
    right(1),
  )
  const targets = formatTable(
    ['target', 'median (min-max)', 'target', 'verdict'],
    s.targets.map((t) => [t.name, `${formatSpread(t.value, 3)} ${t.unit}`, t.target, verdict(t)]),
    ['left', 'right', 'left', 'left'],
  )
  const rejected =
    s.rejected.length === 0
      ? 'every open-loop run reached ≥ 99 % of its target rate without errors'
      : `REJECTED runs (figures suspect): ${s.rejected.map((r) => `round ${r.round} ${r.mode}: ${r.reasons.join('; ')}`).join(' | ')}`
  return [latency, '', procs, ratio, '', bulk, '', targets, '', rejected].join('\n')
}
