// `npm run bench:ztunnel`: 1 KiB HTTP/1.1 keep-alive requests at a fixed rate (open loop) with no mesh
// vs through two real `ambient ztunnel` processes (client pod's SOCKS5 capture on node-a → HBONE →
// node-b → the app on the server pod's pod-local address), interleaved in one run; CPU and RSS of each
// ztunnel over the steady window; single-stream throughput through the pair vs a plain Node TCP relay.
// Prints the method, the tables with the issue's targets, and writes bench-results/ztunnel-<time>.json.
// `--capture inpod` (root): also in-pod capture in the same run (src/bench/ztunnel-inpod.ts), its
// rounds interleaved with the SOCKS ones, and the SOCKS vs in-pod table with its target line.
//
//   node dist/bench/ztunnel-bench.js [--rounds N] [--rate RPS] [--duration S] [--connections C]
//     [--bulk-mib M] [--quick] [--no-pin] [--out DIR] [--ztunnel-node-flags="--cpu-prof …"] [--capture socks|inpod]
import { randomBytes } from 'node:crypto'
import { mkdtemp, rm } from 'node:fs/promises'
import { rmSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { ProcSampler, kibToMB, readMemory } from './proc-stats.js'
import { collectHeader, formatHeader, writeJsonResult } from './report.js'
import { killAllWorkers, startWorker } from './workers/ipc.js'
import type { WorkerHandle } from './workers/ipc.js'
import type { HttpServerConfig } from './workers/http-server.js'
import type { TcpRelayConfig } from './workers/tcp-relay.js'
import { RESPONSE_BODY_BYTES } from './ztunnel-http.js'
import type { Route } from './ztunnel-http.js'
import { Loadgen, canPin, killAll, pickAddresses, pin, startZtunnels, stopChild } from './ztunnel-procs.js'
import type { MeshAddresses, ZtunnelProc } from './ztunnel-procs.js'
import { openMeshCa } from '../identity/ca.js'
import { SpiffeId } from '../identity/spiffe-id.js'
import type { SerializedCertificate } from './workers/hbone-config.js'
import type { HboneReferenceConfig } from './workers/hbone-reference.js'
import { BULK_MODES, INPOD_LATENCY_MODES, LATENCY_MODES, formatSummary, summarize } from './ztunnel-summary.js'
import type { AnyLatencyMode, BulkMode, BulkRound, LatencyMode, LatencyRound, NamedWindow } from './ztunnel-summary.js'
import { benchLog, benchNumber, benchUsageError, nodeFlags, parseBenchArgs, runBenchMain } from './bench-cli.js'
import { compareCaptures, formatCaptureComparison } from './ztunnel-capture-compare.js'
import { INPOD_PODS, requireInpodBench, startInpodSide, type InpodSide } from './ztunnel-inpod.js'

const MiB = 1024 * 1024
const APP_HTTP_PORT = 8080
const APP_SINK_PORT = 9001
const SOCKS_PORT = 15080

interface Cli {
  rounds: number
  rate: number
  durationS: number
  connections: number
  bulkMiB: number
  quick: boolean
  pin: boolean
  outDir: string
  /** Extra Node flags for both ztunnel processes (e.g. `--cpu-prof --cpu-prof-dir=/tmp/prof`). */
  ztunnelNodeFlags: string[]
  /** Per-phase warm-up (unmeasured, same connections and rate) and the global warm-up, in seconds. */
  phaseWarmupS: number
  globalWarmupS: number
  /** `inpod`: SOCKS and in-pod capture in one run (root). */
  capture: 'socks' | 'inpod'
}

function parseCli(argv: string[]): Cli {
  const values = parseBenchArgs(
    argv,
    {
      rounds: { type: 'string' },
      rate: { type: 'string' },
      duration: { type: 'string' },
      connections: { type: 'string' },
      'bulk-mib': { type: 'string' },
      'no-pin': { type: 'boolean', default: false },
      'ztunnel-node-flags': { type: 'string', default: '--max-semi-space-size=2' },
      capture: { type: 'string', default: 'socks' },
    },
    'usage: ztunnel-bench [--rounds N (3; 1 with --quick)] [--rate RPS (1000)] [--duration S per mode and round (10; 1 with --quick)]\n' +
      '  [--connections C (4)] [--bulk-mib M (256; 16 with --quick)] [--quick] [--no-pin] [--out DIR (bench-results)]\n' +
      '  [--ztunnel-node-flags="--cpu-prof --cpu-prof-dir=DIR"] [--capture socks|inpod (inpod: socks and in-pod capture compared, root)]',
  )
  const quick = values.quick
  const capture = values.capture
  if (capture !== 'socks' && capture !== 'inpod') throw benchUsageError(`--capture must be socks or inpod, got ${capture}`)
  return {
    ztunnelNodeFlags: nodeFlags('ztunnel-node-flags', values['ztunnel-node-flags']),
    rounds: benchNumber('rounds', values.rounds, quick ? 1 : 3, 1, 50),
    rate: benchNumber('rate', values.rate, 1000, 1, 20_000, false),
    durationS: benchNumber('duration', values.duration, quick ? 1 : 10, 0.1, 600, false),
    connections: benchNumber('connections', values.connections, 4, 1, 64),
    bulkMiB: benchNumber('bulk-mib', values['bulk-mib'], quick ? 16 : 256, 1, 4096),
    quick,
    pin: !values['no-pin'],
    outDir: values.out,
    phaseWarmupS: quick ? 0.2 : 1,
    globalWarmupS: quick ? 0.5 : 3,
    capture,
  }
}

const METHOD = (c: Cli, pinned: boolean): string[] => [
  "no mesh: load generator → app (HTTP/1.1 server process on the server pod's pod-local address)",
  'mesh: load generator → SOCKS5 at the client pod (node-a ztunnel) → HBONE (mTLS HTTP/2 CONNECT) → ' +
    'node-b ztunnel → the same app; two real `ambient ztunnel` processes from a generated local config',
  'reference: load generator → the reference Node HBONE pair (src/bench/workers/hbone-reference.ts: node:net/tls/http2 only, ' +
    'one TLS 1.3 + h2 session, a CONNECT stream per connection joined with stream.pipe, Nagle off, 4 MiB windows; ' +
    "the ztunnels' Node flags and CA) → the same app; CPU per request ours ÷ reference is printed per round",
  `latency: GET, ${RESPONSE_BODY_BYTES} B response, on ${c.connections} keep-alive ` +
    `connection${c.connections === 1 ? '' : 's'} (no pipelining: a request waits for an idle ` +
    `connection), open loop at ${c.rate}/s for ${c.durationS} s per mode and round, latency from the ` +
    `intended send time (HdrHistogram, 1 µs); same client code in both modes, the generator in its ` +
    `own process`,
  `warm-up: ${c.globalWarmupS} s per mode before round 1, plus ${c.phaseWarmupS} s unmeasured on the ` +
    `fresh connections before each measured window; ${c.rounds} round${c.rounds === 1 ? '' : 's'} ` +
    `interleaved nomesh, mesh, reference, nomesh, mesh, reference, …`,
  'added latency = percentile(mesh) − percentile(no mesh) of the same round; medians (min-max) over ' +
    'rounds; a run under 99 % of the target rate or with errors is flagged REJECTED',
  'CPU = Δ(utime+stime) from /proc/<pid>/stat ÷ 100 ticks ÷ wall s over the steady window only; RSS = ' +
    'mean VmRSS sampled every 100 ms; VmHWM = peak since start (throughput runs come after every latency ' +
    'round, so it excludes them); idle RSS taken after start, before any traffic; MB = 10^6 bytes',
  `throughput: ${c.bulkMiB} MiB one way on one fresh connection, timed until the sink (in the app ` +
    `process) acknowledges the last byte: direct, through the plain Node TCP relay process, through the ` +
    `two ztunnels; interleaved over ${c.rounds} round${c.rounds === 1 ? '' : 's'} after one warm-up each`,
  pinned
    ? 'pinning (taskset) for the latency rounds: load generator, app and this process on CPU 0, both ' +
      'ztunnels, the reference pair and the relay on CPU 1; unpinned for throughput (two ztunnels on one core against a ' +
      'one-process relay would measure the pinning)'
    : 'no CPU pinning (--no-pin, no taskset, or under 2 CPUs)',
  ...(c.capture === 'inpod'
    ? [
        'in-pod (--capture inpod): two more `ambient ztunnel --capture inpod` processes (node-1, node-2); pods are network ' +
          'namespaces on veths and per-node bridges; the same load generator program runs inside ' +
          `${INPOD_PODS.client.name} (captured) and connects plainly to ${INPOD_PODS.server.name}'s pod IP ` +
          `${INPOD_PODS.server.ip}:${APP_HTTP_PORT} (REDIRECT → ztunnel → HBONE → TPROXY → ztunnel → the same app program on ` +
          `0.0.0.0 inside ${INPOD_PODS.server.name}); its baseline (inpod-nomesh) is the same programs in two uncaptured pods ` +
          `(${INPOD_PODS.plainClient.ip} → ${INPOD_PODS.plainServer.ip}) over the same veths and bridges; each capture's added ` +
          'latency is over its own baseline',
        'rounds interleave nomesh, mesh (socks), inpod-nomesh, inpod; in-pod processes are pinned like their SOCKS ' +
          'counterparts; throughput runs are SOCKS only',
      ]
    : []),
  "all traffic on 127.0.0.0/8 (a random 127.X.0.0/16 per run) or inside the run's own network namespaces (no route out; " +
    'the pod ranges blackholed on the host meanwhile); the machine may be shared: read ratios and differences, not absolute times',
]

const log = benchLog

const here = (rel: string): string => fileURLToPath(new URL(rel, import.meta.url))

interface Setup {
  ztunnels: ZtunnelProc[]
  app: WorkerHandle
  relay: WorkerHandle
  loadgen: Loadgen
  /** The reference HBONE pair: client (loadgen side), server (app side). */
  reference: { client: WorkerHandle; server: WorkerHandle }
  latencyRoutes: Record<LatencyMode, Route>
  bulkRoutes: Record<BulkMode, Route>
  idleRssMB: Record<string, number>
  inpod: InpodSide | undefined
}

async function setUp(
  cli: Cli,
  tmpDir: string,
  pinned: boolean,
  workers: WorkerHandle[],
  inpodPrefix: string | undefined,
  onInpod: (side: InpodSide) => void,
): Promise<Setup> {
  const addr = pickAddresses()
  log(
    `mesh on 127.${addr.x}.0.0/16: ztunnels ${addr.nodeIp.a}, ${addr.nodeIp.b}; client pod ` +
      `${addr.clientPodIp}, server pod ${addr.serverPodIp} (app on ${addr.serverPodLocal})`,
  )
  const ztunnels = await startZtunnels(here('../cli/main.js'), tmpDir, addr, log, cli.ztunnelNodeFlags)
  const app = await startWorker<HttpServerConfig>('app', here('./workers/http-server.js'), {
    host: addr.serverPodLocal,
    httpPort: APP_HTTP_PORT,
    sinkPort: APP_SINK_PORT,
    bodyBytes: RESPONSE_BODY_BYTES,
  })
  workers.push(app)
  const relay = await startWorker<TcpRelayConfig>('relay', here('./workers/tcp-relay.js'), {
    targets: [{ host: addr.serverPodLocal, port: APP_SINK_PORT }],
  })
  workers.push(relay)
  const loadgen = await Loadgen.start(here('./workers/http-loadgen.js'))
  const reference = await startReference(tmpDir, addr, cli.ztunnelNodeFlags, workers)
  let inpod: InpodSide | undefined
  if (inpodPrefix !== undefined) {
    log(`in-pod: namespaces ${inpodPrefix}*, ztunnels node-1 127.${addr.x}.0.3, node-2 127.${addr.x}.0.4`)
    inpod = await startInpodSide(
      {
        cliPath: here('../cli/main.js'),
        dir: tmpDir,
        caDir: path.join(tmpDir, 'ca'),
        nodeIps: [`127.${addr.x}.0.3`, `127.${addr.x}.0.4`],
        appFile: here('./workers/http-server.js'),
        appPort: APP_HTTP_PORT,
        sinkPort: APP_SINK_PORT,
        bodyBytes: RESPONSE_BODY_BYTES,
        loadgenFile: here('./workers/http-loadgen.js'),
        ztunnelNodeFlags: cli.ztunnelNodeFlags,
        log,
      },
      inpodPrefix,
    )
    onInpod(inpod)
  }
  if (pinned) {
    pin(process.pid, 0)
    pin(loadgen.pid, 0)
    pin(app.pid, 0)
    for (const z of ztunnels) pin(z.pid, 1)
    pin(reference.client.pid, 1)
    pin(reference.server.pid, 1)
    pin(relay.pid, 1)
    if (inpod !== undefined) {
      for (const pid of [inpod.loadgens.mesh.pid, inpod.loadgens.plain.pid, inpod.apps.mesh.pid, inpod.apps.plain.pid]) pin(pid, 0)
      for (const z of inpod.ztunnels) pin(z.pid, 1)
    }
  }
  const idleRssMB: Record<string, number> = {}
  for (const z of [...ztunnels, ...(inpod?.ztunnels ?? [])]) idleRssMB[`ztunnel ${z.node}`] = kibToMB(readMemory(z.pid).vmRssKiB)
  idleRssMB['reference client'] = kibToMB(readMemory(reference.client.pid).vmRssKiB)
  idleRssMB['reference server'] = kibToMB(readMemory(reference.server.pid).vmRssKiB)
  idleRssMB['app'] = kibToMB(readMemory(app.pid).vmRssKiB)
  idleRssMB['loadgen'] = kibToMB(readMemory(loadgen.pid).vmRssKiB)
  const socks = (port: number): Route => ({ kind: 'socks', proxyHost: addr.clientPodIp, proxyPort: SOCKS_PORT, ip: addr.serverPodIp, port })
  return {
    ztunnels,
    app,
    relay,
    loadgen,
    reference,
    idleRssMB,
    inpod,
    latencyRoutes: {
      nomesh: { kind: 'direct', host: addr.serverPodLocal, port: APP_HTTP_PORT },
      mesh: socks(APP_HTTP_PORT),
      reference: { kind: 'direct', host: REFERENCE_CLIENT_HOST(addr), port: reference.client.ports[0]! },
    },
    bulkRoutes: {
      direct: { kind: 'direct', host: addr.serverPodLocal, port: APP_SINK_PORT },
      relay: { kind: 'direct', host: '127.0.0.1', port: relay.ports[0]! },
      mesh: socks(APP_SINK_PORT),
    },
  }
}

const REFERENCE_CLIENT_HOST = (addr: MeshAddresses): string => `127.${addr.x}.0.6`

/**
 * The reference HBONE pair (src/bench/workers/hbone-reference.ts) with the ztunnels' Node flags and
 * certificates from the same mesh CA: server on 127.X.0.5, client listener on 127.X.0.6, whose one
 * target is the app's HTTP port.
 */
async function startReference(
  tmpDir: string,
  addr: MeshAddresses,
  nodeFlags: readonly string[],
  workers: WorkerHandle[],
): Promise<{ client: WorkerHandle; server: WorkerHandle }> {
  const ca = await openMeshCa({ dir: path.join(tmpDir, 'ca') })
  const issue = async (serviceAccount: string): Promise<{ cert: SerializedCertificate; uri: string }> => {
    const id = SpiffeId.of({ namespace: 'bench', serviceAccount })
    const c = await ca.issue(id)
    return { cert: { keyPem: c.keyPem, certChainPem: [...c.certChainPem], rootsPem: [...c.rootsPem] }, uri: id.toString() }
  }
  const [clientCert, serverCert] = await Promise.all([issue('reference-client'), issue('reference-server')])
  const target = { host: addr.serverPodLocal, port: APP_HTTP_PORT }
  const file = here('./workers/hbone-reference.js')
  const server = await startWorker<HboneReferenceConfig>(
    'reference server',
    file,
    { role: 'server', host: `127.${addr.x}.0.5`, certificate: serverCert.cert, allowedTargets: [target] },
    { nodeFlags },
  )
  workers.push(server)
  const client = await startWorker<HboneReferenceConfig>(
    'reference client',
    file,
    {
      role: 'client',
      host: REFERENCE_CLIENT_HOST(addr),
      certificate: clientCert.cert,
      server: { host: `127.${addr.x}.0.5`, port: server.ports[0]! },
      serverUri: serverCert.uri,
      target,
    },
    { nodeFlags },
  )
  workers.push(client)
  return { client, server }
}

/** The load generator, route and measured processes of one latency mode. */
function latencyPath(s: Setup, mode: AnyLatencyMode): { loadgen: Loadgen; route: Route; procs: { role: string; pid: number }[] } {
  if (mode === 'nomesh' || mode === 'mesh' || mode === 'reference') {
    const proxies =
      mode === 'reference'
        ? [
            { role: 'reference client', pid: s.reference.client.pid },
            { role: 'reference server', pid: s.reference.server.pid },
          ]
        : s.ztunnels.map((z) => ({ role: `ztunnel ${z.node}`, pid: z.pid }))
    return {
      loadgen: s.loadgen,
      route: s.latencyRoutes[mode],
      procs: [...proxies, { role: 'loadgen', pid: s.loadgen.pid }, { role: 'app', pid: s.app.pid }],
    }
  }
  const side = s.inpod
  if (side === undefined) throw new Error(`latency mode ${mode} needs --capture inpod`)
  const which = mode === 'inpod' ? 'mesh' : 'plain'
  return {
    loadgen: side.loadgens[which],
    route: side.routes[which],
    procs: [
      ...side.ztunnels.map((z) => ({ role: `ztunnel ${z.node}`, pid: z.pid })),
      { role: 'loadgen', pid: side.loadgens[which].pid },
      { role: 'app', pid: side.apps[which].pid },
    ],
  }
}

async function latencyRun(
  s: Setup,
  cli: Cli,
  mode: AnyLatencyMode,
  round: number,
  seconds: number,
  warmupS: number,
): Promise<LatencyRound> {
  const { loadgen, route, procs } = latencyPath(s, mode)
  const samplers = procs.map((p) => new ProcSampler(p.pid))
  let sampling = false
  const count = Math.max(1, Math.round(cli.rate * seconds))
  try {
    const result = await loadgen.latency(
      {
        route,
        connections: cli.connections,
        ratePerSec: cli.rate,
        warmupCount: Math.round(cli.rate * warmupS),
        count,
        maxDurationMs: Math.round(seconds * 2000 + 5000),
      },
      () => {
        for (const x of samplers) x.start()
        sampling = true
      },
    )
    if (!sampling) throw new Error('the load generator never reported its steady window')
    const processes: NamedWindow[] = samplers.map((x, i) => ({ role: procs[i]!.role, ...x.stop() }))
    sampling = false
    return { round, mode, result, processes }
  } finally {
    if (sampling) for (const x of samplers) x.stop()
  }
}

async function bulkRun(s: Setup, cli: Cli, mode: BulkMode, round: number, bytes: number): Promise<BulkRound> {
  // Even at 0.5 Gb/s the bytes move in bytes*8/5e8 s: bound at 4× that, at least 10 s.
  const maxDurationMs = Math.max(10_000, Math.round(((bytes * 8) / 5e8) * 4000))
  const result = await s.loadgen.bulk({ route: s.bulkRoutes[mode], bytes, maxDurationMs })
  return { round, mode, result }
}

const cores = os.availableParallelism()

async function main(): Promise<void> {
  const cli = parseCli(process.argv.slice(2))
  const pinned = cli.pin && canPin(cores)
  const header = collectHeader('bench:ztunnel', METHOD(cli, pinned), {
    rounds: cli.rounds,
    rate: cli.rate,
    durationS: cli.durationS,
    connections: cli.connections,
    bulkMiB: cli.bulkMiB,
    quick: cli.quick,
    pinned,
    ztunnelNodeFlags: cli.ztunnelNodeFlags.join(' '),
  })
  process.stdout.write(`${formatHeader(header)}\n\n`)

  const tmpDir = await mkdtemp(path.join(os.tmpdir(), 'ambient-ztbench-'))
  const workers: WorkerHandle[] = []
  let setup: Setup | undefined
  let inpodSide: InpodSide | undefined
  const onSignal = (signal: NodeJS.Signals): void => {
    log(`${signal}: stopping every child process`)
    killAll()
    killAllWorkers()
    inpodSide?.sweepNow()
    rmSync(tmpDir, { recursive: true, force: true })
    process.exit(130)
  }
  process.once('SIGINT', onSignal)
  process.once('SIGTERM', onSignal)
  process.once('exit', () => {
    killAll()
    killAllWorkers()
  })
  try {
    let inpodPrefix: string | undefined
    if (cli.capture === 'inpod') {
      inpodPrefix = `zb${randomBytes(3).toString('hex')}-`
      await requireInpodBench(inpodPrefix)
    }
    setup = await setUp(cli, tmpDir, pinned, workers, inpodPrefix, (side) => {
      inpodSide = side
    })
    const s = setup
    const latencyModes: readonly AnyLatencyMode[] = s.inpod === undefined ? LATENCY_MODES : [...LATENCY_MODES, ...INPOD_LATENCY_MODES]
    log(
      `processes: ${s.ztunnels.map((z) => `ztunnel ${z.node} pid ${z.pid}`).join(', ')}, app pid ` +
        `${s.app.pid}, relay pid ${s.relay.pid}, loadgen pid ${s.loadgen.pid}`,
    )

    log(`warm-up: ${cli.globalWarmupS} s per latency mode`)
    for (const mode of latencyModes) await latencyRun(s, cli, mode, 0, cli.globalWarmupS, 0)
    const latency: LatencyRound[] = []
    for (let round = 1; round <= cli.rounds; round++) {
      for (const mode of latencyModes) {
        log(`round ${round}/${cli.rounds}: latency ${mode}`)
        const r = await latencyRun(s, cli, mode, round, cli.durationS, cli.phaseWarmupS)
        if (r.result.rejected) log(`  REJECTED: ${r.result.rejectReasons.join('; ')}`)
        latency.push(r)
      }
    }
    const bytes = cli.bulkMiB * MiB
    if (pinned) {
      // One core for two ztunnels would halve the pair against a one-process relay: for throughput
      // every process may use every CPU, in all three modes alike.
      for (const pid of [process.pid, s.loadgen.pid, s.app.pid, s.relay.pid, ...s.ztunnels.map((z) => z.pid)]) pin(pid, `0-${cores - 1}`)
    }
    log('warm-up: throughput')
    for (const mode of BULK_MODES) await bulkRun(s, cli, mode, 0, Math.max(MiB, Math.round(bytes / 8)))
    const bulk: BulkRound[] = []
    for (let round = 1; round <= cli.rounds; round++) {
      for (const mode of BULK_MODES) {
        log(`round ${round}/${cli.rounds}: throughput ${mode}`)
        bulk.push(await bulkRun(s, cli, mode, round, bytes))
      }
    }
    const summary = summarize(latency, bulk, s.idleRssMB)
    process.stdout.write(`${formatSummary(summary)}\n\n`)
    const captures = s.inpod === undefined ? undefined : compareCaptures(latency)
    if (captures !== undefined) process.stdout.write(`${formatCaptureComparison(captures, cli.rate)}\n\n`)
    const file = await writeJsonResult(
      cli.outDir,
      'ztunnel',
      { header, summary, captures, idleRssMB: s.idleRssMB, latency, bulk },
      new Date(header.date),
    )
    process.stdout.write(`JSON: ${file}\n`)
  } finally {
    await setup?.loadgen.stop()
    await inpodSide?.close()
    await Promise.all(workers.map((w) => w.stop()))
    await Promise.all((setup?.ztunnels ?? []).map((z) => stopChild(z.child)))
    killAll()
    await rm(tmpDir, { recursive: true, force: true })
  }
}

runBenchMain(main, () => {
  killAll()
  killAllWorkers()
})
