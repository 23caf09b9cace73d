// `npm run bench:istiod`: what one config change costs istiod itself, before any delta goes out. A
// generated config (./istiod-mesh.ts: 1,000 Services × 10 pods, 1,000 AuthorizationPolicies, every
// fourth namespace behind a waypoint; 200 × 5 and 100 with --quick) goes through istiod's own path
// once (parse → snapshot → translate → analyze → providers update, as src/istiod/istiod.ts's apply
// does), then each round rewrites ONE policy's file and times that path again, per phase, in CPU ms of
// this process (process.cpuUsage: less inflated by a busy machine than wall time) and wall ms. It also
// counts what the providers' update produced: resources given new bytes (re-encoded: a new
// VersionedResource object) and resources whose version changed (what the server will send).
// bench:xds measures the server and the wire; this measures what happens before them.
//
//   node dist/bench/istiod-bench.js [--rounds N (10; 3 with --quick)] [--services N] [--pods-per-service N]
//     [--policies N] [--nodes N (100)] [--sidecars] [--quick] [--out DIR]
// --sidecars translates in sidecar mode (one SidecarConfig per meshed pod, served as waypoint-config
// resources `sidecar/<ns>/<pod>`) and prints the encoded size of each pod's config.
import os from 'node:os'
import path from 'node:path'
import { analyzeIncremental, type AnalysisMemo } from '../istiod/analysis/index.js'
import { createIstiodProviders } from '../istiod/providers.js'
import type { ConfigObject } from '../istiod/resources/model.js'
import { parseConfigText } from '../istiod/resources/parse.js'
import { internSnapshot } from '../istiod/resources/intern.js'
import type { ConfigSnapshot } from '../istiod/resources/model.js'
import { buildSnapshot } from '../istiod/resources/snapshot.js'
import { translateIncremental, type AllocationTable, type TranslateMemo } from '../istiod/translate/index.js'
import { AGGREGATED_DISCOVERY_SERVICE } from '../xds/grpc-definitions.js'
import { MemoryServerCall } from '../xds/grpc-memory-call.js'
import { createDeltaAdsServer } from '../xds/delta-server.js'
import type { VersionedResource } from '../xds/resource-provider.js'
import { benchLog, benchNumber, parseBenchArgs, runBenchMain } from './bench-cli.js'
import { generateIstiodConfig, MARKER_PORT_BASE, type ConfigFile } from './istiod-mesh.js'
import { collectHeader, formatHeader, formatSpread, formatTable, spread, writeJsonResult } from './report.js'

const PHASES = ['parse+snapshot', 'translate', 'analyze', 'providers.update', 'server.push'] as const
type Phase = (typeof PHASES)[number]

interface Timing {
  readonly cpuMs: number
  readonly wallMs: number
}

interface UpdateResult {
  readonly phases: Record<Phase, Timing>
  readonly total: Timing
  /** Resources (all types) the update gave a new VersionedResource: encoded again. */
  readonly reencoded: number
  /** Resources whose version changed, were added or removed: what a push sends. */
  readonly changed: number
  readonly resources: number
  /** What the push wrote to the in-process clients: responses and bytes. */
  readonly responses: number
  readonly pushedBytes: number
}

const METHOD = AGGREGATED_DISCOVERY_SERVICE.DeltaAggregatedResources

/**
 * An in-process Delta ADS client: an in-memory server call that subscribes (wildcard) to every type
 * and counts what the server writes. No socket: the push's server-side work only.
 */
class FakeStream extends MemoryServerCall {
  constructor(readonly node: string) {
    super({ path: METHOD.path, metadata: { authorization: 'Bearer bench' }, peer: `127.0.0.1:${node}` })
  }
  get responses(): number {
    return this.messages
  }
  subscribe(types: readonly string[]): void {
    for (const typeUrl of types)
      this.send(METHOD.requestSerialize({ typeUrl, node: { id: `sidecar~127.0.0.1~${this.node}~cluster.local` } }))
  }
}

function timed<T>(fn: () => T): { value: T; timing: Timing } {
  const cpu = process.cpuUsage()
  const t0 = performance.now()
  const value = fn()
  const wallMs = performance.now() - t0
  const used = process.cpuUsage(cpu)
  return { value, timing: { cpuMs: (used.user + used.system) / 1000, wallMs } }
}

/** istiod's apply path (src/istiod/istiod.ts) on in-memory files; `parsed` keeps each file's objects, as the directory source does. */
function createIstiodPath(nodes: number, clients: number, sidecars: boolean) {
  const providers = createIstiodProviders()
  const xds = createDeltaAdsServer({ providers: providers.providers, authenticate: () => 'node-1' })
  const streams = Array.from({ length: clients }, (_, i) => new FakeStream(`ztunnel-${i}`))
  const types = providers.providers.map((p) => p.typeUrl)
  const parsed = new Map<string, { objects: readonly ConfigObject[]; messages: readonly unknown[] }>()
  let allocations: AllocationTable | undefined
  let snapshot: ConfigSnapshot | undefined
  let memo: TranslateMemo | undefined
  let analysisMemo: AnalysisMemo | undefined
  let written = { responses: 0, bytes: 0 }
  const served = (): Map<string, VersionedResource>[] =>
    providers.providers.map((p) => new Map(p.resources('', { nodeId: '', nodeName: '', address: '' })))
  return {
    apply(changed: readonly ConfigFile[]): UpdateResult {
      const before = served()
      const phases = {} as Record<Phase, Timing>
      const total = timed(() => {
        const snap = timed(() => {
          for (const f of changed) parsed.set(f.file, parseConfigText(f.text, f.file))
          const built = buildSnapshot([...parsed].map(([file, p]) => ({ file, objects: p.objects })))
          // As istiod does: unchanged objects keep their identity, so the memos below see what changed.
          return { ...built, snapshot: internSnapshot(built.snapshot, snapshot) }
        })
        phases['parse+snapshot'] = snap.timing
        const tr = timed(() =>
          translateIncremental(
            snap.value.snapshot,
            { nodes, ...(sidecars ? { sidecars: true } : {}), ...(allocations === undefined ? {} : { allocations }) },
            memo,
          ),
        )
        phases.translate = tr.timing
        const messages = [...parsed.values()].flatMap((p) => p.messages) as Parameters<typeof analyzeIncremental>[1]
        const analyzed = timed(() =>
          analyzeIncremental(snap.value.snapshot, [...messages, ...snap.value.messages], tr.value.translation, {}, analysisMemo),
        )
        phases.analyze = analyzed.timing
        analysisMemo = analyzed.value.memo
        const update = timed(() => providers.update(tr.value.translation))
        phases['providers.update'] = update.timing
        // As istiod does: push the types the update changed.
        phases['server.push'] = timed(() => {
          for (const typeUrl of update.value.changes.keys()) xds.push(typeUrl)
        }).timing
        allocations = tr.value.translation.allocations
        memo = tr.value.memo
        snapshot = snap.value.snapshot
      }).timing
      const after = served()
      let reencoded = 0
      let changedCount = 0
      let resources = 0
      after.forEach((next, i) => {
        const prev = before[i]!
        resources += next.size
        for (const [name, r] of next) {
          const old = prev.get(name)
          if (old !== r) reencoded++
          if (old?.version !== r.version) changedCount++
        }
        for (const name of prev.keys()) if (!next.has(name)) changedCount++
      })
      const responses = streams.reduce((n, c) => n + c.responses, 0) - written.responses
      const pushedBytes = streams.reduce((n, c) => n + c.bytes, 0) - written.bytes
      written = { responses: responses + written.responses, bytes: pushedBytes + written.bytes }
      return { phases, total, reencoded, changed: changedCount, resources, responses, pushedBytes }
    },
    /** Connects the clients (after the first update): each gets every resource once. */
    async connect(): Promise<void> {
      const method = xds.service.methods[METHOD.path]
      if (method?.kind !== 'stream') throw new Error('the Delta ADS server has no streaming DeltaAggregatedResources')
      for (const c of streams) method.handle(c)
      // authenticate() resolves on a microtask; then each stream subscribes.
      await new Promise((resolve) => setImmediate(resolve))
      for (const c of streams) c.subscribe(types)
      written = { responses: streams.reduce((n, c) => n + c.responses, 0), bytes: streams.reduce((n, c) => n + c.bytes, 0) }
    },
    /** The encoded bytes of each served sidecar config (`sidecar/...` waypoint-config resources). */
    sidecarBytes(): number[] {
      return [...served().values()].flatMap((m) => [...m].filter(([name]) => name.startsWith('sidecar/')).map(([, r]) => r.bytes.length))
    },
    close: () => xds.close(),
  }
}

async function main(): Promise<void> {
  const values = parseBenchArgs(
    process.argv.slice(2),
    {
      rounds: { type: 'string' },
      services: { type: 'string' },
      'pods-per-service': { type: 'string' },
      policies: { type: 'string' },
      nodes: { type: 'string' },
      clients: { type: 'string' },
      sidecars: { type: 'boolean', default: false },
    },
    'usage: istiod-bench [--rounds N (10; 3 with --quick)] [--services N (1000; 200)] [--pods-per-service N (10; 5)]\n' +
      '  [--policies N (1000; 100)] [--nodes N (100)] [--clients N in-process Delta clients (100; 10)] [--sidecars] [--quick] [--out DIR (bench-results)]',
  )
  const quick = values.quick
  const rounds = benchNumber('rounds', values.rounds, quick ? 3 : 10, 1, 1000)
  const size = {
    services: benchNumber('services', values.services, quick ? 200 : 1000, 1, 5000),
    podsPerService: benchNumber('pods-per-service', values['pods-per-service'], quick ? 5 : 10, 1, 50),
    policies: benchNumber('policies', values.policies, quick ? 100 : 1000, 1, 10_000),
  }
  const nodes = benchNumber('nodes', values.nodes, 100, 1, 255)
  const clients = benchNumber('clients', values.clients, quick ? 10 : 100, 0, 1000)
  const sidecars = values.sidecars === true
  const header = collectHeader(
    'bench:istiod',
    [
      "istiod's apply path in-process on generated YAML: parse changed files → snapshot → translate → analyze → providers.update",
      'first update: every file; each round: ONE policy marker port rewritten (its namespace file re-parsed)',
      'CPU ms = process.cpuUsage (user+system) over the phase; wall ms = performance.now',
      're-encoded = resources given a new VersionedResource by the update; changed = versions changed/added/removed',
      'server.push: the Delta server (src/xds/delta-server.ts) pushing the changed types to in-process wildcard clients (no sockets)',
    ],
    { rounds, ...size, nodes, clients, sidecars },
  )
  process.stdout.write(`${formatHeader(header)}\n\n`)
  const config = generateIstiodConfig(size)
  const istiod = createIstiodPath(nodes, clients, sidecars)
  benchLog(`config: ${config.files.length} files, ${config.policyCount} policies`)
  const first = istiod.apply(config.files)
  await istiod.connect()
  const changes: UpdateResult[] = []
  for (let r = 0; r < rounds; r++) {
    // A different policy each round, its marker port moved so its content really changes.
    const index = (r * 7919) % config.policyCount
    changes.push(istiod.apply([config.changePolicy(index, MARKER_PORT_BASE + 1 + r)]))
  }
  const sidecarBytes = sidecars ? istiod.sidecarBytes() : []
  istiod.close()
  const f = (n: number): string => n.toFixed(1)
  const rows: string[][] = [
    ...PHASES.map((p) => [
      p,
      f(first.phases[p].cpuMs),
      formatSpread(spread(changes.map((c) => c.phases[p].cpuMs)), 1),
      formatSpread(spread(changes.map((c) => c.phases[p].wallMs)), 1),
    ]),
    [
      'total',
      f(first.total.cpuMs),
      formatSpread(spread(changes.map((c) => c.total.cpuMs)), 1),
      formatSpread(spread(changes.map((c) => c.total.wallMs)), 1),
    ],
  ]
  process.stdout.write(
    `${first.resources} resources served; first update ${f(first.total.wallMs)} wall ms\n\n` +
      `${formatTable(['phase', 'first CPU ms', 'one-policy change CPU ms', 'one-policy change wall ms'], rows, ['left', 'right', 'right', 'right'])}\n\n`,
  )
  process.stdout.write(
    `one-policy change: re-encoded ${formatSpread(spread(changes.map((c) => c.reencoded)), 0)} resources, ` +
      `changed ${formatSpread(spread(changes.map((c) => c.changed)), 0)} (of ${first.resources}); ` +
      `pushed ${formatSpread(spread(changes.map((c) => c.responses)), 0)} responses, ${formatSpread(spread(changes.map((c) => c.pushedBytes)), 0)} bytes ` +
      `to ${clients} clients; ` +
      `rss ${Math.round(process.memoryUsage().rss / 1024 / 1024)} MiB; load ${os
        .loadavg()
        .map((l) => l.toFixed(2))
        .join(' ')}\n`,
  )
  if (sidecars) {
    const total = sidecarBytes.reduce((a, b) => a + b, 0)
    process.stdout.write(
      `sidecar configs: ${sidecarBytes.length}, encoded bytes per config ${formatSpread(spread(sidecarBytes), 0)}, ` +
        `total ${(total / 1024 / 1024).toFixed(1)} MiB\n`,
    )
  }
  const file = await writeJsonResult(values.out, 'istiod', { header, first, changes, sidecarBytes })
  benchLog(`wrote ${path.relative(process.cwd(), file)}`)
}

runBenchMain(main)
