// One measured window of `ambient compare` (open loop along a mode's route, the mode's proxies sampled
// over the steady part only), and the pods-per-node memory sweep built from it: for each count a
// fresh cluster per data plane (ambient: ztunnels + waypoint; sidecar: one sidecar per pod) with that
// many server pods on every node, the proxies' idle RSS once it has settled after start, then load
// through each mode and their RSS under it.
import { ProcSampler, kibToMB, readMemory } from './proc-stats.js'
import type { Loadgen } from './ztunnel-procs.js'
import type { Mode, Topology } from './compare-modes.js'
import type { LatencyRun, ProcessWindow, SweepRun } from './compare-summary.js'
import type { OpenLoopResult } from './open-loop.js'
import type { Route } from './ztunnel-http.js'
import type { CompareLatencyTask } from './workers/compare-loadgen.js'

export interface WindowOptions {
  rate: number
  seconds: number
  warmupS: number
  connections: number
}

export interface SettleOptions {
  /** RSS read every this many ms. */
  intervalMs: number
  /** Stable = every proxy's RSS moved by at most max(`toleranceMB`, 1 %) over the last `windowMs`. */
  windowMs: number
  toleranceMB: number
  /** Give up waiting (and take the last reading) after this long. */
  timeoutMs: number
}

export const DEFAULT_SETTLE: SettleOptions = { intervalMs: 200, windowMs: 1000, toleranceMB: 0.5, timeoutMs: 10_000 }
/** `--quick` (a smoke run): the same rule, a shorter wait; an unsettled reading is logged as such. */
export const QUICK_SETTLE: SettleOptions = { ...DEFAULT_SETTLE, timeoutMs: 3_000 }

/** Whether every series' last `n` readings stay within max(toleranceMB, 1 % of their last value). */
export function isSettled(series: readonly (readonly number[])[], n: number, toleranceMB: number): boolean {
  return series.every((xs) => {
    if (xs.length < n) return false
    const tail = xs.slice(-n)
    return Math.max(...tail) - Math.min(...tail) <= Math.max(toleranceMB, 0.01 * tail.at(-1)!)
  })
}

/**
 * Idle RSS of the modes' proxies (MB by pid), read once it has settled: a freshly started proxy
 * still grows for a moment (JIT, config, certificates, first connections), so RSS is polled until
 * every proxy holds still for `windowMs` (bounded by `timeoutMs`; then the last readings are used
 * and `settled` is false).
 */
export function idleRss(
  topo: Topology,
  modes: readonly Mode[],
  o: SettleOptions = DEFAULT_SETTLE,
): Promise<{ idle: Map<number, number>; settled: boolean; waitedMs: number }> {
  return idleRssOf([...new Set(modes.flatMap((m) => topo.proxies(m).map((p) => p.pid)))], o)
}

/** idleRss for any processes (by pid). */
export async function idleRssOf(
  pids: readonly number[],
  o: SettleOptions = DEFAULT_SETTLE,
): Promise<{ idle: Map<number, number>; settled: boolean; waitedMs: number }> {
  const series = pids.map(() => [] as number[])
  const n = Math.max(2, Math.round(o.windowMs / o.intervalMs) + 1)
  const started = Date.now()
  let settled = false
  for (;;) {
    pids.forEach((pid, i) => series[i]!.push(kibToMB(readMemory(pid).vmRssKiB)))
    if (isSettled(series, n, o.toleranceMB)) {
      settled = true
      break
    }
    if (Date.now() - started >= o.timeoutMs) break
    await new Promise((r) => setTimeout(r, o.intervalMs))
  }
  return { idle: new Map(pids.map((pid, i) => [pid, series[i]!.at(-1)!])), settled, waitedMs: Date.now() - started }
}

export async function measure(
  loadgen: Loadgen,
  topo: Topology,
  mode: Mode,
  o: WindowOptions,
  idle: ReadonlyMap<number, number>,
): Promise<Omit<LatencyRun, 'round'>> {
  const { result, windows } = await measureWindow(loadgen, topo.route(mode), topo.path, topo.proxies(mode), o, idle)
  return { rate: o.rate, mode, result, proxies: windows }
}

/** One window of open-loop load along `route`, with `procs` sampled over its steady part. */
export async function measureWindow<R extends string>(
  loadgen: Loadgen,
  route: Route,
  urlPath: string,
  procs: readonly { role: R; name: string; pid: number }[],
  o: WindowOptions,
  idle: ReadonlyMap<number, number>,
): Promise<{ result: OpenLoopResult; windows: ProcessWindow<R>[] }> {
  const samplers = procs.map((p) => new ProcSampler(p.pid))
  let sampling = false
  const task: Omit<CompareLatencyTask, 'type' | 'id'> = {
    route,
    path: urlPath,
    connections: o.connections,
    ratePerSec: o.rate,
    warmupCount: Math.round(o.rate * o.warmupS),
    count: Math.max(1, Math.round(o.rate * o.seconds)),
    maxDurationMs: Math.round((o.seconds + o.warmupS) * 2000 + 5000),
  }
  try {
    const result = await loadgen.latency(task, () => {
      for (const s of samplers) s.start()
      sampling = true
    })
    if (!sampling) throw new Error('the load generator never reported its steady window')
    sampling = false
    const windows = samplers.map((s, i): ProcessWindow<R> => {
      const w = s.stop()
      const p = procs[i]!
      return {
        role: p.role,
        name: p.name,
        cpuCores: w.cpuCores,
        rssMeanMB: w.rssMeanMB,
        rssMaxMB: w.rssMaxMB,
        hwmMB: w.hwmMB,
        idleRssMB: idle.get(p.pid) ?? Number.NaN,
      }
    })
    return { result, windows }
  } finally {
    if (sampling) for (const s of samplers) s.stop()
  }
}

export interface SweepOptions {
  podsPerNode: readonly number[]
  modes: readonly Mode[]
  nodes: number
  rate: number
  seconds: number
  warmupS: number
  /** Starts the `kind` cluster for one pod count (closed here after its modes were measured). */
  start: (podsPerNode: number, kind: 'ambient' | 'sidecar') => Promise<Topology>
  loadgen: Loadgen
  log: (line: string) => void
  progress: (label: string) => void
  /** Pins a fresh cluster's processes like the latency rounds'. */
  pin: (topo: Topology) => void
  /** How long to wait for idle RSS to settle. Default DEFAULT_SETTLE. */
  settle?: SettleOptions
}

export async function runSweep(o: SweepOptions): Promise<SweepRun[]> {
  const out: SweepRun[] = []
  const kinds = (['ambient', 'sidecar'] as const).filter((k) =>
    o.modes.some((m) => (k === 'sidecar' ? m === 'sidecar' : m === 'ambient-l4' || m === 'ambient-l7')),
  )
  for (const n of o.podsPerNode)
    for (const kind of kinds) {
      o.progress(`sweep: ${n} pod(s) per node: starting the ${kind} cluster`)
      const topo = await o.start(n, kind)
      try {
        o.pin(topo)
        const modes = o.modes.filter((m) => m !== 'nomesh' && topo.modes.includes(m))
        const { idle, settled, waitedMs } = await idleRss(topo, modes, o.settle)
        if (!settled) o.log(`  sweep ${n}/${kind}: idle RSS still moving after ${waitedMs} ms; using the last reading`)
        // Enough connections that the Service's endpoints (every server pod) all see traffic.
        const connections = Math.min(64, Math.max(4, 2 * n * o.nodes))
        for (const mode of modes) {
          o.progress(`sweep: ${n} pod(s) per node: ${mode}`)
          const r = await measure(o.loadgen, topo, mode, { rate: o.rate, seconds: o.seconds, warmupS: o.warmupS, connections }, idle)
          if (r.result.rejected) o.log(`  sweep ${n}/${mode}: REJECTED: ${r.result.rejectReasons.join('; ')}`)
          out.push({
            podsPerNode: n,
            mode,
            pods: n * o.nodes + 1,
            proxies: r.proxies,
            achievedRate: r.result.achievedRatePerSec,
            rejected: r.result.rejected,
          })
        }
      } finally {
        await topo.close()
      }
    }
  return out
}
