// `bench:ztunnel --capture inpod`: SOCKS5 capture vs in-pod capture from the rounds of one run. Per
// capture mode and round: added p50/p99 = percentile(mesh) − percentile(its own no-mesh baseline of
// the same round), and the ztunnels' cores (both ztunnels of that mode, summed, over the steady
// window). The target (issue 11): in-pod adds ≤ 0.05 ms p50 over SOCKS and costs no more CPU.
//
// Both verdicts compare the captures on equal networks. SOCKS runs on one loopback; in-pod traffic
// crosses veths, bridges and routing between namespaces, and the kernel charges that work to the
// sending process (the ztunnels, in the mesh rounds). Latency already nets it out (each capture over
// its own baseline); CPU does the same: the network's own cost is the in-pod baseline's load
// generator and app minus the same programs on loopback (one crossing per request each way, as the
// HBONE leg makes), and the CPU verdict reads inpod − socks − that, per round. The raw inpod − socks
// difference is printed next to it.
import { formatSpread, formatTable, spread, type Spread } from './report.js'
import type { AnyLatencyMode, LatencyRound, NamedWindow } from './ztunnel-summary.js'

export const CAPTURE_MODES = ['socks', 'inpod'] as const
export type CaptureMode = (typeof CAPTURE_MODES)[number]

/** The (mesh, baseline) latency modes of each capture mode. */
export const CAPTURE_LATENCY_MODES: Record<CaptureMode, { mesh: AnyLatencyMode; base: AnyLatencyMode }> = {
  socks: { mesh: 'mesh', base: 'nomesh' },
  inpod: { mesh: 'inpod', base: 'inpod-nomesh' },
}

/** The target line's bound: in-pod's added p50 minus SOCKS' added p50, per round, median. */
export const INPOD_P50_BUDGET_MS = 0.05
export const CAPTURE_TARGET = `inpod adds ≤ ${INPOD_P50_BUDGET_MS} ms p50 over socks and costs no more CPU (on equal networks)`

export interface CaptureFigures {
  addedP50Ms: Spread
  addedP99Ms: Spread
  /** Both ztunnels of this capture mode, summed per round. */
  ztunnelCores: Spread
  /** The kernel's share of ztunnelCores (stime). */
  ztunnelSysCores: Spread
}

export interface CaptureComparison {
  socks: CaptureFigures
  inpod: CaptureFigures
  /** inpod added p50 − socks added p50, per round. */
  p50OverSocksMs: Spread
  /** inpod ztunnel cores − socks ztunnel cores, per round. */
  coresOverSocks: Spread
  /**
   * What the pods' network costs by itself, per round: the load generator and app of the in-pod
   * baseline (veths, bridges, routing between namespaces) minus the same programs on loopback.
   */
  networkCores: Spread
  /** coresOverSocks − networkCores per round: what capture costs on top of the network it runs over. */
  captureCores: Spread
  latencyPass: boolean
  cpuPass: boolean
  pass: boolean
}

const ms = (us: number): number => us / 1000

interface PerRound {
  addedP50: Map<number, number>
  addedP99: Map<number, number>
  cores: Map<number, number>
  sysCores: Map<number, number>
  /** The baseline's load generator and app, summed. */
  baseCores: Map<number, number>
}

const sum = (procs: readonly NamedWindow[], pick: (p: NamedWindow) => number): number => procs.reduce((a, p) => a + pick(p), 0)

function perRound(latency: readonly LatencyRound[], mode: CaptureMode): PerRound {
  const { mesh, base } = CAPTURE_LATENCY_MODES[mode]
  const out: PerRound = { addedP50: new Map(), addedP99: new Map(), cores: new Map(), sysCores: new Map(), baseCores: new Map() }
  for (const m of latency.filter((r) => r.mode === mesh)) {
    const b = latency.find((r) => r.mode === base && r.round === m.round)
    if (b !== undefined) {
      out.addedP50.set(m.round, ms(m.result.latency.p50Us - b.result.latency.p50Us))
      out.addedP99.set(m.round, ms(m.result.latency.p99Us - b.result.latency.p99Us))
      const apps = b.processes.filter((p) => p.role === 'loadgen' || p.role === 'app')
      if (apps.length === 2)
        out.baseCores.set(
          m.round,
          sum(apps, (p) => p.cpuCores),
        )
    }
    const zt = m.processes.filter((p) => p.role.startsWith('ztunnel'))
    if (zt.length > 0) {
      out.cores.set(
        m.round,
        sum(zt, (p) => p.cpuCores),
      )
      out.sysCores.set(
        m.round,
        sum(zt, (p) => p.sysCores),
      )
    }
  }
  return out
}

const diff = (a: Map<number, number>, b: Map<number, number>): number[] =>
  [...a.entries()].filter(([round]) => b.has(round)).map(([round, v]) => v - b.get(round)!)

/** Rounds without a value in both modes (and both baselines, for CPU) do not count; no paired round at all is a FAIL (NaN). */
export function compareCaptures(latency: readonly LatencyRound[]): CaptureComparison {
  const socks = perRound(latency, 'socks')
  const inpod = perRound(latency, 'inpod')
  const figures = (r: PerRound): CaptureFigures => ({
    addedP50Ms: spread([...r.addedP50.values()]),
    addedP99Ms: spread([...r.addedP99.values()]),
    ztunnelCores: spread([...r.cores.values()]),
    ztunnelSysCores: spread([...r.sysCores.values()]),
  })
  const p50OverSocksMs = spread(diff(inpod.addedP50, socks.addedP50))
  const coresOver = new Map(
    [...inpod.cores].filter(([round]) => socks.cores.has(round)).map(([round, v]) => [round, v - socks.cores.get(round)!]),
  )
  const network = new Map(
    [...inpod.baseCores].filter(([round]) => socks.baseCores.has(round)).map(([round, v]) => [round, v - socks.baseCores.get(round)!]),
  )
  const coresOverSocks = spread([...coresOver.values()])
  const networkCores = spread([...network.values()])
  const captureCores = spread(diff(coresOver, network))
  const latencyPass = p50OverSocksMs.median <= INPOD_P50_BUDGET_MS
  const cpuPass = captureCores.median <= 0
  return {
    socks: figures(socks),
    inpod: figures(inpod),
    p50OverSocksMs,
    coresOverSocks,
    networkCores,
    captureCores,
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
    [`capture at ${rate}/s (median (min-max) over rounds)`, 'added p50 ms', 'added p99 ms', 'ztunnel cores (both)', 'of which kernel'],
    [
      ...CAPTURE_MODES.map((m) => [
        LABEL[m],
        formatSpread(c[m].addedP50Ms, 3),
        formatSpread(c[m].addedP99Ms, 3),
        formatSpread(c[m].ztunnelCores, 3),
        formatSpread(c[m].ztunnelSysCores, 3),
      ]),
      ['inpod − socks (per round)', formatSpread(c.p50OverSocksMs, 3), '', formatSpread(c.coresOverSocks, 3), ''],
      ["the pods' network alone (in-pod baseline − loopback baseline, loadgen + app)", '', '', formatSpread(c.networkCores, 3), ''],
      ['inpod − socks − the network (per round)', '', '', formatSpread(c.captureCores, 3), ''],
    ],
    ['left', 'right', 'right', 'right', 'right'],
  )
  const why = [
    `p50 ${c.latencyPass ? 'within' : 'over'} ${INPOD_P50_BUDGET_MS} ms`,
    `CPU ${c.cpuPass ? 'no more' : 'more'} than socks once the network is netted out`,
  ].join(', ')
  return `${table}\n\ntarget: ${CAPTURE_TARGET} → ${c.pass ? 'PASS' : 'FAIL'} (${why})`
}
