// The figures of `ambient compare`: per mode and rate, latency and latency added over no mesh
// (per round, then the median over rounds with min-max), mesh CPU (total and per proxy), proxy RSS
// (per proxy, total, peak, increase over idle), proxy counts; the pods-per-node memory sweep and the
// crossover; our ratios against the targets and next to Istio's published ones.
import type { OpenLoopResult } from './open-loop.js'
import { ANCHOR_TABLE_HEAD, anchorRows, anchorTableRows } from './compare-anchors.js'
import { formatSpread, formatTable, spread } from './report.js'
import type { Spread } from './report.js'
import { MODE_LABEL } from './compare-modes.js'
import type { Mode, ProxyProc } from './compare-modes.js'

/** Bump when a field changes meaning or goes away (the test pins the shape). */
export const COMPARE_SCHEMA_VERSION = 1

/** A process sampled over a steady window (a mesh proxy, or a bench's own process on an extra path). */
export interface ProcessWindow<R extends string = string> {
  role: R
  name: string
  cpuCores: number
  rssMeanMB: number
  rssMaxMB: number
  hwmMB: number
  idleRssMB: number
}

export type ProxyWindow = ProcessWindow<ProxyProc['role']>

export interface LatencyRun {
  round: number
  rate: number
  mode: Mode
  result: OpenLoopResult
  proxies: ProxyWindow[]
}

export interface SweepRun {
  podsPerNode: number
  mode: Mode
  /** Pods in the cluster that the mode's proxies serve (server pods + the client). */
  pods: number
  proxies: ProxyWindow[]
  /** The window's achieved rate and whether it was REJECTED (under 99 % of the rate, or errors). */
  achievedRate?: number
  rejected?: boolean
}

export interface ModeRateSummary {
  mode: Mode
  rate: number
  rounds: number
  rejectedRuns: number
  achievedRate: Spread
  p50Us: Spread
  p90Us: Spread
  p99Us: Spread
  /** percentile(mode) − percentile(no mesh) of the same round and rate; absent without no mesh. */
  addedP50Us: Spread
  addedP90Us: Spread
  addedP99Us: Spread
  /** Added p50 as a percentage of no mesh's p50 (the paper's "latency increase"). */
  increaseP50Pct: Spread
  proxies: number
  proxyRoles: Record<string, number>
  cpuTotalCores: Spread
  cpuPerProxyCores: Spread
  cpuByRole: Record<string, Spread>
  rssPerProxyMB: Spread
  rssTotalMB: Spread
  rssTotalPeakMB: Spread
  rssIncreaseMB: Spread
  rssByRole: Record<string, Spread>
}

export interface SweepSummary {
  podsPerNode: number
  mode: Mode
  pods: number
  proxies: number
  rssTotalMB: number
  rssPerProxyMB: number
  rssTotalPeakMB: number
  rssIncreaseMB: number
  idleTotalMB: number
  /** Achieved RPS of the window (null if not recorded); a REJECTED window measured less load. */
  achievedRate: number | null
  rejected: boolean
}

export interface RatioRow {
  name: string
  ours: number | null
  target: string
  pass: boolean | null
  published: string
  note: string
  /** 'ratio' (a quotient) or 'pct' (a percentage). */
  unit: 'ratio' | 'pct'
}

export interface CompareSummary {
  schemaVersion: number
  modes: Mode[]
  unavailable: { mode: Mode; reason: string }[]
  rates: number[]
  byModeRate: ModeRateSummary[]
  sweep: SweepSummary[]
  crossover: { mode: Mode; podsPerNode: number | null; note: string }[]
  ratios: RatioRow[]
}

/** Istio's published figures printed next to ours. */
export const PUBLISHED = {
  ztunnelOverSidecarCpu: 0.3,
  ztunnelOverSidecarMemory: 0.2,
  latencyIncreasePct: { ambient: 8, sidecar: 166, atRate: 3200 },
  sources: [
    'Istio 1.24 performance page: per proxy at 1000 RPS, 1 KiB: sidecar ≈0.20 vCPU / 60 MB, ztunnel ≈0.06 vCPU / 12 MB (ratios 0.30 CPU, 0.20 memory)',
    'arXiv 2411.02267: latency increase with mTLS at ~3,200 RPS: ambient +8 %, sidecar +166 %',
  ],
} as const

const sum = (xs: readonly number[]): number => xs.reduce((a, b) => a + b, 0)

function byRole(proxies: readonly ProxyWindow[], f: (p: ProxyWindow) => number): Record<string, number> {
  const out: Record<string, number> = {}
  for (const p of proxies) out[p.role] = (out[p.role] ?? 0) + f(p)
  return out
}

function roleSpreads(runs: readonly LatencyRun[], f: (p: ProxyWindow) => number, perProxy: boolean): Record<string, Spread> {
  const roles = [...new Set(runs.flatMap((r) => r.proxies.map((p) => p.role)))]
  const out: Record<string, Spread> = {}
  for (const role of roles) {
    out[role] = spread(
      runs.map((r) => {
        const ps = r.proxies.filter((p) => p.role === role)
        return ps.length === 0 ? Number.NaN : sum(ps.map(f)) / (perProxy ? ps.length : 1)
      }),
    )
  }
  return out
}

export function summarize(
  modes: readonly Mode[],
  unavailable: CompareSummary['unavailable'],
  rates: readonly number[],
  runs: readonly LatencyRun[],
  sweepRuns: readonly SweepRun[],
): CompareSummary {
  const byModeRate: ModeRateSummary[] = []
  for (const rate of rates) {
    for (const mode of modes) {
      const mine = runs.filter((r) => r.mode === mode && r.rate === rate)
      if (mine.length === 0) continue
      const base = (round: number): LatencyRun | undefined => runs.find((r) => r.mode === 'nomesh' && r.rate === rate && r.round === round)
      const added = (f: (r: LatencyRun) => number): Spread =>
        spread(
          mine.map((r) => {
            const b = base(r.round)
            return b === undefined ? Number.NaN : f(r) - f(b)
          }),
        )
      const first = mine[0]!
      const proxyRoles = byRole(first.proxies, () => 1)
      byModeRate.push({
        mode,
        rate,
        rounds: mine.length,
        rejectedRuns: mine.filter((r) => r.result.rejected).length,
        achievedRate: spread(mine.map((r) => r.result.achievedRatePerSec)),
        p50Us: spread(mine.map((r) => r.result.latency.p50Us)),
        p90Us: spread(mine.map((r) => r.result.latency.p90Us)),
        p99Us: spread(mine.map((r) => r.result.latency.p99Us)),
        addedP50Us: added((r) => r.result.latency.p50Us),
        addedP90Us: added((r) => r.result.latency.p90Us),
        addedP99Us: added((r) => r.result.latency.p99Us),
        increaseP50Pct: spread(
          mine.map((r) => {
            const b = base(r.round)
            return b === undefined || b.result.latency.p50Us <= 0
              ? Number.NaN
              : ((r.result.latency.p50Us - b.result.latency.p50Us) / b.result.latency.p50Us) * 100
          }),
        ),
        proxies: first.proxies.length,
        proxyRoles,
        cpuTotalCores: spread(mine.map((r) => (r.proxies.length === 0 ? Number.NaN : sum(r.proxies.map((p) => p.cpuCores))))),
        cpuPerProxyCores: spread(
          mine.map((r) => (r.proxies.length === 0 ? Number.NaN : sum(r.proxies.map((p) => p.cpuCores)) / r.proxies.length)),
        ),
        cpuByRole: roleSpreads(mine, (p) => p.cpuCores, true),
        rssPerProxyMB: spread(
          mine.map((r) => (r.proxies.length === 0 ? Number.NaN : sum(r.proxies.map((p) => p.rssMeanMB)) / r.proxies.length)),
        ),
        rssTotalMB: spread(mine.map((r) => (r.proxies.length === 0 ? Number.NaN : sum(r.proxies.map((p) => p.rssMeanMB))))),
        rssTotalPeakMB: spread(mine.map((r) => (r.proxies.length === 0 ? Number.NaN : sum(r.proxies.map((p) => p.hwmMB))))),
        rssIncreaseMB: spread(
          mine.map((r) => (r.proxies.length === 0 ? Number.NaN : sum(r.proxies.map((p) => p.rssMeanMB - p.idleRssMB)))),
        ),
        rssByRole: roleSpreads(mine, (p) => p.rssMeanMB, true),
      })
    }
  }

  const sweep: SweepSummary[] = sweepRuns.map((s) => {
    const total = sum(s.proxies.map((p) => p.rssMeanMB))
    return {
      podsPerNode: s.podsPerNode,
      mode: s.mode,
      pods: s.pods,
      proxies: s.proxies.length,
      rssTotalMB: total,
      rssPerProxyMB: s.proxies.length === 0 ? Number.NaN : total / s.proxies.length,
      rssTotalPeakMB: sum(s.proxies.map((p) => p.hwmMB)),
      rssIncreaseMB: sum(s.proxies.map((p) => p.rssMeanMB - p.idleRssMB)),
      idleTotalMB: sum(s.proxies.map((p) => p.idleRssMB)),
      achievedRate: s.achievedRate ?? null,
      rejected: s.rejected ?? false,
    }
  })

  const crossover: CompareSummary['crossover'] = []
  const sidecarSweep = sweep.filter((s) => s.mode === 'sidecar')
  for (const mode of ['ambient-l4', 'ambient-l7'] as const) {
    const points = sweep.filter((s) => s.mode === mode)
    if (points.length === 0) continue
    if (sidecarSweep.length === 0) {
      crossover.push({ mode, podsPerNode: null, note: 'no sidecar figures in this run' })
      continue
    }
    const hit = points.find((p) => {
      const sc = sidecarSweep.find((s) => s.podsPerNode === p.podsPerNode)
      return sc !== undefined && p.rssTotalMB < sc.rssTotalMB
    })
    crossover.push({
      mode,
      podsPerNode: hit?.podsPerNode ?? null,
      note:
        hit === undefined
          ? 'ambient never cost less within the sweep'
          : `ambient memory below the summed sidecars from ${hit.podsPerNode} pod(s) per node`,
    })
  }

  return {
    schemaVersion: COMPARE_SCHEMA_VERSION,
    modes: [...modes],
    unavailable: [...unavailable],
    rates: [...rates],
    byModeRate,
    sweep,
    crossover,
    ratios: ratios(rates, byModeRate, sweep),
  }
}

function ratios(rates: readonly number[], rows: readonly ModeRateSummary[], sweep: readonly SweepSummary[]): RatioRow[] {
  const at = (mode: Mode, rate: number): ModeRateSummary | undefined => rows.find((r) => r.mode === mode && r.rate === rate)
  const cpuRate = rates.includes(1000) ? 1000 : rates[0]!
  const zt = at('ambient-l4', cpuRate)?.cpuByRole['ztunnel']?.median
  const sc = at('sidecar', cpuRate)?.cpuByRole['sidecar']?.median
  const div = (a: number | undefined, b: number | undefined): number | null =>
    a === undefined || b === undefined || !Number.isFinite(a) || !Number.isFinite(b) || b <= 0 ? null : a / b
  const cpu = div(zt, sc)
  const totalA = at('ambient-l4', cpuRate)?.cpuTotalCores.median
  const totalS = at('sidecar', cpuRate)?.cpuTotalCores.median
  // Memory: from the sweep at 8 pods per node (or its largest size); without a sweep (bookinfo: a
  // fixed set of pods), from the latency runs' mean RSS at the CPU rate.
  const memPods = sweep.some((s) => s.podsPerNode === 8) ? 8 : Math.max(0, ...sweep.map((s) => s.podsPerNode))
  const fromSweep = sweep.length > 0
  const memA = fromSweep
    ? sweep.find((s) => s.mode === 'ambient-l4' && s.podsPerNode === memPods)?.rssTotalMB
    : at('ambient-l4', cpuRate)?.rssTotalMB.median
  const memS = fromSweep
    ? sweep.find((s) => s.mode === 'sidecar' && s.podsPerNode === memPods)?.rssTotalMB
    : at('sidecar', cpuRate)?.rssTotalMB.median
  const mem = div(memA, memS)
  const memWhere = fromSweep ? `at ${memPods} pods/node` : `under load at ${cpuRate} RPS (the scenario's pods)`
  // Latency: added over no mesh; without a no-mesh baseline (bookinfo), the whole request's p50.
  const addA = at('ambient-l4', cpuRate)?.addedP50Us.median
  const addS = at('sidecar', cpuRate)?.addedP50Us.median
  const added = addA !== undefined && Number.isFinite(addA)
  const latA = added ? addA : at('ambient-l4', cpuRate)?.p50Us.median
  const latS = added ? addS : at('sidecar', cpuRate)?.p50Us.median
  const lat = div(latA, latS)
  const topRate = Math.max(...rates)
  const incA = at('ambient-l4', topRate)?.increaseP50Pct.median
  const incS = at('sidecar', topRate)?.increaseP50Pct.median
  const pct = (x: number | undefined): string => (x === undefined || !Number.isFinite(x) ? 'n/a' : `${x >= 0 ? '+' : ''}${x.toFixed(0)} %`)
  const noSidecar = 'needs sidecar mode (not in this run)'
  const wp = at('ambient-l7', cpuRate)?.cpuByRole['waypoint']?.median
  return [
    {
      name: `CPU per proxy, ztunnel ÷ sidecar at ${cpuRate} RPS`,
      ours: cpu,
      target: '≤ 0.30',
      pass: cpu === null ? null : cpu <= 0.3,
      published: '0.30 (Istio 1.24)',
      note:
        cpu === null
          ? noSidecar
          : `ztunnel ${zt!.toFixed(3)} vs sidecar ${sc!.toFixed(3)} cores; mesh total ${totalA?.toFixed(3) ?? 'n/a'} vs ${totalS?.toFixed(3) ?? 'n/a'}`,
      unit: 'ratio',
    },
    {
      name: `total mesh memory, ambient L4 ÷ sidecar ${memWhere}`,
      ours: mem,
      target: fromSweep ? '≤ 0.20' : '-',
      pass: mem === null || !fromSweep ? null : mem <= 0.2,
      published: '0.20 per proxy (Istio 1.24)',
      note: mem === null ? noSidecar : `${memA!.toFixed(0)} vs ${memS!.toFixed(0)} MB`,
      unit: 'ratio',
    },
    {
      name: added
        ? `added p50, ambient L4 ÷ sidecar at ${cpuRate} RPS`
        : `whole-request p50 (no no-mesh baseline), ambient L4 ÷ sidecar at ${cpuRate} RPS`,
      ours: lat,
      target: added ? '≤ 0.4' : '-',
      pass: lat === null || !added ? null : lat <= 0.4,
      published: '≈0.74 at p90 (Istio: +0.17 vs +0.23 ms)',
      note: lat === null ? noSidecar : `${(latA! / 1000).toFixed(2)} vs ${(latS! / 1000).toFixed(2)} ms`,
      unit: 'ratio',
    },
    {
      name: `p50 increase over no mesh at ${topRate} RPS: ambient L4 | sidecar`,
      ours: incA === undefined || !Number.isFinite(incA) ? null : incA,
      target: '-',
      pass: null,
      published:
        `ambient +${PUBLISHED.latencyIncreasePct.ambient} % | sidecar ` +
        `+${PUBLISHED.latencyIncreasePct.sidecar} % at ${PUBLISHED.latencyIncreasePct.atRate} RPS (arXiv ` +
        `2411.02267)`,
      note: `ours: ambient ${pct(incA)} | sidecar ${pct(incS)}`,
      unit: 'pct',
    },
    {
      name: `CPU per proxy, ztunnel ÷ waypoint at ${cpuRate} RPS`,
      ours: div(zt, wp),
      target: '-',
      pass: null,
      published: '0.24 (ztunnel 0.06 ÷ waypoint 0.25, Istio 1.24)',
      note: 'context: the L7 hop',
      unit: 'ratio',
    },
  ]
}

const ms = (s: Spread): string => formatSpread({ ...s, median: s.median / 1000, min: s.min / 1000, max: s.max / 1000 }, 2)

/** The latency table's columns before the runs column (whose label each report names). */
export const LATENCY_TABLE_HEAD = ['RPS', 'mode', 'p50', 'p90', 'p99', '+p50', '+p90', '+p99', '+p50 %'] as const
const LATENCY_ALIGN = ['right', 'left', 'right', 'right', 'right', 'right', 'right', 'right', 'right', 'left'] as const
const SWEEP_ALIGN = ['right', 'left', 'right', 'right', 'right', 'right', 'right', 'right', 'left'] as const

/** One mode at one rate, in LATENCY_TABLE_HEAD's order (ms; the added columns are '-' for no mesh). */
export function latencyCells(r: ModeRateSummary): string[] {
  const added = (cell: string): string => (r.mode === 'nomesh' ? '-' : cell)
  return [
    String(r.rate),
    MODE_LABEL[r.mode],
    ms(r.p50Us),
    ms(r.p90Us),
    ms(r.p99Us),
    added(ms(r.addedP50Us)),
    added(ms(r.addedP90Us)),
    added(ms(r.addedP99Us)),
    added(formatSpread(r.increaseP50Pct, 0)),
  ]
}

/** The cost table's first cells: rate, mode, its proxies by role, CPU in total and per proxy (cores). */
export function cpuCells(r: ModeRateSummary): string[] {
  return [
    String(r.rate),
    MODE_LABEL[r.mode],
    Object.entries(r.proxyRoles)
      .map(([k, v]) => `${v} ${k}`)
      .join(' + '),
    formatSpread(r.cpuTotalCores, 3),
    formatSpread(r.cpuPerProxyCores, 3),
  ]
}

/** The cost table's memory cells (MB): per proxy, total, summed peak, increase over idle. */
export function rssCells(r: ModeRateSummary): string[] {
  return [
    formatSpread(r.rssPerProxyMB, 1),
    formatSpread(r.rssTotalMB, 1),
    formatSpread(r.rssTotalPeakMB, 1),
    formatSpread(r.rssIncreaseMB, 1),
  ]
}

export function formatSummary(s: CompareSummary): string {
  const out: string[] = []
  const lat = s.byModeRate.map((r) => [...latencyCells(r), r.rejectedRuns > 0 ? `${r.rejectedRuns} REJECTED` : 'ok'])
  out.push('latency (ms, median (min-max) over rounds; added = mode − no mesh in the same round)')
  out.push(formatTable([...LATENCY_TABLE_HEAD, 'runs'], lat, LATENCY_ALIGN))
  const res = s.byModeRate
    .filter((r) => r.mode !== 'nomesh')
    .map((r) => [
      ...cpuCells(r),
      Object.entries(r.cpuByRole)
        .map(([k, v]) => `${k} ${v.median.toFixed(3)}`)
        .join(', '),
      ...rssCells(r),
    ])
  out.push('', 'mesh cost under load (CPU in cores; RSS in MB = 10^6 B; peak = summed VmHWM; increase = mean RSS − idle RSS)')
  out.push(
    formatTable(
      ['RPS', 'mode', 'proxies', 'CPU total', 'CPU/proxy', 'CPU per proxy by role', 'RSS/proxy', 'RSS total', 'peak', 'over idle'],
      res,
      ['right', 'left', 'left', 'right', 'right', 'left', 'right', 'right', 'right', 'right'],
    ),
  )
  if (s.sweep.length > 0) {
    out.push('', "memory vs pods per node (2 nodes; MB, mean RSS of the mode's proxies under load)")
    out.push(formatTable([...SWEEP_TABLE_HEAD, 'RPS'], sweepTableRows(s.sweep), SWEEP_ALIGN))
    for (const c of s.crossover)
      out.push(`crossover (${MODE_LABEL[c.mode]}): ${c.podsPerNode === null ? 'n/a' : `${c.podsPerNode} pods per node`}: ${c.note}`)
  }
  out.push('', "ratios: ours (this run) next to Istio's published ones")
  out.push(
    formatTable(
      ['ratio', 'ours', 'target', 'result', 'published', 'note'],
      s.ratios.map((r) => [r.name, formatRatio(r), r.target, r.pass === null ? '-' : r.pass ? 'PASS' : 'MISS', r.published, r.note]),
    ),
  )
  out.push('', 'our proxies against the real ones (absolute, per proxy; median (min-max) over rounds)')
  out.push(formatTable([...ANCHOR_TABLE_HEAD], anchorTableRows(anchorRows(s))))
  const rounds = Math.max(0, ...s.byModeRate.map((r) => r.rounds))
  if (rounds < 3)
    out.push(
      `note: ${rounds} round(s): min-max needs at least 3 interleaved rounds (--rounds 3, the default without --quick) before a swing between runs shows`,
    )
  for (const u of s.unavailable) out.push(`not measured: ${MODE_LABEL[u.mode]}: ${u.reason}`)
  return out.join('\n')
}

/** The sweep table's columns before the rate column (whose label each report names). */
export const SWEEP_TABLE_HEAD = ['pods/node', 'mode', 'proxies', 'RSS total', 'RSS/proxy', 'peak', 'idle', 'over idle'] as const

/** One row a sweep window, in SWEEP_TABLE_HEAD's order, then the achieved rate. */
export function sweepTableRows(sweep: readonly SweepSummary[]): string[][] {
  return sweep.map((w) => [
    String(w.podsPerNode),
    MODE_LABEL[w.mode],
    String(w.proxies),
    w.rssTotalMB.toFixed(1),
    w.rssPerProxyMB.toFixed(1),
    w.rssTotalPeakMB.toFixed(1),
    w.idleTotalMB.toFixed(1),
    w.rssIncreaseMB.toFixed(1),
    sweepRate(w),
  ])
}

/** The sweep window's achieved rate, marked when REJECTED (its RSS is under less load). */
export function sweepRate(w: SweepSummary): string {
  const rate = w.achievedRate === null ? '-' : w.achievedRate.toFixed(0)
  return w.rejected ? `${rate} REJECTED` : rate
}

/** A ratio with two decimals, a percentage as "+N %". */
export function formatRatio(r: RatioRow): string {
  if (r.ours === null) return 'n/a'
  return r.unit === 'pct' ? `${r.ours >= 0 ? '+' : ''}${r.ours.toFixed(0)} %` : r.ours.toFixed(2)
}
