// `bench:ztunnel --capture inpod`: SOCKS5 capture vs in-pod capture from the rounds of one run. Per
// capture mode and round: added p50/p99 = percentile(mesh) − percentile(its own no-mesh baseline of
// the same round), and the ztunnels' cores (both ztunnels of that mode, summed, over the steady
// window). The target (issue 11): in-pod adds ≤ 0.05 ms p50 over SOCKS and costs no more CPU.
import { formatSpread, formatTable, spread, type Spread } from './report.js'
import type { AnyLatencyMode, LatencyRound } from './ztunnel-summary.js'

export const CAPTURE_MODES = ['socks', 'inpod'] as const
export type CaptureMode = (typeof CAPTURE_MODES)[number]

/** The (mesh, baseline) latency modes of each capture mode. */
export const CAPTURE_LATENCY_MODES: Record<CaptureMode, { mesh: AnyLatencyMode; base: AnyLatencyMode }> = {
  socks: { mesh: 'mesh', base: 'nomesh' },
  inpod: { mesh: 'inpod', base: 'inpod-nomesh' },
}

/** The target line's bound: in-pod's added p50 minus SOCKS' added p50, per round, median. */
export const INPOD_P50_BUDGET_MS = 0.05
export const CAPTURE_TARGET = `inpod adds ≤ ${INPOD_P50_BUDGET_MS} ms p50 over socks and costs no more CPU`

export interface CaptureFigures {
  addedP50Ms: Spread
  addedP99Ms: Spread
  /** Both ztunnels of this capture mode, summed per round. */
  ztunnelCores: Spread
}

export interface CaptureComparison {
  socks: CaptureFigures
  inpod: CaptureFigures
  /** inpod added p50 − socks added p50, per round. */
  p50OverSocksMs: Spread
  /** inpod ztunnel cores − socks ztunnel cores, per round. */
  coresOverSocks: Spread
  latencyPass: boolean
  cpuPass: boolean
  pass: boolean
}

const ms = (us: number): number => us / 1000

interface PerRound {
  addedP50: Map<number, number>
  addedP99: Map<number, number>
  cores: Map<number, number>
}

function perRound(latency: readonly LatencyRound[], mode: CaptureMode): PerRound {
  const { mesh, base } = CAPTURE_LATENCY_MODES[mode]
  const out: PerRound = { addedP50: new Map(), addedP99: new Map(), cores: new Map() }
  for (const m of latency.filter((r) => r.mode === mesh)) {
    const b = latency.find((r) => r.mode === base && r.round === m.round)
    if (b !== undefined) {
      out.addedP50.set(m.round, ms(m.result.latency.p50Us - b.result.latency.p50Us))
      out.addedP99.set(m.round, ms(m.result.latency.p99Us - b.result.latency.p99Us))
    }
    const zt = m.processes.filter((p) => p.role.startsWith('ztunnel'))
    if (zt.length > 0)
      out.cores.set(
        m.round,
        zt.reduce((sum, p) => sum + p.cpuCores, 0),
      )
  }
  return out
}

const diff = (a: Map<number, number>, b: Map<number, number>): number[] =>
  [...a.entries()].filter(([round]) => b.has(round)).map(([round, v]) => v - b.get(round)!)

/** Rounds without a value in both modes do not count; no paired round at all is a FAIL (NaN). */
export function compareCaptures(latency: readonly LatencyRound[]): CaptureComparison {
  const socks = perRound(latency, 'socks')
  const inpod = perRound(latency, 'inpod')
  const figures = (r: PerRound): CaptureFigures => ({
    addedP50Ms: spread([...r.addedP50.values()]),
    addedP99Ms: spread([...r.addedP99.values()]),
    ztunnelCores: spread([...r.cores.values()]),
  })
  const p50OverSocksMs = spread(diff(inpod.addedP50, socks.addedP50))
  const coresOverSocks = spread(diff(inpod.cores, socks.cores))
  const latencyPass = p50OverSocksMs.median <= INPOD_P50_BUDGET_MS
  const cpuPass = coresOverSocks.median <= 0
  return {
    socks: figures(socks),
    inpod: figures(inpod),
    p50OverSocksMs,
    coresOverSocks,
    latencyPass,
    cpuPass,
    pass: latencyPass && cpuPass,
  }
}

const LABEL: Record<CaptureMode, string> = {
  socks: 'socks (loadgen → SOCKS5 → ztunnel → HBONE → ztunnel → app)',
  inpod: 'inpod (loadgen in pod → REDIRECT → ztunnel → HBONE → TPROXY → ztunnel → app in pod)',
}

export function formatCaptureComparison(c: CaptureComparison, rate: number): string {
  const table = formatTable(
    [`capture at ${rate}/s (median (min-max) over rounds)`, 'added p50 ms', 'added p99 ms', 'ztunnel cores (both)'],
    [
      ...CAPTURE_MODES.map((m) => [
        LABEL[m],
        formatSpread(c[m].addedP50Ms, 3),
        formatSpread(c[m].addedP99Ms, 3),
        formatSpread(c[m].ztunnelCores, 3),
      ]),
      ['inpod − socks (per round)', formatSpread(c.p50OverSocksMs, 3), '', formatSpread(c.coresOverSocks, 3)],
    ],
    ['left', 'right', 'right', 'right'],
  )
  const why = [
    `p50 ${c.latencyPass ? 'within' : 'over'} ${INPOD_P50_BUDGET_MS} ms`,
    `CPU ${c.cpuPass ? 'no more' : 'more'} than socks`,
  ].join(', ')
  return `${table}\n\ntarget: ${CAPTURE_TARGET} → ${c.pass ? 'PASS' : 'FAIL'} (${why})`
}
