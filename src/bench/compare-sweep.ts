// One measured window of `ambient compare` (open loop along a mode's route, the mode's proxies sampled
// over the steady part only), and the pods-per-node memory sweep built from it: for each count a
// fresh cluster with that many server pods on every node, the proxies' idle RSS right after start,
// then load through each mode and their RSS under it.
import { ProcSampler, kibToMB, readMemory } from './proc-stats.js'
import type { Loadgen } from './ztunnel-procs.js'
import type { Mode, Topology } from './compare-modes.js'
import type { LatencyRun, ProxyWindow, SweepRun } from './compare-summary.js'
import type { CompareLatencyTask } from './workers/compare-loadgen.js'

export interface WindowOptions {
  rate: number
  seconds: number
  warmupS: number
  connections: number
}

export function idleRss(topo: Topology, modes: readonly Mode[]): Map<number, number> {
  const out = new Map<number, number>()
  for (const m of modes) {
    for (const p of topo.proxies(m)) {
      if (!out.has(p.pid)) out.set(p.pid, kibToMB(readMemory(p.pid).vmRssKiB))
    }
  }
  return out
}

export async function measure(loadgen: Loadgen, topo: Topology, mode: Mode, o: WindowOptions, idle: ReadonlyMap<number, number>): Promise<Omit<LatencyRun, 'round'>> {
  const proxies = topo.proxies(mode)
  const samplers = proxies.map((p) => new ProcSampler(p.pid))
  let sampling = false
  const task: Omit<CompareLatencyTask, 'type' | 'id'> = {
    route: topo.route(mode), path: topo.path, connections: o.connections, ratePerSec: o.rate,
    warmupCount: Math.round(o.rate * o.warmupS), count: Math.max(1, Math.round(o.rate * o.seconds)),
    maxDurationMs: Math.round((o.seconds + o.warmupS) * 2000 + 5000),
  }
  try {
    const result = await loadgen.latency(task, () => {
      for (const s of samplers) s.start()
      sampling = true
    })
    if (!sampling) throw new Error('the load generator never reported its steady window')
    sampling = false
    const windows: ProxyWindow[] = samplers.map((s, i) => {
      const w = s.stop()
      const p = proxies[i]!
      return { role: p.role, name: p.name, cpuCores: w.cpuCores, rssMeanMB: w.rssMeanMB, rssMaxMB: w.rssMaxMB, hwmMB: w.hwmMB, idleRssMB: idle.get(p.pid) ?? Number.NaN }
    })
    return { rate: o.rate, mode, result, proxies: windows }
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
  /** Starts the cluster for one pod count (the caller owns its teardown via the returned topology). */
  start: (podsPerNode: number) => Promise<Topology>
  loadgen: Loadgen
  log: (line: string) => void
  progress: (label: string) => void
  /** Pins a fresh cluster's processes like the latency rounds'. */
  pin: (topo: Topology) => void
}

export async function runSweep(o: SweepOptions): Promise<SweepRun[]> {
  const out: SweepRun[] = []
  for (const n of o.podsPerNode) {
    o.progress(`sweep: ${n} pod(s) per node: starting the cluster`)
    const topo = await o.start(n)
    try {
      o.pin(topo)
      const modes = o.modes.filter((m) => m !== 'nomesh' && topo.modes.includes(m))
      const idle = idleRss(topo, modes)
      // Enough connections that the Service's endpoints (every server pod) all see traffic.
      const connections = Math.min(64, Math.max(4, 2 * n * o.nodes))
      for (const mode of modes) {
        o.progress(`sweep: ${n} pod(s) per node: ${mode}`)
        const r = await measure(o.loadgen, topo, mode, { rate: o.rate, seconds: o.seconds, warmupS: o.warmupS, connections }, idle)
        if (r.result.rejected) o.log(`  sweep ${n}/${mode}: REJECTED: ${r.result.rejectReasons.join('; ')}`)
        out.push({ podsPerNode: n, mode, pods: n * o.nodes + 1, proxies: r.proxies })
      }
    } finally {
      await topo.close()
    }
  }
  return out
}
