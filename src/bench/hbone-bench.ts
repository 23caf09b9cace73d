// `npm run bench:hbone`: direct TCP vs a plain Node TCP relay vs an HBONE pair (client proxy → server
// proxy → target), each proxy in its own process, interleaved in one run (benchmarking.md). Prints
// the method, the tables with the issue's targets, and writes bench-results/hbone-<time>.json.
//
//   node dist/bench/hbone-bench.js [--rounds N] [--quick] [--modes direct,relay,hbone] [--out DIR]
//     [--proxy-node-flags="--max-semi-space-size=2" (the default: a 2 MiB young generation keeps RSS under 80 MB, see HBONE_PROCESS_NODE_FLAGS)] [--pin]
//   node dist/bench/hbone-bench.js --render bench-results/hbone-<time>.json   (re-print a saved run)
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { execFileSync } from 'node:child_process'
import { rmSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { openMeshCa } from '../identity/ca.js'
import { SpiffeId } from '../identity/spiffe-id.js'
import { MODES, runCapacity, runChurn, runOpenLoopPhase, runPingPong, runThroughput } from './hbone-phases.js'
import type { Mode, ModeName, ModeRound, Path, Sizes } from './hbone-phases.js'
import { formatSummary, summarize } from './hbone-summary.js'
import { kibToMB, readMemory } from './proc-stats.js'
import { collectHeader, formatHeader, writeJsonResult } from './report.js'
import type { BenchHeader } from './report.js'
import { LOOPBACK, startTargets } from './traffic.js'
import type { TargetServers } from './traffic.js'
import { killAllWorkers, startWorker } from './workers/ipc.js'
import type { WorkerHandle } from './workers/ipc.js'
import type { HboneClientProxyConfig, HboneServerProxyConfig, HostPort, SerializedCertificate } from './workers/hbone-config.js'
import type { TcpRelayConfig } from './workers/tcp-relay.js'
import { benchLog, benchNumber, benchUsageError, nodeFlags, parseBenchArgs, runBenchMain } from './bench-cli.js'

const MiB = 1024 * 1024

const FULL: Sizes = {
  throughputBytes: 256 * MiB,
  pingPongCount: 20_000,
  pingPongWarmup: 2_000,
  requestBytes: 1024,
  openLoopRatePerSec: 1000,
  openLoopCount: 3_000,
  churnRatePerSec: 2000,
  churnCount: 10_000,
  capacityCount: 10_000,
  capacityConcurrency: 16,
}

const QUICK: Sizes = {
  throughputBytes: 16 * MiB,
  pingPongCount: 1_000,
  pingPongWarmup: 200,
  requestBytes: 1024,
  openLoopRatePerSec: 1000,
  openLoopCount: 300,
  churnRatePerSec: 2000,
  churnCount: 400,
  capacityCount: 400,
  capacityConcurrency: 8,
}

/** Warm-up: every phase once per mode at a fraction of the size (JIT, pools, TLS sessions). */
function warmupSizes(s: Sizes): Sizes {
  const f = (n: number, min: number): number => Math.max(min, Math.round(n / 10))
  return {
    ...s,
    throughputBytes: f(s.throughputBytes, MiB),
    pingPongCount: f(s.pingPongCount, 100),
    pingPongWarmup: 0,
    openLoopCount: f(s.openLoopCount, 50),
    churnCount: f(s.churnCount, 100),
    capacityCount: f(s.capacityCount, 100),
  }
}

const METHOD = (s: Sizes, rounds: number): string[] => [
  `modes: direct (client → target), relay (client → Node TCP relay process → target), hbone (client → ` +
    `HBONE client proxy process → mTLS HTTP/2 CONNECT → HBONE server proxy process → target); all on ` +
    `${LOOPBACK}`,
  `one warm-up pass of every phase and mode (1/10 size), then ${rounds} ` +
    `round${rounds === 1 ? '' : 's'}; within a round each phase runs direct, relay, hbone back to back`,
  `throughput: ${s.throughputBytes / MiB} MiB one way on one fresh connection, timed until the sink acknowledges the last byte`,
  `ping-pong: ${s.requestBytes} B request/echo on one existing connection, one outstanding, ${s.pingPongCount} measured after ${s.pingPongWarmup} unmeasured`,
  `open loop: ${s.requestBytes} B requests at ${s.openLoopRatePerSec}/s on one existing connection ` +
    `(pipelined), ${s.openLoopCount} requests, latency from the intended send time (HdrHistogram, 1 µs)`,
  `new connections: ${s.churnCount} at a fixed ${s.churnRatePerSec}/s (open loop; each: connect, 16 B ` +
    `echoed, FIN, full close; hbone = a new CONNECT tunnel on pooled sessions); capacity: ` +
    `${s.capacityCount} as fast as ${s.capacityConcurrency} lanes go`,
  'CPU = Δ(utime+stime) from /proc/<pid>/stat ÷ 100 ticks ÷ wall s over the phase; RSS = mean VmRSS ' +
    'sampled every 100 ms, VmHWM = peak since start; MB = 10^6 bytes',
  'ratios and differences are taken per round, then median (min-max) over rounds; a run under 99 % of its open-loop rate is flagged REJECTED',
]

interface Cli {
  rounds: number
  quick: boolean
  modes: ModeName[]
  outDir: string
  /** taskset: this process (load generator and targets) on CPU 0, every proxy on CPU 1. */
  pin: boolean
  /** Re-render a saved result with the current summary code instead of measuring. */
  renderFile: string | undefined
  /** Extra Node flags for every proxy process (same for relay and HBONE, so the comparison stays fair). */
  proxyNodeFlags: string[]
}

function parseCli(argv: string[]): Cli {
  const values = parseBenchArgs(
    argv,
    {
      rounds: { type: 'string' },
      modes: { type: 'string', default: MODES.join(',') },
      'proxy-node-flags': { type: 'string', default: '--max-semi-space-size=2' },
      render: { type: 'string' },
      pin: { type: 'boolean', default: false },
    },
    'usage: hbone-bench [--rounds N (default 3, 1 with --quick)] [--quick] [--modes direct,relay,hbone] [--out DIR] [--proxy-node-flags="--flag …"]',
  )
  const rounds = benchNumber('rounds', values.rounds, values.quick ? 1 : 3, 1, 50)
  const modes = values.modes.split(',').map((m) => m.trim())
  for (const m of modes)
    if (!(MODES as readonly string[]).includes(m)) throw benchUsageError(`--modes: unknown mode "${m}" (use ${MODES.join(',')})`)
  const proxyNodeFlags = nodeFlags('proxy-node-flags', values['proxy-node-flags'])
  return {
    rounds,
    quick: values.quick,
    modes: modes as ModeName[],
    outDir: values.out,
    proxyNodeFlags,
    renderFile: values.render,
    pin: values.pin,
  }
}

const workerFile = (name: string): string => fileURLToPath(new URL(`./workers/${name}.js`, import.meta.url))

const log = benchLog

interface Setup {
  targets: TargetServers
  workers: WorkerHandle[]
  modes: Mode[]
  idleRssMB: Record<string, number>
  tmpDir: string
}

/** The proxy processes of one set (see Mode): a relay and an HBONE pair, as the CLI asks. */
async function startProxySet(
  cli: Cli,
  set: 'bulk' | 'connections',
  targets: HostPort[],
  certs: Certs | undefined,
  workers: WorkerHandle[],
): Promise<{ relay?: Path; hbone?: Path }> {
  const flags = { nodeFlags: cli.proxyNodeFlags }
  const suffix = set === 'bulk' ? '/bulk' : ''
  const out: { relay?: Path; hbone?: Path } = {}
  if (cli.modes.includes('relay')) {
    const relay = await startWorker<TcpRelayConfig>(`relay${suffix}`, workerFile('tcp-relay'), { targets }, flags)
    workers.push(relay)
    out.relay = { echoPort: relay.ports[0]!, sinkPort: relay.ports[1]!, proxies: [{ role: relay.name, pid: relay.pid }] }
  }
  if (certs) {
    const server = await startWorker<HboneServerProxyConfig>(
      `hbone-server${suffix}`,
      workerFile('hbone-server-proxy'),
      { certificate: certs.server, allowedTargets: targets },
      flags,
    )
    workers.push(server)
    const client = await startWorker<HboneClientProxyConfig>(
      `hbone-client${suffix}`,
      workerFile('hbone-client-proxy'),
      {
        certificate: certs.client,
        server: { host: LOOPBACK, port: server.ports[0]! },
        serverIdentity: certs.serverIdentity,
        targets,
      },
      flags,
    )
    workers.push(client)
    out.hbone = {
      echoPort: client.ports[0]!,
      sinkPort: client.ports[1]!,
      proxies: [
        { role: client.name, pid: client.pid },
        { role: server.name, pid: server.pid },
      ],
    }
  }
  return out
}

interface Certs {
  client: SerializedCertificate
  server: SerializedCertificate
  serverIdentity: string
}

/** A fresh mesh CA in the temp dir, and one certificate for each side of the HBONE pair. */
async function issueCertificates(tmpDir: string): Promise<Certs> {
  const ca = await openMeshCa({ dir: path.join(tmpDir, 'ca') })
  const issue = async (serviceAccount: string): Promise<SerializedCertificate> => {
    const cert = await ca.issue(SpiffeId.of({ namespace: 'bench', serviceAccount }))
    return { keyPem: cert.keyPem, certChainPem: [...cert.certChainPem], rootsPem: [...cert.rootsPem] }
  }
  const [client, server] = await Promise.all([issue('hbone-client'), issue('hbone-server')])
  return { client, server, serverIdentity: SpiffeId.of({ namespace: 'bench', serviceAccount: 'hbone-server' }).toString() }
}

async function setUp(cli: Cli, tmpDir: string, workers: WorkerHandle[]): Promise<Omit<Setup, 'tmpDir' | 'workers'>> {
  const targets = await startTargets()
  const targetList = [
    { host: LOOPBACK, port: targets.echoPort },
    { host: LOOPBACK, port: targets.sinkPort },
  ]
  const certs = cli.modes.includes('hbone') ? await issueCertificates(tmpDir) : undefined
  const bulk = await startProxySet(cli, 'bulk', targetList, certs, workers)
  const connections = await startProxySet(cli, 'connections', targetList, certs, workers)
  const direct: Path = { echoPort: targets.echoPort, sinkPort: targets.sinkPort, proxies: [] }
  const modes: Mode[] = []
  for (const name of MODES) {
    if (!cli.modes.includes(name)) continue
    if (name === 'direct') modes.push({ name, bulk: direct, connections: direct })
    else modes.push({ name, bulk: bulk[name]!, connections: connections[name]! })
  }
  const idleRssMB: Record<string, number> = {}
  for (const w of workers) idleRssMB[w.name] = kibToMB(readMemory(w.pid).vmRssKiB)
  return { targets, modes, idleRssMB }
}

type PhaseKey = 'throughput' | 'pingPong' | 'openLoop' | 'churn' | 'capacity'

/** One round: each phase runs for every mode back to back, so that modes see the same moment. */
async function runRound(modes: Mode[], sizes: Sizes, round: number): Promise<ModeRound[]> {
  const partial = new Map<ModeName, Partial<ModeRound>>(modes.map((m) => [m.name, { round, mode: m.name }]))
  const phase = async <K extends PhaseKey>(key: K, run: (mode: Mode, sizes: Sizes) => Promise<ModeRound[K]>): Promise<void> => {
    for (const mode of modes) {
      try {
        partial.get(mode.name)![key] = await run(mode, sizes)
      } catch (err) {
        throw new Error(`round ${round}, ${key}, ${mode.name}: ${err instanceof Error ? err.message : String(err)}`, { cause: err })
      }
    }
  }
  await phase('throughput', runThroughput)
  await phase('pingPong', runPingPong)
  await phase('openLoop', runOpenLoopPhase)
  await phase('churn', runChurn)
  await phase('capacity', runCapacity)
  return modes.map((m) => partial.get(m.name) as ModeRound)
}

/**
 * benchmarking.md: "load generator and apps on one core, the mesh on the other, the same in every
 * mode". Without it the scheduler decides, and on this VM a proxied ping-pong is bimodal (≈25 µs when
 * the processes share a vCPU, ≈150 µs when each hop wakes the other, idle vCPU).
 */
function pinProcesses(workers: readonly WorkerHandle[]): void {
  if (os.availableParallelism() < 2) throw new Error('--pin needs at least 2 CPUs')
  const pin = (cpu: number, pid: number): void => {
    execFileSync('taskset', ['-a', '-p', '-c', String(cpu), String(pid)], { stdio: 'ignore' })
  }
  pin(0, process.pid)
  for (const w of workers) pin(1, w.pid)
}

/** Prints a saved run again, summarised by the current code (e.g. after a new column was added). */
async function render(file: string): Promise<void> {
  const saved = JSON.parse(await readFile(file, 'utf8')) as {
    header: BenchHeader
    sizes: Sizes
    rounds: ModeRound[]
    idleRssMB?: Record<string, number>
    summary?: { proxies?: { role: string; idleRssMB: number }[] }
  }
  const idle = saved.idleRssMB ?? Object.fromEntries((saved.summary?.proxies ?? []).map((p) => [p.role, p.idleRssMB]))
  process.stdout.write(`${formatHeader(saved.header)}\n\n${formatSummary(summarize(saved.rounds, idle), saved.sizes)}\n`)
}

async function main(): Promise<void> {
  const cli = parseCli(process.argv.slice(2))
  if (cli.renderFile !== undefined) return render(cli.renderFile)
  const sizes = cli.quick ? QUICK : FULL
  const header = collectHeader('bench:hbone', METHOD(sizes, cli.rounds), {
    rounds: cli.rounds,
    quick: cli.quick,
    modes: cli.modes.join(','),
    proxyNodeFlags: cli.proxyNodeFlags.join(' '),
    pin: cli.pin,
  })
  process.stdout.write(`${formatHeader(header)}\n\n`)

  const tmpDir = await mkdtemp(path.join(os.tmpdir(), 'ambient-bench-'))
  const workers: WorkerHandle[] = []
  let targets: TargetServers | undefined
  const onSignal = (signal: NodeJS.Signals): void => {
    log(`${signal}: stopping the proxies`)
    killAllWorkers()
    rmSync(tmpDir, { recursive: true, force: true })
    process.exit(130)
  }
  process.once('SIGINT', onSignal)
  process.once('SIGTERM', onSignal)
  process.once('exit', killAllWorkers)
  try {
    const setup = await setUp(cli, tmpDir, workers)
    targets = setup.targets
    log(`proxies up: ${workers.map((w) => `${w.name} pid ${w.pid}`).join(', ') || 'none'}`)
    if (cli.pin) {
      pinProcesses(workers)
      log('pinned: generator and targets on CPU 0, proxies on CPU 1')
    }
    log('warm-up')
    await runRound(setup.modes, warmupSizes(sizes), 0)
    const rounds: ModeRound[] = []
    for (let round = 1; round <= cli.rounds; round++) {
      log(`round ${round}/${cli.rounds}`)
      rounds.push(...(await runRound(setup.modes, sizes, round)))
    }
    const summary = summarize(rounds, setup.idleRssMB)
    process.stdout.write(`${formatSummary(summary, sizes)}\n\n`)
    const result = { header, sizes, summary, idleRssMB: setup.idleRssMB, rounds }
    const file = await writeJsonResult(cli.outDir, 'hbone', result, new Date(header.date))
    // The issue asks for a table and JSON on the console: the summary here, everything in the file.
    process.stdout.write(`${JSON.stringify({ header, sizes, summary })}\n`)
    process.stdout.write(`JSON: ${file}\n`)
  } finally {
    await Promise.all(workers.map((w) => w.stop()))
    await targets?.close()
    await rm(tmpDir, { recursive: true, force: true })
  }
}

runBenchMain(main, killAllWorkers)
