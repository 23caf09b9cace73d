// `npm run bench:xds`: the Delta ADS server (src/xds) over TLS on 127.0.0.1 with a generated mesh
// (10,000 workloads, 1,000 services, 1,000 policies by default; 1000/200/100 with --quick) and 100
// ztunnel-like clients (10 with --quick) in separate processes, each decoding and applying into its
// own MeshState (or, with --client-work ack, only counting and ACKing what it receives). Measures the initial sync, and the
// propagation of a one-policy, a one-workload and a 10-policy change to every client (applied, and
// ACKed at the server), with the bytes each change pushes against the size of the whole mesh.
// istiod's translation is not in the measured path: the providers hold pre-encoded resources.
//
//   node dist/bench/xds-bench.js [--rounds N] [--warmup N] [--sync-rounds N] [--ztunnels N]
//     [--procs N] [--workloads N] [--services N] [--policies N] [--client-work apply|ack] [--quick] [--out DIR]
import { mkdtemp, rm } from 'node:fs/promises'
import { rmSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { openMeshCa } from '../identity/ca.js'
import { SpiffeId } from '../identity/spiffe-id.js'
import { TYPE_URL } from '../xds/convert.js'
import { createDeltaAdsServer } from '../xds/delta-server.js'
import type { DeltaAdsMetrics, DeltaAdsServer } from '../xds/delta-server.js'
import { AGGREGATED_DISCOVERY_SERVICE } from '../xds/grpc-definitions.js'
import { startGrpcServer } from '../xds/grpc-server.js'
import { PACED_AHEAD_BYTES } from '../xds/stream-pacer.js'
import type { GrpcServer } from '../xds/grpc-server.js'
import { ProcSampler } from './proc-stats.js'
import type { ProcWindow } from './proc-stats.js'
import { collectHeader, formatHeader, writeJsonResult } from './report.js'
import { epochNow as wallNow } from '../clock.js'
import type { XdsClientReport, XdsClientSpec, XdsClientWork, XdsWorkerMessage } from './workers/xds-protocol.js'
import { generateMesh, MARKER_PORT_BASE, MeshStore, nodeName } from './xds-mesh.js'
import type { AppliedChange, MeshSize } from './xds-mesh.js'
import { killXdsWorkers, XdsClientWorker } from './xds-procs.js'
import { CHANGE_MODES, formatSummary, summarize, TARGET_P99_MS, TARGET_SYNC_MS } from './xds-summary.js'
import type { ChangeMode, ChangeRound, SyncRound } from './xds-summary.js'
import { benchLog, benchNumber, benchUsageError, nodeFlags, parseBenchArgs, runBenchMain } from './bench-cli.js'

interface Cli {
  rounds: number
  warmup: number
  syncRounds: number
  ztunnels: number
  procs: number
  size: MeshSize
  quick: boolean
  outDir: string
  roundTimeoutMs: number
  clientNodeFlags: string[]
  clientWork: XdsClientWork
  syncTimeoutMs: number
  /** istiod's per-stream write-ahead (PACED_AHEAD_BYTES by default); 0: unpaced, as before. */
  paceAheadBytes: number
}

function parseCli(argv: string[]): Cli {
  const values = parseBenchArgs(
    argv,
    {
      rounds: { type: 'string' },
      warmup: { type: 'string' },
      'sync-rounds': { type: 'string' },
      ztunnels: { type: 'string' },
      procs: { type: 'string' },
      workloads: { type: 'string' },
      services: { type: 'string' },
      policies: { type: 'string' },
      'client-node-flags': { type: 'string', default: '' },
      'client-work': { type: 'string', default: 'apply' },
      'pace-ahead-bytes': { type: 'string' },
    },
    'usage: xds-bench [--rounds N per change kind (200; 20 with --quick)] [--warmup N (20; 5)] [--sync-rounds N (3; 1)]\n' +
      '  [--ztunnels N (100; 10)] [--procs N client processes (4; 2)] [--workloads N (10000; 1000)] [--services N (1000; 200)]\n' +
      '  [--policies N (1000; 100)] [--client-work apply|ack (apply)] [--client-node-flags="--flag …"] [--quick] [--out DIR (bench-results)]\n' +
      `  [--pace-ahead-bytes N (istiod's write-ahead per stream, ${PACED_AHEAD_BYTES}; 0 = unpaced)]`,
  )
  const quick = values.quick
  const ztunnels = benchNumber('ztunnels', values.ztunnels, quick ? 10 : 100, 1, 200)
  const clientWork = values['client-work']
  if (clientWork !== 'apply' && clientWork !== 'ack') throw benchUsageError(`--client-work must be apply or ack, got ${clientWork}`)
  return {
    rounds: benchNumber('rounds', values.rounds, quick ? 20 : 200, 1, 5000),
    warmup: benchNumber('warmup', values.warmup, quick ? 5 : 20, 0, 1000),
    syncRounds: benchNumber('sync-rounds', values['sync-rounds'], quick ? 1 : 3, 1, 20),
    paceAheadBytes: benchNumber('pace-ahead-bytes', values['pace-ahead-bytes'], PACED_AHEAD_BYTES, 0, 1 << 30),
    ztunnels,
    procs: Math.min(ztunnels, benchNumber('procs', values.procs, quick ? 2 : 4, 1, 32)),
    size: {
      workloads: benchNumber('workloads', values.workloads, quick ? 1000 : 10_000, 1, 50_000),
      services: benchNumber('services', values.services, quick ? 200 : 1000, 1, 10_000),
      policies: benchNumber('policies', values.policies, quick ? 100 : 1000, 10, 10_000),
      nodes: ztunnels,
    },
    quick,
    outDir: values.out,
    roundTimeoutMs: 10_000,
    clientNodeFlags: nodeFlags('client-node-flags', values['client-node-flags']),
    clientWork,
    // The clients decode and apply the whole mesh each: their CPU, not the server's, bounds a large sync.
    syncTimeoutMs: quick ? 30_000 : 600_000,
  }
}

const METHOD = (c: Cli): string[] => [
  `mesh: ${c.size.workloads} workloads, ${c.size.services} services, ${c.size.policies} authorization ` +
    `policies generated as domain values and encoded once (istio.workload.Address, ` +
    `istio.security.Authorization); istiod's translation is NOT in the measured path: one ` +
    `ResourceProvider per type over a mutable in-memory set`,
  'server: src/xds Delta ADS server on a gRPC TLS listener at 127.0.0.1 (port 0), in this process; its metrics hooks count pushed bytes and ACKs',
  `clients: ${c.ztunnels} ztunnel-like Delta ADS clients (TLS, bearer token, wildcard Address + Authorization) ` +
    `in ${c.procs} separate process${c.procs === 1 ? '' : 'es'}, ` +
    (c.clientWork === 'apply'
      ? 'each decoding and applying every batch into its own MeshState before it ACKs'
      : 'each only counting the resources it receives (Address kind from the oneof tag) before it ACKs: ' +
        '--client-work ack, the server and the wire without the clients decode/apply'),
  `initial sync: 'connect' sent to the client processes → every client has both types in its MeshState ` +
    `(clients' clocks, offset-corrected by an IPC ping exchange) and → the last initial ACK at the server; ` +
    `fresh clients each of ${c.syncRounds} round${c.syncRounds === 1 ? '' : 's'}; median (min-max)`,
  `propagation: change the resource(s) in the provider, push(), then time until all ${c.ztunnels} ` +
    `clients have APPLIED it (each reports the applied name+version over IPC with its timestamp) and ` +
    `until the server has every ACK; changes interleaved one policy, one workload, 10 policies × ${c.rounds} ` +
    `rounds after ${c.warmup} warm-up rounds each; p50/p90/p99/max nearest-rank`,
  "a policy change rewrites one port of the policy's last rule (same size); a workload change sets " +
    'its capacity; each change is a new version, rotating over the policies / workloads',
  "bytes: payload = encoded resources (the pushed hook, checked against the clients' own counts); " +
    'protobuf = one DeltaDiscoveryResponse as serialized, before gRPC framing and TLS',
  `targets: initial sync of all ${c.ztunnels} within ${TARGET_SYNC_MS} ms; one-policy change applied by all ${c.ztunnels} ` +
    `within ${TARGET_P99_MS} ms p99; bytes per change must scale with the change, not with the mesh; ` +
    'istiod CPU of the sync and RSS = the bench process (server + the mesh it serves), sampled',
  'the machine may be shared (see load): read ratios, and absolute times as an upper bound',
]

const log = benchLog

/** istiod's memory by kind (the bench process): where its RSS goes. */
function memorySplit(): string {
  const m = process.memoryUsage()
  const mb = (n: number): string => (n / 1048576).toFixed(0)
  return (
    `rss ${mb(m.rss)} MB = JS heap ${mb(m.heapTotal)} MB (used ${mb(m.heapUsed)}) + external ${mb(m.external)} MB ` +
    `(of which ArrayBuffers ${mb(m.arrayBuffers)}) + the rest (code, native, nghttp2/OpenSSL)`
  )
}

const here = (rel: string): string => fileURLToPath(new URL(rel, import.meta.url))
const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms))
const ISTIOD_ID = SpiffeId.of({ namespace: 'istio-system', serviceAccount: 'istiod' }).toString()

/** The server's metrics hooks, with counters the bench resets per round. */
class Tap implements DeltaAdsMetrics {
  pushedBytes = 0
  pushedResources = 0
  responses = 0
  acks = 0
  lastAckAt = Number.NaN
  nacks = 0
  connected = 0
  onAck: (() => void) | undefined
  reset(): void {
    this.pushedBytes = 0
    this.pushedResources = 0
    this.responses = 0
    this.acks = 0
    this.lastAckAt = Number.NaN
  }
  pushed(e: { resources: number; bytes: number }): void {
    this.pushedBytes += e.bytes
    this.pushedResources += e.resources
    this.responses++
  }
  acked(): void {
    this.acks++
    this.lastAckAt = wallNow()
    this.onAck?.()
  }
  nacked(): void {
    this.nacks++
  }
  connectedProxies(n: number): void {
    this.connected = n
  }
}

const serializeResponse = AGGREGATED_DISCOVERY_SERVICE.DeltaAggregatedResources.responseSerialize

/** Size of one DeltaDiscoveryResponse carrying these resources (content does not change the size). */
function responseBytes(typeUrl: string, resources: readonly { name: string; version: string; bytes: number }[]): number {
  return serializeResponse({
    typeUrl,
    nonce: 'abcdef12-1000',
    removedResources: [],
    resources: resources.map((r) => ({
      name: r.name,
      version: r.version,
      resource: { type_url: typeUrl, value: new Uint8Array(r.bytes) },
    })),
  }).length
}

interface Rig {
  store: MeshStore
  ads: DeltaAdsServer
  grpc: GrpcServer
  tap: Tap
  workers: XdsClientWorker[]
  /** The latest cumulative received bytes each client reported. */
  clientBytes: number[]
  /** Current listener for client reports (one round at a time). */
  onReport: ((w: XdsClientWorker, m: XdsWorkerMessage) => void) | undefined
}

async function setUp(cli: Cli, tmpDir: string, rig: Partial<Rig>): Promise<Rig> {
  const ca = await openMeshCa({ dir: path.join(tmpDir, 'ca') })
  const cert = await ca.issue(SpiffeId.parse(ISTIOD_ID))
  const t0 = performance.now()
  const store = new MeshStore(generateMesh(cli.size))
  log(`mesh generated and encoded in ${(performance.now() - t0).toFixed(0)} ms`)
  const tap = new Tap()
  const tokens = new Map(Array.from({ length: cli.ztunnels }, (_, i) => [`token-${nodeName(i)}`, nodeName(i)]))
  const ads = createDeltaAdsServer({ providers: store.providers, authenticate: (t) => tokens.get(t), metrics: tap })
  rig.ads = ads
  const grpc = await startGrpcServer({
    host: '127.0.0.1',
    port: 0,
    shutdownGraceMs: 500,
    paceAheadBytes: cli.paceAheadBytes === 0 ? Infinity : cli.paceAheadBytes,
    tls: { rootCertPem: ca.rootCertPem, certChainPem: cert.certChainPem.join(''), keyPem: cert.keyPem },
    services: [ads.service],
  })
  rig.grpc = grpc
  log(`Delta ADS server on ${grpc.target}`)
  const specs: XdsClientSpec[] = Array.from({ length: cli.ztunnels }, (_, i) => ({
    index: i,
    nodeId: `ztunnel~${nodeName(i)}`,
    token: `token-${nodeName(i)}`,
  }))
  const workers: XdsClientWorker[] = []
  rig.workers = workers
  for (let p = 0; p < cli.procs; p++) {
    const clients = specs.filter((s) => s.index % cli.procs === p)
    workers.push(
      await XdsClientWorker.start(
        `xds-clients-${p}`,
        here('./workers/xds-clients.js'),
        {
          target: grpc.target,
          rootCertPem: ca.rootCertPem,
          serverIdentity: ISTIOD_ID,
          clients,
          reportNamesMax: 64,
          work: cli.clientWork,
        },
        cli.clientNodeFlags,
      ),
    )
  }
  const full = rig as Rig
  full.store = store
  full.tap = tap
  full.clientBytes = new Array<number>(cli.ztunnels).fill(0)
  full.onReport = undefined
  for (const w of workers) {
    w.on((m) => {
      if (m.type === 'synced' || m.type === 'applied') full.clientBytes[m.index] = m.bytes
      full.onReport?.(w, m)
    })
    await w.calibrateClock(30)
    log(
      `${w.name} pid ${w.pid}: clients ${specs
        .filter((s) => s.index % cli.procs === workers.indexOf(w))
        .map((s) => s.index)
        .join(',')}; clock offset ${w.offsetMs.toFixed(3)} ms (IPC rtt ${w.clockRttMs.toFixed(3)} ms)`,
    )
  }
  return full
}

/** Waits until `done()` holds, re-checking on every client report and ACK; false on timeout. */
function waitFor(
  rig: Rig,
  onReport: (w: XdsClientWorker, m: XdsWorkerMessage) => void,
  done: () => boolean,
  timeoutMs: number,
): Promise<boolean> {
  return new Promise((resolve) => {
    const finish = (ok: boolean): void => {
      clearTimeout(timer)
      rig.onReport = undefined
      rig.tap.onAck = undefined
      resolve(ok)
    }
    const check = (): void => {
      if (done()) finish(true)
    }
    const timer = setTimeout(() => finish(false), timeoutMs)
    rig.onReport = (w, m) => {
      onReport(w, m)
      check()
    }
    rig.tap.onAck = check
    check()
  })
}

async function syncRound(rig: Rig, cli: Cli, round: number): Promise<SyncRound> {
  const n = cli.ztunnels
  const at = new Array<number>(n).fill(Number.NaN)
  const counts: string[] = []
  rig.tap.reset()
  const server = new ProcSampler(process.pid)
  server.start()
  const clientProcs = rig.workers.map((w) => new ProcSampler(w.pid))
  for (const c of clientProcs) c.start()
  const t0 = wallNow()
  const ok = await new Promise<boolean>((resolve) => {
    void waitFor(
      rig,
      (w, m) => {
        if (m.type !== 'synced') return
        at[m.index] = m.at - w.offsetMs
        counts[m.index] = `${m.workloads}/${m.services}/${m.policies}`
      },
      () => at.every(Number.isFinite) && rig.tap.acks >= 2 * n,
      cli.syncTimeoutMs,
    ).then(resolve)
    for (const w of rig.workers) w.send({ type: 'connect' })
  })
  const window = server.stop()
  const clientWindows = clientProcs.map((c) => c.stop())
  if (!ok)
    throw new Error(
      `initial sync round ${round}: not every client synced within ${cli.syncTimeoutMs / 1000} s ` +
        `(synced: ${at.filter(Number.isFinite).length}/${n}, ACKs ${rig.tap.acks}/${2 * n})`,
    )
  const want = `${cli.size.workloads}/${cli.size.services}/${cli.size.policies}`
  const wrong = counts.map((c, i) => [i, c] as const).filter(([, c]) => c !== want)
  if (wrong.length > 0)
    throw new Error(
      `initial sync round ${round}: clients hold the wrong mesh (want ${want} workloads/services/policies): ${wrong.map(([i, c]) => `#${i} ${c}`).join(', ')}`,
    )
  return {
    round,
    syncedMs: Math.max(...at) - t0,
    ackedMs: rig.tap.lastAckAt - t0,
    perClientMs: at.map((x) => x - t0),
    pushedBytes: rig.tap.pushedBytes,
    pushedResources: rig.tap.pushedResources,
    clientBytes: rig.clientBytes.reduce((a, b) => a + b, 0),
    serverCpuCores: window.cpuCores,
    serverCpuS: (window.cpuCores * window.wallMs) / 1000,
    serverRssMaxMB: window.rssMaxMB,
    clientCpuS: clientWindows.reduce((a, w) => a + (w.cpuCores * w.wallMs) / 1000, 0),
    clientRssMaxMB: clientWindows.reduce((a, w) => a + w.rssMaxMB, 0),
  }
}

async function disconnectAll(rig: Rig): Promise<void> {
  await Promise.all(rig.workers.map((w) => w.disconnect()))
  for (let i = 0; i < 100 && rig.tap.connected > 0; i++) await sleep(20)
  if (rig.tap.connected > 0) throw new Error(`${rig.tap.connected} streams still open at the server after every client closed`)
}

/** Per-mode rotation over the mesh, and a sequence that makes every change a new version. */
let changeSeq = 0

function makeChange(store: MeshStore, mode: ChangeMode, round: number): AppliedChange {
  const seq = ++changeSeq
  const policies = store.mesh.policies.length
  switch (mode) {
    case 'policy-1':
      return store.changePolicies([round % policies], MARKER_PORT_BASE + seq)
    case 'policy-10':
      return store.changePolicies(
        Array.from({ length: 10 }, (_, k) => (round * 10 + k + 50) % policies),
        MARKER_PORT_BASE + seq,
      )
    case 'workload-1':
      return store.changeWorkload((round * 7) % store.mesh.workloads.length, 2 + seq)
  }
}

async function changeRound(rig: Rig, cli: Cli, mode: ChangeMode, round: number): Promise<ChangeRound> {
  const n = cli.ztunnels
  const bytesBefore = rig.clientBytes.reduce((a, b) => a + b, 0)
  rig.tap.reset()
  const t0 = wallNow()
  const change = makeChange(rig.store, mode, round)
  rig.ads.push(change.typeUrl)
  const pushMs = wallNow() - t0
  const expected = new Map(change.resources.map((r) => [r.name, r.version]))
  const pending = Array.from({ length: n }, () => new Set(expected.keys()))
  const at = new Array<number>(n).fill(Number.NaN)
  let applyMsMax = 0
  const ok = await waitFor(
    rig,
    (w, m) => {
      if (m.type !== 'applied') return
      for (const [name, version] of m.names) if (expected.get(name) === version) pending[m.index]!.delete(name)
      applyMsMax = Math.max(applyMsMax, m.applyMs)
      if (pending[m.index]!.size === 0 && !Number.isFinite(at[m.index]!)) at[m.index] = m.at - w.offsetMs
    },
    () => at.every(Number.isFinite) && rig.tap.acks >= n,
    cli.roundTimeoutMs,
  )
  const changedBytes = change.resources.reduce((a, r) => a + r.bytes, 0)
  return {
    mode,
    round,
    appliedMs: ok ? Math.max(...at) - t0 : Number.NaN,
    firstAppliedMs: Math.min(...at.filter(Number.isFinite)) - t0,
    ackedMs: ok ? rig.tap.lastAckAt - t0 : Number.NaN,
    pushMs,
    changedResources: change.resources.length,
    changedBytes,
    pushedBytes: rig.tap.pushedBytes,
    pushedResources: rig.tap.pushedResources,
    responses: rig.tap.responses,
    clientBytes: rig.clientBytes.reduce((a, b) => a + b, 0) - bytesBefore,
    responseBytesPerClient: responseBytes(change.typeUrl, change.resources),
    applyMsMax,
  }
}

async function main(): Promise<void> {
  const cli = parseCli(process.argv.slice(2))
  const header = collectHeader('bench:xds', METHOD(cli), {
    workloads: cli.size.workloads,
    services: cli.size.services,
    policies: cli.size.policies,
    ztunnels: cli.ztunnels,
    procs: cli.procs,
    rounds: cli.rounds,
    warmup: cli.warmup,
    syncRounds: cli.syncRounds,
    quick: cli.quick,
  })
  process.stdout.write(`${formatHeader(header)}\n\n`)
  const tmpDir = await mkdtemp(path.join(os.tmpdir(), 'ambient-xdsbench-'))
  const onSignal = (signal: NodeJS.Signals): void => {
    log(`${signal}: stopping every child process`)
    killXdsWorkers()
    rmSync(tmpDir, { recursive: true, force: true })
    process.exit(130)
  }
  process.once('SIGINT', onSignal)
  process.once('SIGTERM', onSignal)
  process.once('exit', () => killXdsWorkers())
  const partial: Partial<Rig> = {}
  try {
    const rig = await setUp(cli, tmpDir, partial)
    const mesh = rig.store.totalBytes()
    const syncResponseBytes =
      responseBytes(
        TYPE_URL.address,
        [...rig.store.addresses.items].map(([name, r]) => ({ name, version: r.version, bytes: r.bytes.length })),
      ) +
      responseBytes(
        TYPE_URL.authorization,
        [...rig.store.authorization.items].map(([name, r]) => ({ name, version: r.version, bytes: r.bytes.length })),
      )
    log(
      `mesh payload: addresses ${mesh.address} B, authorization ${mesh.authorization} B; initial DeltaDiscoveryResponses ${syncResponseBytes} B per client`,
    )
    log(`istiod memory before any client: ${memorySplit()}`)

    const sync: SyncRound[] = []
    for (let r = 1; r <= cli.syncRounds; r++) {
      if (r > 1) await disconnectAll(rig)
      const s = await syncRound(rig, cli, r)
      log(
        `initial sync ${r}/${cli.syncRounds}: all ${cli.ztunnels} synced in ${s.syncedMs.toFixed(1)} ms, ` +
          `last ACK at ${s.ackedMs.toFixed(1)} ms, ${s.pushedBytes} B pushed; ` +
          `server ${s.serverCpuCores.toFixed(2)} cores = ${s.serverCpuS.toFixed(2)} CPU-s, RSS max ${s.serverRssMaxMB.toFixed(0)} MB; ` +
          `clients ${s.clientCpuS.toFixed(2)} CPU-s = ${((s.clientCpuS * 1000) / cli.ztunnels).toFixed(1)} ms per client`,
      )
      log(`istiod memory after sync ${r}: ${memorySplit()}`)
      sync.push(s)
    }
    const status = rig.ads.status()
    const peers = new Set(status.connections.map((c) => c.address)).size
    log(`server holds ${status.connections.length} streams from ${peers} distinct peer addresses (one connection per client)`)

    log(`warm-up: ${cli.warmup} rounds per change kind`)
    for (let r = 0; r < cli.warmup; r++) for (const mode of CHANGE_MODES) await changeRound(rig, cli, mode, r)
    const samplers = [process.pid, ...rig.workers.map((w) => w.pid)].map((pid) => new ProcSampler(pid))
    for (const s of samplers) s.start()
    const changes: ChangeRound[] = []
    let timeouts = 0
    for (let r = 0; r < cli.rounds && timeouts < 5; r++) {
      for (const mode of CHANGE_MODES) {
        const c = await changeRound(rig, cli, mode, cli.warmup + r)
        if (!Number.isFinite(c.appliedMs)) {
          timeouts++
          log(`round ${r + 1} ${mode}: not applied/ACKed by every client within ${cli.roundTimeoutMs} ms`)
        }
        changes.push(c)
        // A short idle gap so that one change does not start while the previous one's IPC reports drain.
        await sleep(1)
      }
      if ((r + 1) % 50 === 0) log(`propagation: ${r + 1}/${cli.rounds} rounds`)
    }
    const windows: (ProcWindow & { role: string })[] = samplers.map((s, i) => ({
      role: i === 0 ? 'server (bench process)' : rig.workers[i - 1]!.name,
      ...s.stop(),
    }))
    if (timeouts >= 5) log('stopped early: 5 rounds timed out')
    const clients: XdsClientReport[] = (await Promise.all(rig.workers.map((w) => w.stats()))).flat().sort((a, b) => a.index - b.index)
    const nacks = rig.tap.nacks + clients.reduce((a, c) => a + c.nacks, 0)
    const summary = summarize(cli.ztunnels, sync, syncResponseBytes, changes, {
      rssMaxMB: Math.max(windows[0]!.rssMaxMB, ...sync.map((r) => r.serverRssMaxMB)),
      hwmMB: windows[0]!.hwmMB,
      clientWork: cli.clientWork,
    })
    process.stdout.write(`${formatSummary(summary)}\n\n`)
    process.stdout.write(
      `CPU over the propagation rounds: ${windows.map((w) => `${w.role} ${w.cpuCores.toFixed(2)} cores, RSS ${w.rssMeanMB.toFixed(0)} MB`).join('; ')}\n`,
    )
    const loadAvgEnd = Math.round((os.loadavg()[0] ?? 0) * 100) / 100
    process.stdout.write(
      `NACKs: ${nacks}; streams at the server: ${status.connections.length} from ${peers} peers; load at ` +
        `the end ${loadAvgEnd} on ${header.cores} cores; istiod translation not measured (pre-encoded ` +
        `providers)\n\n`,
    )
    const file = await writeJsonResult(
      cli.outDir,
      'xds',
      {
        header,
        loadAvgEnd,
        summary,
        meshBytes: mesh,
        syncResponseBytesPerClient: syncResponseBytes,
        sync,
        changes,
        processes: windows,
        clients,
        nacks,
        distinctPeers: peers,
      },
      new Date(header.date),
    )
    process.stdout.write(`JSON: ${file}\n`)
  } finally {
    await Promise.all((partial.workers ?? []).map((w) => w.stop()))
    await partial.grpc?.close()
    killXdsWorkers()
    await rm(tmpDir, { recursive: true, force: true })
  }
}

runBenchMain(main, killXdsWorkers)
