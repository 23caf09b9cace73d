// The figures of `bench:waypoint` (waypoint-bench.ts): per path (no mesh, ztunnel only, ztunnel →
// waypoint → ztunnel, and the reference L7 hop) the latency and latency added over no mesh in the
// same round, the waypoint's CPU and RSS against issue 14's targets, and, per round, our waypoint
// against the reference L7 hop (workers/l7-reference-proxy.ts) on the same load: CPU per 1000
// requests of each, ours ÷ reference CPU per request, both RSS and the reference path's added
// latency. Pure: built from the runs, printed by formatWaypoint.
import type { CompareSummary, LatencyRun, ModeRateSummary } from './compare-summary.js'
import type { ExtraRun } from './compare-extra.js'
import { formatSpread, formatTable, spread } from './report.js'
import type { Spread } from './report.js'
import type { Mode } from './compare-modes.js'

export const RATE = 1000
/** Envoy's figure for a waypoint at 1000 RPS in Istio's docs (performance and scalability page). */
export const TARGET_WAYPOINT_CORES = 0.25
/** Issue 14: the L7 path's added p99 at 1000 RPS, and the waypoint's RSS under that load. */
export const TARGET_ADDED_P99_MS = 2
export const TARGET_WAYPOINT_RSS_MB = 70
/** The key of the reference L7 path among compare's extra runs (waypoint-reference.ts). */
export const REFERENCE_L7 = 'reference-l7'
/** The reference hop's process among that path's processes. */
export const REFERENCE_WAYPOINT_ROLE = 'reference waypoint'

export interface PathRow {
  mode: Mode | typeof REFERENCE_L7
  path: string
  p50Us: Spread
  p99Us: Spread
  /** percentile − no mesh's in the same round; NaN spread for no mesh itself. */
  addedP50Us: Spread
  addedP99Us: Spread
  achievedRate: Spread
  rejectedRuns: number
}

export interface TargetRow {
  name: string
  ours: number | null
  unit: string
  target: string
  pass: boolean | null
}

export interface WaypointSummary {
  rate: number
  rounds: number
  paths: PathRow[]
  waypoint: { cpuCores: Spread; rssMeanMB: Spread; hwmMB: Spread; rssOverIdleMB: Spread }
  /** Added p99 of the waypoint path over the ztunnel-only path (the L7 hop alone), per round. */
  waypointHopP99Us: Spread
  targets: TargetRow[]
  /** Our waypoint against the reference L7 hop; absent when the reference path was not run. */
  reference?: ReferenceSummary
}

/** One round: our waypoint and the reference hop at the same rate, in the same round. */
export interface ReferenceRound {
  round: number
  /** Cores ÷ achieved RPS × 1000: CPU per 1000 requests per second. */
  oursCoresPer1k: number
  referenceCoresPer1k: number
  /** Ours ÷ reference CPU per request. */
  cpuRatio: number
  /** The whole path's proxies (ours: two ztunnels + the waypoint; reference: HBONE client + hop + HBONE server). */
  oursPathCoresPer1k: number
  referencePathCoresPer1k: number
  oursRssMB: number
  referenceRssMB: number
  referenceHwmMB: number
  /** The reference path's p50/p99 − no mesh's in the same round. */
  referenceAddedP50Us: number
  referenceAddedP99Us: number
  oursAddedP99Us: number
  /** Our L7 run or the reference run was REJECTED (under 99 % of the rate, or errors): a starved process batches, its CPU per request reads low. */
  rejected: boolean
}

export interface ReferenceSummary {
  rounds: ReferenceRound[]
  /** The spreads below are over the rounds without a REJECTED run when there is one, else over all. */
  spreadOver: 'clean rounds' | 'all rounds'
  oursCoresPer1k: Spread
  referenceCoresPer1k: Spread
  cpuRatio: Spread
  pathCpuRatio: Spread
  oursRssMB: Spread
  referenceRssMB: Spread
  referenceHwmMB: Spread
  referenceAddedP50Us: Spread
  referenceAddedP99Us: Spread
}

type Windowed = { result: LatencyRun['result']; processes: readonly { role: string; cpuCores: number; rssMeanMB: number; hwmMB: number }[] }

const sumOf = (w: Windowed, pick: (role: string) => boolean, f: (p: Windowed['processes'][number]) => number): number => {
  const ps = w.processes.filter((p) => pick(p.role))
  return ps.length === 0 ? Number.NaN : ps.reduce((a, p) => a + f(p), 0)
}
const per1k = (cores: number, w: Windowed): number => (cores / w.result.achievedRatePerSec) * 1000

/**
 * Per round, our waypoint (the ambient-l7 run) against the reference hop (the reference-l7 extra run)
 * at `rate`; rounds missing either side are left out. Undefined without any reference run.
 */
export function summarizeReference(
  runs: readonly LatencyRun[],
  extraRuns: readonly ExtraRun[],
  rate: number,
): ReferenceSummary | undefined {
  const refs = extraRuns.filter((r) => r.path === REFERENCE_L7 && r.rate === rate)
  if (refs.length === 0) return undefined
  const rounds: ReferenceRound[] = []
  for (const ref of refs) {
    const find = (m: Mode): LatencyRun | undefined => runs.find((r) => r.mode === m && r.rate === rate && r.round === ref.round)
    const l7 = find('ambient-l7')
    const nomesh = find('nomesh')
    if (l7 === undefined) continue
    const ours: Windowed = { result: l7.result, processes: l7.proxies }
    const isRef = (role: string): boolean => role === REFERENCE_WAYPOINT_ROLE
    const isOurs = (role: string): boolean => role === 'waypoint'
    const cpu = (p: { cpuCores: number }): number => p.cpuCores
    const oursCoresPer1k = per1k(sumOf(ours, isOurs, cpu), ours)
    const referenceCoresPer1k = per1k(sumOf(ref, isRef, cpu), ref)
    const oursPathCoresPer1k = per1k(
      sumOf(ours, () => true, cpu),
      ours,
    )
    const referencePathCoresPer1k = per1k(
      sumOf(ref, (role) => role.startsWith('reference '), cpu),
      ref,
    )
    const added = (w: Windowed, k: 'p50Us' | 'p99Us'): number =>
      nomesh === undefined ? Number.NaN : w.result.latency[k] - nomesh.result.latency[k]
    rounds.push({
      round: ref.round,
      oursCoresPer1k,
      referenceCoresPer1k,
      cpuRatio: oursCoresPer1k / referenceCoresPer1k,
      oursPathCoresPer1k,
      referencePathCoresPer1k,
      oursRssMB: sumOf(ours, isOurs, (p) => p.rssMeanMB),
      referenceRssMB: sumOf(ref, isRef, (p) => p.rssMeanMB),
      referenceHwmMB: sumOf(ref, isRef, (p) => p.hwmMB),
      referenceAddedP50Us: added(ref, 'p50Us'),
      referenceAddedP99Us: added(ref, 'p99Us'),
      oursAddedP99Us: added(ours, 'p99Us'),
      rejected: l7.result.rejected || ref.result.rejected,
    })
  }
  const clean = rounds.filter((r) => !r.rejected)
  const over = clean.length > 0 ? clean : rounds
  const of = (f: (r: ReferenceRound) => number): Spread => spread(over.map(f))
  return {
    rounds,
    spreadOver: clean.length > 0 ? 'clean rounds' : 'all rounds',
    oursCoresPer1k: of((r) => r.oursCoresPer1k),
    referenceCoresPer1k: of((r) => r.referenceCoresPer1k),
    cpuRatio: of((r) => r.cpuRatio),
    pathCpuRatio: of((r) => r.oursPathCoresPer1k / r.referencePathCoresPer1k),
    oursRssMB: of((r) => r.oursRssMB),
    referenceRssMB: of((r) => r.referenceRssMB),
    referenceHwmMB: of((r) => r.referenceHwmMB),
    referenceAddedP50Us: of((r) => r.referenceAddedP50Us),
    referenceAddedP99Us: of((r) => r.referenceAddedP99Us),
  }
}

/** The reference path's row of the paths table, from its runs and no mesh's of the same rounds. */
function referencePathRow(runs: readonly LatencyRun[], extraRuns: readonly ExtraRun[], rate: number): PathRow | undefined {
  const refs = extraRuns.filter((r) => r.path === REFERENCE_L7 && r.rate === rate)
  if (refs.length === 0) return undefined
  const nomesh = (round: number): LatencyRun | undefined => runs.find((r) => r.mode === 'nomesh' && r.rate === rate && r.round === round)
  const added = (k: 'p50Us' | 'p99Us'): Spread =>
    spread(refs.map((r) => r.result.latency[k] - (nomesh(r.round)?.result.latency[k] ?? Number.NaN)))
  return {
    mode: REFERENCE_L7,
    path: PATH_LABEL[REFERENCE_L7]!,
    p50Us: spread(refs.map((r) => r.result.latency.p50Us)),
    p99Us: spread(refs.map((r) => r.result.latency.p99Us)),
    addedP50Us: added('p50Us'),
    addedP99Us: added('p99Us'),
    achievedRate: spread(refs.map((r) => r.result.achievedRatePerSec)),
    rejectedRuns: refs.filter((r) => r.result.rejected).length,
  }
}

const PATH_LABEL: Record<string, string> = {
  nomesh: 'no mesh',
  'ambient-l4': 'ztunnel only (L4)',
  'ambient-l7': 'ztunnel → waypoint → ztunnel (L7)',
  [REFERENCE_L7]: 'reference: HBONE → Node L7 hop → HBONE',
}
const NONE: Spread = { median: Number.NaN, min: Number.NaN, max: Number.NaN, n: 0 }

export function summarizeWaypoint(
  s: CompareSummary,
  runs: readonly LatencyRun[],
  rounds: number,
  extraRuns: readonly ExtraRun[] = [],
): WaypointSummary {
  const row = (m: Mode): ModeRateSummary | undefined => s.byModeRate.find((r) => r.mode === m && r.rate === RATE)
  const paths: PathRow[] = (['nomesh', 'ambient-l4', 'ambient-l7'] as const).flatMap((m) => {
    const r = row(m)
    if (r === undefined) return []
    return [
      {
        mode: m,
        path: PATH_LABEL[m]!,
        p50Us: r.p50Us,
        p99Us: r.p99Us,
        addedP50Us: m === 'nomesh' ? NONE : r.addedP50Us,
        addedP99Us: m === 'nomesh' ? NONE : r.addedP99Us,
        achievedRate: r.achievedRate,
        rejectedRuns: r.rejectedRuns,
      },
    ]
  })
  const l7 = runs.filter((r) => r.mode === 'ambient-l7' && r.rate === RATE)
  const wp = (f: (p: LatencyRun['proxies'][number]) => number): Spread =>
    spread(
      l7.map((r) => {
        const ps = r.proxies.filter((p) => p.role === 'waypoint')
        return ps.length === 0 ? Number.NaN : ps.reduce((a, p) => a + f(p), 0)
      }),
    )
  const waypoint = {
    cpuCores: wp((p) => p.cpuCores),
    rssMeanMB: wp((p) => p.rssMeanMB),
    hwmMB: wp((p) => p.hwmMB),
    rssOverIdleMB: wp((p) => p.rssMeanMB - p.idleRssMB),
  }
  const hop = spread(
    l7.map((r) => {
      const l4 = runs.find((x) => x.mode === 'ambient-l4' && x.rate === RATE && x.round === r.round)
      return l4 === undefined ? Number.NaN : r.result.latency.p99Us - l4.result.latency.p99Us
    }),
  )
  const finite = (x: number): number | null => (Number.isFinite(x) ? x : null)
  const cpu = finite(waypoint.cpuCores.median)
  const rss = finite(waypoint.rssMeanMB.median)
  const addedP99 = finite((row('ambient-l7')?.addedP99Us.median ?? Number.NaN) / 1000)
  const targets: TargetRow[] = [
    {
      name: `waypoint CPU at ${RATE} RPS (Envoy in Istio's docs)`,
      ours: cpu,
      unit: 'cores',
      target: `≤ ${TARGET_WAYPOINT_CORES}`,
      pass: cpu === null ? null : cpu <= TARGET_WAYPOINT_CORES,
    },
    {
      name: `waypoint RSS at ${RATE} RPS (mean)`,
      ours: rss,
      unit: 'MB',
      target: `≤ ${TARGET_WAYPOINT_RSS_MB}`,
      pass: rss === null ? null : rss <= TARGET_WAYPOINT_RSS_MB,
    },
    {
      name: 'added p99 on the waypoint path over no mesh',
      ours: addedP99,
      unit: 'ms',
      target: `≤ ${TARGET_ADDED_P99_MS}`,
      pass: addedP99 === null ? null : addedP99 <= TARGET_ADDED_P99_MS,
    },
  ]
  const refRow = referencePathRow(runs, extraRuns, RATE)
  if (refRow !== undefined) paths.push(refRow)
  const reference = summarizeReference(runs, extraRuns, RATE)
  return { rate: RATE, rounds, paths, waypoint, waypointHopP99Us: hop, targets, ...(reference === undefined ? {} : { reference }) }
}

const ms = (s: Spread): string => formatSpread({ ...s, median: s.median / 1000, min: s.min / 1000, max: s.max / 1000 }, 2)

export function formatWaypoint(w: WaypointSummary): string {
  const out: string[] = []
  out.push(
    `waypoint bench at ${w.rate} RPS, 1 KiB responses (ms; median (min-max) over ${w.rounds} round(s); added = path − no mesh in the same round)`,
  )
  out.push(
    formatTable(
      ['path', 'p50', 'p99', '+p50', '+p99', 'RPS', 'runs'],
      w.paths.map((p) => [
        p.path,
        ms(p.p50Us),
        ms(p.p99Us),
        p.mode === 'nomesh' ? '-' : ms(p.addedP50Us),
        p.mode === 'nomesh' ? '-' : ms(p.addedP99Us),
        formatSpread(p.achievedRate, 0),
        p.rejectedRuns > 0 ? `${p.rejectedRuns} REJECTED` : 'ok',
      ]),
      ['left', 'right', 'right', 'right', 'right', 'right', 'left'],
    ),
  )
  out.push(`the waypoint hop alone (L7 − L4, p99): ${ms(w.waypointHopP99Us)} ms`)
  out.push('', 'the waypoint under load (CPU in cores; RSS in MB = 10^6 B: mean VmRSS, peak VmHWM, mean − idle)')
  out.push(
    formatTable(
      ['CPU', 'RSS', 'peak', 'over idle'],
      [
        [
          formatSpread(w.waypoint.cpuCores, 3),
          formatSpread(w.waypoint.rssMeanMB, 1),
          formatSpread(w.waypoint.hwmMB, 1),
          formatSpread(w.waypoint.rssOverIdleMB, 1),
        ],
      ],
      ['right', 'right', 'right', 'right'],
    ),
  )
  if (w.reference !== undefined) out.push('', ...formatReference(w.reference))
  out.push('', 'targets')
  out.push(
    formatTable(
      ['target', 'ours', 'limit', 'result'],
      w.targets.map((t) => [
        t.name,
        t.ours === null ? 'n/a' : `${t.ours.toFixed(t.unit === 'cores' ? 3 : t.unit === 'MB' ? 1 : 2)} ${t.unit}`,
        `${t.target} ${t.unit}`,
        t.pass === null ? '-' : t.pass ? 'PASS' : 'MISS',
      ]),
      ['left', 'right', 'right', 'left'],
    ),
  )
  if (w.paths.some((p) => p.rejectedRuns > 0))
    out.push('some runs were REJECTED (under 99 % of the rate, or errors): their figures measured less load')
  return out.join('\n')
}

const num = (x: number, digits: number): string => (Number.isFinite(x) ? x.toFixed(digits) : 'n/a')

function formatReference(r: ReferenceSummary): string[] {
  const row = (
    label: string,
    f: {
      ours: string
      ref: string
      ratio: string
      pathRatio: string
      oursRss: string
      refRss: string
      refHwm: string
      p50: string
      p99: string
    },
  ): string[] => [label, f.ours, f.ref, f.ratio, f.pathRatio, f.oursRss, f.refRss, f.refHwm, f.p50, f.p99]
  return [
    'our waypoint against the reference Node L7 hop (src/bench/workers/l7-reference-proxy.ts) on the same load, per round',
    '(CPU in cores per 1000 RPS = cores ÷ achieved RPS × 1000; ours ÷ ref = CPU per request; path = all proxies on the path;',
    ' RSS = mean VmRSS in MB, peak = VmHWM; ref +p50/+p99 = the reference path − no mesh, ms)',
    formatTable(
      ['round', 'ours CPU', 'ref CPU', 'ours ÷ ref', 'path ours ÷ ref', 'ours RSS', 'ref RSS', 'ref peak', 'ref +p50', 'ref +p99'],
      [
        ...r.rounds.map((x) =>
          row(`${x.round}${x.rejected ? ' REJECTED' : ''}`, {
            ours: num(x.oursCoresPer1k, 3),
            ref: num(x.referenceCoresPer1k, 3),
            ratio: num(x.cpuRatio, 2),
            pathRatio: num(x.oursPathCoresPer1k / x.referencePathCoresPer1k, 2),
            oursRss: num(x.oursRssMB, 1),
            refRss: num(x.referenceRssMB, 1),
            refHwm: num(x.referenceHwmMB, 1),
            p50: num(x.referenceAddedP50Us / 1000, 2),
            p99: num(x.referenceAddedP99Us / 1000, 2),
          }),
        ),
        row(r.spreadOver === 'clean rounds' && r.rounds.some((x) => x.rejected) ? 'median (clean)' : 'median', {
          ours: formatSpread(r.oursCoresPer1k, 3),
          ref: formatSpread(r.referenceCoresPer1k, 3),
          ratio: formatSpread(r.cpuRatio, 2),
          pathRatio: formatSpread(r.pathCpuRatio, 2),
          oursRss: formatSpread(r.oursRssMB, 1),
          refRss: formatSpread(r.referenceRssMB, 1),
          refHwm: formatSpread(r.referenceHwmMB, 1),
          p50: ms(r.referenceAddedP50Us),
          p99: ms(r.referenceAddedP99Us),
        }),
      ],
      ['left', 'right', 'right', 'right', 'right', 'right', 'right', 'right', 'right', 'right'],
    ),
    ...(r.rounds.some((x) => x.rejected)
      ? [
          'REJECTED: our L7 run or the reference run of that round fell under 99 % of the rate (or had errors): a starved process ' +
            `batches and its CPU per request reads low; the medians are over the ${r.spreadOver}`,
        ]
      : []),
  ]
}
