// `ambient compare`: what ambient saves, measured side by side. One run starts real clusters (istiod,
// ztunnels, a waypoint, pod processes) on random 127.X ranges, runs the modes interleaved per round
// (A B C A B C …) at fixed open-loop rates after a warm-up, then the pods-per-node memory sweep, and
// writes bench-results/compare-<time>.{json,md,svg}. Every phase is bounded by --duration; every
// child is torn down on success, error, SIGINT and SIGTERM.
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { rmSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { collectHeader, formatHeader } from './report.js'
import type { BenchHeader } from './report.js'
import { killAllWorkers } from './workers/ipc.js'
import { Loadgen, canPin, killAll, pin } from './ztunnel-procs.js'
import { MODE_LABEL, sidecarAvailable, startBookinfoTopology, startSimpleTopology } from './compare-modes.js'
import type { Mode, Scenario, Topology } from './compare-modes.js'
import { DEFAULT_SETTLE, QUICK_SETTLE, idleRss, idleRssOf, measure, measureWindow, runSweep } from './compare-sweep.js'
import type { ExtraPath, ExtraRun, StartedExtraPath } from './compare-extra.js'
import { formatSummary, summarize, PUBLISHED } from './compare-summary.js'
import type { CompareSummary, LatencyRun, SweepRun } from './compare-summary.js'
import { renderMarkdown, renderSvg } from './compare-report.js'
import { RESPONSE_BODY_BYTES } from './ztunnel-http.js'
import { requireInpod } from '../capture/inpod/preflight.js'

export interface CompareOptions {
  scenario: Scenario
  modes: Mode[]
  rates: number[]
  durationS: number
  rounds: number
  podsPerNode: number[]
  quick: boolean
  outDir: string
  connections: number
  pin: boolean
  warmupS: number
  phaseWarmupS: number
  /** The header's name (default 'ambient compare'); another bench reusing this machinery names itself. */
  name?: string
  /** Write compare-<time>.{json,md,svg} into outDir (default true); a caller writing its own result sets false. */
  writeFiles?: boolean
  /**
   * `inpod` (Linux, root): every cluster with in-pod capture (namespaces, Istio's rules: ambient's
   * for ztunnel, istio-iptables' for the sidecars), the same capture for both data planes. No
   * memory sweep. Default `socks`.
   */
  capture?: 'socks' | 'inpod'
  /** Extra Node flags for every ztunnel, waypoint and sidecar (e.g. `--cpu-prof --cpu-prof-dir=DIR`). */
  proxyNodeFlags?: readonly string[]
  /**
   * A caller's own paths to the no-mesh app (compare-extra.ts), measured after the modes in every
   * round and rate; their processes pinned with the mesh's. Needs the simple scenario with no mesh.
   */
  extraPaths?: readonly ExtraPath[]
}

export interface CompareResult {
  header: BenchHeader
  summary: CompareSummary
  runs: LatencyRun[]
  sweep: SweepRun[]
  /** The windows of `extraPaths`, when there were any. */
  extraRuns?: ExtraRun[]
}

export interface CompareIo {
  stdout: (text: string) => void
  stderr: (text: string) => void
  isTty: boolean
}

const here = (rel: string): string => fileURLToPath(new URL(rel, import.meta.url))
const NODES = 2

export function method(o: CompareOptions, pinned: boolean): string[] {
  return [
    `scenario ${o.scenario}: ` +
      (o.scenario === 'simple'
        ? `a client pod on node-1 calling a ${RESPONSE_BODY_BYTES} B HTTP/1.1 service whose pod runs on node-2`
        : 'bookinfo (curl pod → productpage → details, reviews → ratings), the sample apps of the cluster runner') +
      '; ' +
      `${NODES} nodes`,
    'each mode is a real cluster from Kubernetes YAML (`startCluster`: istiod, a ztunnel per node, the ' +
      "waypoint, one process per pod) on random 127.X ranges; no mesh = straight to the server pod's " +
      "pod-local address; ambient L4 = through the client pod's capture (SOCKS5) to a Service VIP, ztunnel " +
      '→ HBONE → ztunnel; ambient L7 = to a Service enrolled with istio.io/use-waypoint (ztunnel → ' +
      'waypoint → ztunnel); sidecar = a second cluster of the same YAML without the waypoint, started like ' +
      "`cluster up --mode sidecar` (one `ambient sidecar` per pod, no ztunnel): the client pod's sidecar " +
      "(SOCKS5) → Service VIP → mutual TLS → the server pod's sidecar → app",
    `load: open loop (fortio -uniform -nocatchup semantics) at ${o.rates.join(', ')} RPS on ` +
      `${o.connections} keep-alive connections, latency from the intended send time (HdrHistogram, 1 µs), ` +
      `${o.durationS} s per mode, rate and round; a run under 99 % of the target rate or with errors ` +
      `is REJECTED`,
    `interleaved: ${o.rounds} round(s) × rates × modes in the order ${o.modes.join(', ')}; warm-up ` +
      `${o.warmupS} s per mode before round 1 and ${o.phaseWarmupS} s unmeasured before each window`,
    'added latency = percentile(mode) − percentile(no mesh) in the same round and rate; medians (min-max) over rounds',
    `CPU = Δ(utime+stime) of each proxy over the steady window ÷ wall time; RSS = mean VmRSS every 100 ` +
      `ms; peak = VmHWM; increase = mean − idle RSS (read after start once every proxy's RSS held within ` +
      `max(0.5 MB, 1 %) for 1 s, polled every 200 ms, at most ${(o.quick ? QUICK_SETTLE : DEFAULT_SETTLE).timeoutMs / 1000} ` +
      `s); MB = 10^6 bytes; proxies = ztunnels (+ the waypoint for L7), sidecars for sidecar mode; istiod ` +
      `is not counted`,
    o.capture === 'inpod'
      ? "capture: in-pod (root): every pod its own network namespace with Istio's rules (ambient: the in-pod " +
        "TPROXY/REDIRECT set for ztunnel; sidecar: istio-iptables' REDIRECT to 15001/15006, the sidecar " +
        "inside the pod as uid 1337); the load generator connects from a socket made in the client pod's " +
        "namespace, the app listens on the server pods' IPs in theirs; no mesh = the server pod to its own " +
        'IP over lo' +
        (o.scenario === 'bookinfo'
          ? "; bookinfo's apps resolve their callees through ztunnel's DNS proxy (ambient) or their hosts file " +
            "(sidecars; Istio's default leaves their DNS to kube-dns), so the ztunnels' CPU includes those queries"
          : '')
      : 'capture: SOCKS5 on each pod IP (the default; no root)',
    o.podsPerNode.length === 0
      ? 'no memory sweep'
      : o.scenario !== 'simple'
        ? `no memory sweep for ${o.scenario} (its pods are fixed; the sweep runs with --scenario simple): memory is the mean RSS under load`
        : `memory sweep: for ${o.podsPerNode.join(', ')} server pods per node on each node (+ the client ` +
          `pod), a fresh cluster per data plane (ambient; sidecar: one sidecar per pod); settled idle RSS, ` +
          `then ${o.durationS} s of load at ${o.rates[0]} RPS per mode through the Service (every pod ` +
          `an endpoint)`,
    pinned
      ? 'pinning (taskset): load generator, apps and this process on CPU 0; istiod, ztunnels, waypoints (and sidecars) on CPU 1, in every mode alike'
      : 'no CPU pinning',
    ...(o.extraPaths ?? []).map((e) => `${e.label}, in the same rounds after the modes: ${e.method}`),
    `next to ours: ${PUBLISHED.sources.join('; ')}`,
    'the machine may be shared and busy: read ratios within this run, not absolute times',
  ]
}

/** A one-line progress bar on a terminal; plain lines otherwise. */
export class Progress {
  private done = 0
  private readonly total: number
  private readonly io: CompareIo
  private readonly started = Date.now()

  constructor(total: number, io: CompareIo) {
    this.total = Math.max(1, total)
    this.io = io
  }

  step(label: string): void {
    this.done = Math.min(this.total, this.done + 1)
    this.show(label)
  }

  show(label: string): void {
    const width = 24
    const filled = Math.round((this.done / this.total) * width)
    const bar =
      `[${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ` +
      `${String(this.done).padStart(String(this.total).length)}/${this.total} ` +
      `${Math.round((Date.now() - this.started) / 1000)}s ${label}`
    if (this.io.isTty) this.io.stderr(`\r\x1b[K${bar}`)
    else this.io.stderr(`${bar}\n`)
  }

  end(): void {
    if (this.io.isTty) this.io.stderr('\n')
  }
}

export async function runCompare(o: CompareOptions, io: CompareIo): Promise<{ result: CompareResult; files: string[] }> {
  const cliPath = here('../cli/main.js')
  const cores = os.availableParallelism()
  const pinned = o.pin && canPin(cores)
  const log = (line: string): void => io.stderr(`${io.isTty ? '\r\x1b[K' : ''}[compare] ${line}\n`)
  const settle = o.quick ? QUICK_SETTLE : DEFAULT_SETTLE
  const unavailable: CompareSummary['unavailable'] = []
  let modes = [...o.modes]
  const inpod = o.capture === 'inpod'
  if (inpod) {
    // Root, ip, iptables, the addon (and setpriv for sidecars), before anything starts: one coded error.
    await requireInpod(`ambcmp${process.pid}-probe`, process.getuid?.(), { setpriv: modes.includes('sidecar') })
    if (o.podsPerNode.length > 0) {
      log('--capture inpod: no memory sweep (not done for in-pod clusters)')
      o = { ...o, podsPerNode: [] }
    }
  }
  if (modes.includes('sidecar')) {
    const sc = sidecarAvailable(cliPath)
    if (!sc.ok) {
      unavailable.push({ mode: 'sidecar', reason: sc.reason })
      modes = modes.filter((m) => m !== 'sidecar')
      log(`sidecar: ${sc.reason}`)
    }
  }
  if (o.scenario === 'bookinfo' && modes.includes('nomesh')) {
    unavailable.push({ mode: 'nomesh', reason: "bookinfo's sample apps reach each other only through the mesh" })
    modes = modes.filter((m) => m !== 'nomesh')
  }
  if (modes.length === 0) throw new Error('no mode left to measure')
  const header = collectHeader(o.name ?? 'ambient compare', method(o, pinned), {
    scenario: o.scenario,
    capture: o.capture ?? 'socks',
    modes: modes.join(','),
    rates: o.rates.join(','),
    durationS: o.durationS,
    rounds: o.rounds,
    pods: o.podsPerNode.join(','),
    connections: o.connections,
    quick: o.quick,
    pinned,
    ...(o.proxyNodeFlags === undefined || o.proxyNodeFlags.length === 0 ? {} : { proxyNodeFlags: o.proxyNodeFlags.join(' ') }),
  })
  io.stdout(`${formatHeader(header)}\n\n`)

  const root = await mkdtemp(path.join(os.tmpdir(), 'ambient-compare-'))
  const topologies: Topology[] = []
  const extras: { path: ExtraPath; started: StartedExtraPath }[] = []
  let loadgen: Loadgen | undefined
  const closeExtras = (): Promise<unknown> => Promise.allSettled(extras.splice(0).map((e) => e.started.close()))
  const closeAll = async (): Promise<void> => {
    await loadgen?.stop()
    await closeExtras()
    await Promise.allSettled(topologies.splice(0).map((t) => t.close()))
  }
  const onSignal = (signal: NodeJS.Signals): void => {
    log(`${signal}: tearing everything down`)
    const hard = setTimeout(() => {
      killAll()
      killAllWorkers()
      rmSync(root, { recursive: true, force: true })
      process.exit(130)
    }, 15_000)
    hard.unref()
    void closeAll().finally(() => {
      killAll()
      killAllWorkers()
      rmSync(root, { recursive: true, force: true })
      process.exit(130)
    })
  }
  process.once('SIGINT', onSignal)
  process.once('SIGTERM', onSignal)
  const startTimeoutMs = Math.max(30_000, o.durationS * 3000)
  let dirs = 0
  const topoOptions = async (): Promise<{
    cliPath: string
    stateDir: string
    nodes: number
    log: (l: string) => void
    startTimeoutMs: number
    capture?: 'inpod'
    proxyNodeFlags?: readonly string[]
  }> => {
    const stateDir = path.join(root, `cluster-${++dirs}`)
    await mkdir(stateDir, { recursive: true })
    return {
      cliPath,
      stateDir,
      nodes: NODES,
      log,
      startTimeoutMs,
      ...(inpod ? { capture: 'inpod' as const } : {}),
      ...(o.proxyNodeFlags === undefined ? {} : { proxyNodeFlags: o.proxyNodeFlags }),
    }
  }
  const appFile = here('./workers/compare-apps.js')
  const pinTopo = (t: Topology): void => {
    if (!pinned) return
    for (const pid of t.appPids()) pin(pid, 0)
    for (const pid of t.meshPids()) pin(pid, 1)
  }
  const extraPaths = o.extraPaths ?? []
  const perRound = o.rates.length * (modes.length + extraPaths.length)
  const sweepKinds = (modes.some((m) => m === 'ambient-l4' || m === 'ambient-l7') ? 1 : 0) + (modes.includes('sidecar') ? 1 : 0)
  const totalSteps =
    modes.length +
    extraPaths.length +
    o.rounds * perRound +
    o.podsPerNode.length * (sweepKinds + modes.filter((m) => m !== 'nomesh').length)
  const progress = new Progress(totalSteps, io)
  try {
    log(`starting the ${o.scenario} cluster(s)…`)
    if (o.scenario === 'simple') {
      // The ambient cluster (no mesh, L4, L7) and the sidecar cluster side by side, started together.
      const kinds = [
        ...(modes.some((m) => m !== 'sidecar') ? ['ambient' as const] : []),
        ...(modes.includes('sidecar') ? ['sidecar' as const] : []),
      ]
      const opts = await Promise.all(kinds.map(() => topoOptions()))
      const started = await Promise.allSettled(
        kinds.map((k, i) => startSimpleTopology(opts[i]!, { perNode: 1, everyNode: false }, appFile, k)),
      )
      for (const s of started) if (s.status === 'fulfilled') topologies.push(s.value)
      const failed = started.find((s) => s.status === 'rejected')
      if (failed !== undefined) throw failed.reason
    } else {
      const fixture = path.resolve(here('../../test/fixtures/bookinfo'))
      for (const m of ['ambient-l4', 'ambient-l7', 'sidecar'] as const) {
        if (modes.includes(m)) topologies.push(await startBookinfoTopology(await topoOptions(), fixture, m))
      }
    }
    const topoOf = (m: Mode): Topology => {
      const t = topologies.find((x) => x.modes.includes(m))
      if (t === undefined) throw new Error(`no cluster serves ${m}`)
      return t
    }
    loadgen = await Loadgen.start(here('./workers/compare-loadgen.js'))
    if (pinned) {
      pin(process.pid, 0)
      pin(loadgen.pid, 0)
    }
    for (const t of topologies) pinTopo(t)
    // The extra paths ask for what no mesh asks for, of the app it reaches.
    let appPath = ''
    if (extraPaths.length > 0) {
      const nomesh = modes.includes('nomesh') ? topoOf('nomesh').route('nomesh') : undefined
      if (nomesh?.kind !== 'direct') throw new Error('extra paths need the no-mesh mode of the simple scenario with SOCKS capture')
      for (const extra of extraPaths) {
        const dir = path.join(root, `extra-${extra.name}`)
        await mkdir(dir, { recursive: true })
        const started = await extra.start({
          dir,
          app: { host: nomesh.host, port: nomesh.port },
          log,
          proxyNodeFlags: o.proxyNodeFlags ?? [],
        })
        extras.push({ path: extra, started })
        if (pinned) for (const p of started.processes) pin(p.pid, 1)
      }
      appPath = topoOf('nomesh').path
    }
    const idle = new Map<number, number>()
    for (const t of topologies) {
      const r = await idleRss(
        t,
        modes.filter((m) => t.modes.includes(m)),
        settle,
      )
      if (!r.settled) log(`idle RSS of ${t.description} still moving after ${r.waitedMs} ms; using the last reading`)
      for (const [k, v] of r.idle) idle.set(k, v)
    }
    if (extras.length > 0) {
      const r = await idleRssOf(
        extras.flatMap((e) => e.started.processes.map((p) => p.pid)),
        settle,
      )
      if (!r.settled) log(`idle RSS of the extra paths still moving after ${r.waitedMs} ms; using the last reading`)
      for (const [k, v] of r.idle) idle.set(k, v)
    }
    const measureExtra = async (
      e: (typeof extras)[number],
      round: number,
      rate: number,
      seconds: number,
      warmupS: number,
    ): Promise<ExtraRun> => {
      const w = { rate, seconds, warmupS, connections: o.connections }
      const { result, windows } = await measureWindow(loadgen!, e.started.route, appPath, e.started.processes, w, idle)
      return { round, rate, path: e.path.name, result, processes: windows }
    }
    for (const m of modes) {
      progress.step(`warm-up ${MODE_LABEL[m]}`)
      await measure(loadgen, topoOf(m), m, { rate: o.rates[0]!, seconds: o.warmupS, warmupS: 0, connections: o.connections }, idle)
    }
    for (const e of extras) {
      progress.step(`warm-up ${e.path.label}`)
      await measureExtra(e, 0, o.rates[0]!, o.warmupS, 0)
    }
    const runs: LatencyRun[] = []
    const extraRuns: ExtraRun[] = []
    for (let round = 1; round <= o.rounds; round++) {
      for (const rate of o.rates) {
        for (const m of modes) {
          progress.step(`round ${round}/${o.rounds} ${rate} RPS ${MODE_LABEL[m]}`)
          const r = await measure(
            loadgen,
            topoOf(m),
            m,
            { rate, seconds: o.durationS, warmupS: o.phaseWarmupS, connections: o.connections },
            idle,
          )
          if (r.result.rejected) log(`round ${round} ${rate} RPS ${m}: REJECTED: ${r.result.rejectReasons.join('; ')}`)
          runs.push({ round, ...r })
        }
        for (const e of extras) {
          progress.step(`round ${round}/${o.rounds} ${rate} RPS ${e.path.label}`)
          const r = await measureExtra(e, round, rate, o.durationS, o.phaseWarmupS)
          if (r.result.rejected) log(`round ${round} ${rate} RPS ${e.path.name}: REJECTED: ${r.result.rejectReasons.join('; ')}`)
          extraRuns.push(r)
        }
      }
    }
    await closeExtras()
    await Promise.allSettled(topologies.splice(0).map((t) => t.close()))

    let sweep: SweepRun[] = []
    if (o.podsPerNode.length > 0 && o.scenario === 'simple') {
      const lg = loadgen
      sweep = await runSweep({
        podsPerNode: o.podsPerNode,
        modes,
        nodes: NODES,
        rate: o.rates[0]!,
        seconds: o.durationS,
        warmupS: o.phaseWarmupS,
        loadgen: lg,
        log,
        progress: (label) => progress.step(label),
        pin: pinTopo,
        settle,
        start: async (n, kind) => {
          const t = await startSimpleTopology(await topoOptions(), { perNode: n, everyNode: true }, appFile, kind)
          topologies.push(t)
          return t
        },
      })
      topologies.length = 0
    }
    progress.end()
    const summary = summarize(modes, unavailable, o.rates, runs, sweep)
    io.stdout(`${formatSummary(summary)}\n\n`)
    const result: CompareResult = { header, summary, runs, sweep, ...(extraPaths.length > 0 ? { extraRuns } : {}) }
    const files = o.writeFiles === false ? [] : await writeResults(o.outDir, result)
    for (const f of files) io.stdout(`${f.endsWith('.json') ? 'JSON' : f.endsWith('.md') ? 'report' : 'chart'}: ${f}\n`)
    return { result, files }
  } finally {
    progress.end()
    await closeAll()
    process.off('SIGINT', onSignal)
    process.off('SIGTERM', onSignal)
    await rm(root, { recursive: true, force: true })
  }
}

async function writeResults(dir: string, r: CompareResult): Promise<string[]> {
  await mkdir(dir, { recursive: true })
  const stamp = r.header.date.replace(/[:.]/g, '-')
  const base = path.join(dir, `compare-${stamp}`)
  const svgFile = `${base}.svg`
  await writeFile(`${base}.json`, `${JSON.stringify(r, null, 2)}\n`)
  await writeFile(svgFile, renderSvg(r.summary))
  await writeFile(`${base}.md`, renderMarkdown(r.header, r.summary, path.basename(svgFile)))
  return [`${base}.json`, `${base}.md`, svgFile]
}
