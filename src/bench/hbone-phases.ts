// The measurements of `bench:hbone`, one function per phase, each run for one mode (direct, relay or
// HBONE pair) and returning plain data. The entry (hbone-bench.ts) interleaves them over rounds.
import { runClosedLoop, runOpenLoop } from './open-loop.js'
import type { LatencySummary, OpenLoopResult } from './open-loop.js'
import { sampleDuring } from './proc-stats.js'
import type { ProcWindow } from './proc-stats.js'
import { EchoClient, measureChurn, measureThroughput, oneConnection } from './traffic.js'
import type { ChurnResult } from './traffic.js'

export const MODES = ['direct', 'relay', 'hbone'] as const
export type ModeName = (typeof MODES)[number]

export interface Proxy {
  /** e.g. 'relay', 'hbone-client', 'hbone-server'. */
  role: string
  pid: number
}

/** Where traffic enters, and which proxy processes carry it. */
export interface Path {
  echoPort: number
  sinkPort: number
  proxies: Proxy[]
}

/**
 * A mode has two sets of proxy processes: `bulk` carries throughput and the request/response phases,
 * `connections` carries the tunnel churn. A proxy that has just moved 256 MiB keeps its grown heap
 * and malloc arenas (RSS ~120-150 MB measured), which would be charged to "RSS under 2000 tunnels/s";
 * with separate processes each figure belongs to its own load. Both sets run the same code and flags.
 */
export interface Mode {
  name: ModeName
  bulk: Path
  connections: Path
}

export interface Sizes {
  throughputBytes: number
  pingPongCount: number
  pingPongWarmup: number
  requestBytes: number
  openLoopRatePerSec: number
  openLoopCount: number
  churnRatePerSec: number
  churnCount: number
  capacityCount: number
  capacityConcurrency: number
}

export interface ProxyWindow extends ProcWindow {
  role: string
}

export interface ModeRound {
  round: number
  mode: ModeName
  throughput: { gbitPerSec: number; seconds: number; bytes: number }
  pingPong: LatencySummary
  /** Fixed-rate 1 KiB requests on one existing connection, with proxy CPU/RSS over the window. */
  openLoop: OpenLoopResult & { proxies: ProxyWindow[] }
  /** Fixed-rate new connections (tunnels), with proxy and generator CPU/RSS over the window. */
  churn: OpenLoopResult & { proxies: ProxyWindow[]; generator: ProcWindow }
  /** New connections as fast as `capacityConcurrency` lanes go. */
  capacity: ChurnResult
}

/** Bound for a phase: its nominal duration with generous slack for a slow, shared machine. */
const bound = (nominalMs: number): number => Math.max(10_000, nominalMs * 4)

async function withProxies<T>(
  path: Path,
  work: () => Promise<T>,
  extraPids: number[] = [],
): Promise<{ result: T; proxies: ProxyWindow[]; extra: ProcWindow[] }> {
  const pids = [...path.proxies.map((p) => p.pid), ...extraPids]
  const { result, windows } = await sampleDuring(pids, work)
  const proxies = path.proxies.map((p, i) => ({ role: p.role, ...windows[i]! }))
  return { result, proxies, extra: windows.slice(path.proxies.length) }
}

export async function runThroughput(mode: Mode, sizes: Sizes): Promise<ModeRound['throughput']> {
  // Even 1 Gb/s would move the bytes in bytes*8/1e9 s: bound at 4× that (at least 10 s).
  const r = await measureThroughput(mode.bulk.sinkPort, sizes.throughputBytes, bound((sizes.throughputBytes * 8) / 1e6))
  return { gbitPerSec: r.gbitPerSec, seconds: r.seconds, bytes: r.bytes }
}

export async function runPingPong(mode: Mode, sizes: Sizes): Promise<LatencySummary> {
  const client = await EchoClient.open(mode.bulk.echoPort, sizes.requestBytes)
  try {
    const r = await runClosedLoop({
      count: sizes.pingPongCount,
      warmup: sizes.pingPongWarmup,
      // 1 ms per round trip would already be 10× slower than a loaded loopback pair.
      maxDurationMs: bound(sizes.pingPongCount + sizes.pingPongWarmup),
      roundTrip: () => client.request(),
    })
    if (r.truncated) throw new Error(`${mode.name}: ping-pong cut short after ${r.completed} round trips`)
    return r.latency
  } finally {
    client.close()
  }
}

export async function runOpenLoopPhase(mode: Mode, sizes: Sizes): Promise<ModeRound['openLoop']> {
  const client = await EchoClient.open(mode.bulk.echoPort, sizes.requestBytes)
  try {
    const nominalMs = (sizes.openLoopCount / sizes.openLoopRatePerSec) * 1000
    const { result, proxies } = await withProxies(mode.bulk, () =>
      runOpenLoop({
        ratePerSec: sizes.openLoopRatePerSec,
        count: sizes.openLoopCount,
        maxDurationMs: bound(nominalMs),
        maxInFlight: 1000,
        send: () => client.request(),
      }),
    )
    return { ...result, proxies }
  } finally {
    client.close()
  }
}

export async function runChurn(mode: Mode, sizes: Sizes): Promise<ModeRound['churn']> {
  const nominalMs = (sizes.churnCount / sizes.churnRatePerSec) * 1000
  const { result, proxies, extra } = await withProxies(
    mode.connections,
    () =>
      runOpenLoop({
        ratePerSec: sizes.churnRatePerSec,
        count: sizes.churnCount,
        maxDurationMs: bound(nominalMs),
        // Enough for 100 ms of backlog at the target rate; beyond that the run is flagged.
        maxInFlight: Math.max(64, Math.ceil(sizes.churnRatePerSec / 10)),
        send: () => oneConnection(mode.connections.echoPort),
      }),
    [process.pid],
  )
  return { ...result, proxies, generator: extra[0]! }
}

export async function runCapacity(mode: Mode, sizes: Sizes): Promise<ChurnResult> {
  return measureChurn(mode.connections.echoPort, sizes.capacityCount, sizes.capacityConcurrency, bound(sizes.capacityCount))
}
