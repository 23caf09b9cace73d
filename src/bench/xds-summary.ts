// Figures of `bench:xds`: per-round records, percentiles, the summary that goes into the JSON, and the
// printed tables with the issue's targets.
import { formatSpread, formatTable, spread } from './report.js'
import type { Spread } from './report.js'

export const CHANGE_MODES = ['policy-1', 'workload-1', 'policy-10'] as const
export type ChangeMode = (typeof CHANGE_MODES)[number]

export const MODE_LABEL: Record<ChangeMode, string> = {
  'policy-1': 'one policy',
  'workload-1': 'one workload',
  'policy-10': '10 policies',
}

/** Target: one change reaches every ztunnel (applied) within this p99. */
export const TARGET_P99_MS = 100
/** Target: every client has the whole mesh within this (median over sync rounds). */
export const TARGET_SYNC_MS = 3000

export interface SyncRound {
  round: number
  /** Parent's 'connect' → the last client has both types in its MeshState. */
  syncedMs: number
  /** Parent's 'connect' → the server received the last initial ACK. */
  ackedMs: number
  /** Per client, in index order. */
  perClientMs: number[]
  /** Sum over clients of the pushed hook's resource bytes, and resources. */
  pushedBytes: number
  pushedResources: number
  /** Sum over clients of DeltaAdsClient.stats().bytes at sync. */
  clientBytes: number
  /** The server (bench) process over the round. */
  serverCpuCores: number
  /** CPU seconds the server (bench) process used over the round: istiod's own cost of the sync. */
  serverCpuS: number
  serverRssMaxMB: number
  /**
   * CPU seconds all client processes used over the round (TLS, gRPC, decode, MeshState apply, GC):
   * divided by the clients, what one ztunnel's sync costs.
   */
  clientCpuS: number
  /** The client processes' largest RSS over the round, summed. */
  clientRssMaxMB: number
}

export interface ChangeRound {
  mode: ChangeMode
  round: number
  /** The change → the last client has it in its MeshState (clients' clocks, offset-corrected). */
  appliedMs: number
  /** The change → the first client has it. */
  firstAppliedMs: number
  /** The change → the server received the last ACK. */
  ackedMs: number
  /** The change + the synchronous push() call (encode, diff against every stream, queue writes). */
  pushMs: number
  changedResources: number
  /** Encoded size of the changed resources (one copy). */
  changedBytes: number
  /** Sum over streams, from the server's pushed hook. */
  pushedBytes: number
  pushedResources: number
  responses: number
  /** Sum over clients of the increase of DeltaAdsClient.stats().bytes. */
  clientBytes: number
  /** One DeltaDiscoveryResponse as protobuf (before gRPC framing and TLS), per client. */
  responseBytesPerClient: number
  /** Longest MeshState.apply among the clients. */
  applyMsMax: number
}

export interface Percentiles {
  p50: number
  p90: number
  p99: number
  max: number
  n: number
}

/** Nearest-rank percentile (p in 0..100) of unsorted values; NaN when empty. */
export function percentile(values: readonly number[], p: number): number {
  const v = values.filter((x) => Number.isFinite(x)).sort((a, b) => a - b)
  if (v.length === 0) return Number.NaN
  return v[Math.min(v.length - 1, Math.max(0, Math.ceil((p / 100) * v.length) - 1))]!
}

export function percentiles(values: readonly number[]): Percentiles {
  return {
    p50: percentile(values, 50),
    p90: percentile(values, 90),
    p99: percentile(values, 99),
    max: percentile(values, 100),
    n: values.filter(Number.isFinite).length,
  }
}

export interface ModeSummary {
  mode: ChangeMode
  label: string
  rounds: number
  /** Rounds where some client did not apply or ACK within the bound. */
  timeouts: number
  applied: Percentiles
  /** p99 of each of 4 consecutive blocks of rounds: how stable the p99 is within the run. */
  appliedP99ByBlock: Spread
  firstApplied: Percentiles
  acked: Percentiles
  pushMs: Percentiles
  applyMsMax: Percentiles
  changedResources: number
  changedBytes: number
  pushedBytesPerChange: number
  pushedBytesPerClient: number
  pushedResourcesPerClient: number
  clientBytesPerChange: number
  responseBytesPerClient: number
  /** pushedBytesPerClient ÷ initial sync bytes per client. */
  ratioToSync: number
  /** Every round pushed exactly the changed resources, once per client. */
  onlyChangeSent: boolean
}

export interface SyncSummary {
  rounds: number
  syncedMs: Spread
  ackedMs: Spread
  pushedBytesPerClient: number
  pushedResourcesPerClient: number
  clientBytesPerClient: number
  responseBytesPerClient: number
  serverCpuS: number
  clientCpuS: number
  clientRssMaxMB: number
}

export interface Target {
  what: string
  target: string
  value: string
  verdict: 'PASS' | 'FAIL' | 'INFO'
}

/** istiod's (the bench process's) memory over the run, and what the clients did with what they received. */
export interface ServerFacts {
  rssMaxMB: number
  /** VmHWM: the peak since the process started (mesh generation included). */
  hwmMB: number
  clientWork: 'apply' | 'ack'
}

export interface XdsBenchSummary {
  clients: number
  server: ServerFacts
  sync: SyncSummary
  modes: ModeSummary[]
  targets: Target[]
}

const median = (values: readonly number[]): number => spread(values).median

function blocks<T>(items: readonly T[], n: number): T[][] {
  const size = Math.max(1, Math.ceil(items.length / n))
  const out: T[][] = []
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size))
  return out
}

export function summarize(
  clients: number,
  sync: readonly SyncRound[],
  syncResponseBytesPerClient: number,
  changes: readonly ChangeRound[],
  server: ServerFacts,
): XdsBenchSummary {
  const syncSummary: SyncSummary = {
    rounds: sync.length,
    syncedMs: spread(sync.map((r) => r.syncedMs)),
    ackedMs: spread(sync.map((r) => r.ackedMs)),
    pushedBytesPerClient: median(sync.map((r) => r.pushedBytes / clients)),
    pushedResourcesPerClient: median(sync.map((r) => r.pushedResources / clients)),
    clientBytesPerClient: median(sync.map((r) => r.clientBytes / clients)),
    responseBytesPerClient: syncResponseBytesPerClient,
    serverCpuS: median(sync.map((r) => r.serverCpuS)),
    clientCpuS: median(sync.map((r) => r.clientCpuS)),
    clientRssMaxMB: median(sync.map((r) => r.clientRssMaxMB)),
  }
  // After a round that timed out, its late batches land in the next round's client-counted bytes.
  const afterTimeout = new Set(changes.filter((_, i) => i > 0 && !Number.isFinite(changes[i - 1]!.appliedMs)))
  const modes = CHANGE_MODES.map((mode): ModeSummary => {
    const all = changes.filter((r) => r.mode === mode)
    const ok = all.filter((r) => Number.isFinite(r.appliedMs) && Number.isFinite(r.ackedMs))
    const perClient = median(ok.map((r) => r.pushedBytes / clients))
    return {
      mode,
      label: MODE_LABEL[mode],
      rounds: all.length,
      timeouts: all.length - ok.length,
      // A round that timed out counts as infinitely slow for the percentiles of applied time.
      applied: percentiles(all.map((r) => (Number.isFinite(r.appliedMs) ? r.appliedMs : Number.MAX_VALUE))),
      appliedP99ByBlock: spread(
        blocks(all, 4).map((b) =>
          percentile(
            b.map((r) => (Number.isFinite(r.appliedMs) ? r.appliedMs : Number.MAX_VALUE)),
            99,
          ),
        ),
      ),
      firstApplied: percentiles(ok.map((r) => r.firstAppliedMs)),
      acked: percentiles(ok.map((r) => r.ackedMs)),
      pushMs: percentiles(all.map((r) => r.pushMs)),
      applyMsMax: percentiles(ok.map((r) => r.applyMsMax)),
      changedResources: median(all.map((r) => r.changedResources)),
      changedBytes: median(all.map((r) => r.changedBytes)),
      pushedBytesPerChange: median(ok.map((r) => r.pushedBytes)),
      pushedBytesPerClient: perClient,
      pushedResourcesPerClient: median(ok.map((r) => r.pushedResources / clients)),
      clientBytesPerChange: median(ok.map((r) => r.clientBytes)),
      responseBytesPerClient: median(all.map((r) => r.responseBytesPerClient)),
      ratioToSync: perClient / syncSummary.pushedBytesPerClient,
      onlyChangeSent:
        ok.length > 0 &&
        ok.every(
          (r) =>
            r.pushedResources === r.changedResources * clients &&
            r.pushedBytes === r.changedBytes * clients &&
            (r.clientBytes === r.pushedBytes || afterTimeout.has(r)),
        ),
    }
  })
  const one = modes.find((m) => m.mode === 'policy-1')!
  const ten = modes.find((m) => m.mode === 'policy-10')!
  const verdict = (ok: boolean): Target['verdict'] => (ok ? 'PASS' : 'FAIL')
  const targets: Target[] = [
    {
      what: `initial sync of all ${clients} ztunnels (clients ${server.clientWork === 'apply' ? 'decode + apply' : 'count + ACK only'})`,
      target: `≤ ${TARGET_SYNC_MS} ms`,
      value: `${fmtMs(syncSummary.syncedMs.median)} ms (last ACK ${fmtMs(syncSummary.ackedMs.median)} ms)`,
      verdict: verdict(syncSummary.syncedMs.median <= TARGET_SYNC_MS),
    },
    {
      what: `one-policy change applied by all ${clients} ztunnels, p99`,
      target: `< ${TARGET_P99_MS} ms`,
      value: `${fmtMs(one.applied.p99)} ms (p50 ${fmtMs(one.applied.p50)})`,
      verdict: verdict(one.applied.p99 < TARGET_P99_MS && one.timeouts === 0),
    },
    {
      what: 'bytes per one-policy change scale with the change',
      target: 'only the changed resource is sent',
      value: `${one.pushedBytesPerClient} B/client = ${(one.ratioToSync * 100).toFixed(3)} % of initial sync (${syncSummary.pushedBytesPerClient} B)`,
      verdict: verdict(one.onlyChangeSent),
    },
    {
      what: 'bytes per 10-policy change ÷ one-policy change',
      target: '≈ 10 (linear in the change)',
      value: (ten.pushedBytesPerClient / one.pushedBytesPerClient).toFixed(2),
      verdict: verdict(ten.onlyChangeSent),
    },
    {
      what: `istiod CPU for the initial sync of ${clients} clients (TLS, gRPC, encode, diff)`,
      target: 'reported',
      value: `${syncSummary.serverCpuS.toFixed(2)} CPU-s (${((syncSummary.serverCpuS * 1000) / clients).toFixed(1)} ms per client)`,
      verdict: 'INFO',
    },
    {
      what: `client CPU for the initial sync (${server.clientWork === 'apply' ? 'TLS, gRPC, decode, MeshState apply, GC' : 'TLS, gRPC, count'})`,
      target: 'reported',
      value:
        `${((syncSummary.clientCpuS * 1000) / clients).toFixed(1)} ms per client (${syncSummary.clientCpuS.toFixed(2)} CPU-s ` +
        `for ${clients}; client processes' RSS ${syncSummary.clientRssMaxMB.toFixed(0)} MB)`,
      verdict: 'INFO',
    },
    {
      what: 'istiod RSS (server process with the mesh it serves)',
      target: 'reported',
      value: `max ${server.rssMaxMB.toFixed(0)} MB while serving, peak ${server.hwmMB.toFixed(0)} MB`,
      verdict: 'INFO',
    },
  ]
  return { clients, server, sync: syncSummary, modes, targets }
}

function fmtMs(x: number): string {
  if (!Number.isFinite(x) || x >= Number.MAX_VALUE) return 'timeout'
  return x < 10 ? x.toFixed(2) : x.toFixed(1)
}

const fmtP = (p: Percentiles): string => `${fmtMs(p.p50)} / ${fmtMs(p.p90)} / ${fmtMs(p.p99)} / ${fmtMs(p.max)}`

export function formatSummary(s: XdsBenchSummary): string {
  const syncTable = formatTable(
    ['initial sync', `all ${s.clients} synced ms`, 'last ACK ms', 'resources/client', 'payload B/client', 'protobuf B/client'],
    [
      [
        'median (min-max)',
        formatSpread(s.sync.syncedMs, 1),
        formatSpread(s.sync.ackedMs, 1),
        String(s.sync.pushedResourcesPerClient),
        String(s.sync.pushedBytesPerClient),
        String(s.sync.responseBytesPerClient),
      ],
    ],
    ['left', 'right', 'right', 'right', 'right', 'right'],
  )
  const propTable = formatTable(
    [
      'change',
      'rounds',
      'all applied p50/p90/p99/max ms',
      'p99 per quarter',
      'first applied p50',
      'last ACK p50/p99',
      'push() p50/p99 ms',
      'apply p99 ms',
    ],
    s.modes.map((m) => [
      m.label,
      `${m.rounds}${m.timeouts ? ` (${m.timeouts} timeouts)` : ''}`,
      fmtP(m.applied),
      formatSpread(m.appliedP99ByBlock, 1),
      fmtMs(m.firstApplied.p50),
      `${fmtMs(m.acked.p50)} / ${fmtMs(m.acked.p99)}`,
      `${fmtMs(m.pushMs.p50)} / ${fmtMs(m.pushMs.p99)}`,
      fmtMs(m.applyMsMax.p99),
    ]),
    ['left', 'right', 'right', 'right', 'right', 'right', 'right', 'right'],
  )
  const bytesTable = formatTable(
    [
      'change',
      'resources/client',
      'payload B/client',
      'protobuf B/client',
      `B per change (×${s.clients})`,
      'client-counted B',
      '÷ initial sync',
      'only the change sent',
    ],
    s.modes.map((m) => [
      m.label,
      String(m.pushedResourcesPerClient),
      String(m.pushedBytesPerClient),
      String(m.responseBytesPerClient),
      String(m.pushedBytesPerChange),
      String(m.clientBytesPerChange),
      `${(m.ratioToSync * 100).toFixed(3)} %`,
      m.onlyChangeSent ? 'yes' : 'NO',
    ]),
    ['left', 'right', 'right', 'right', 'right', 'right', 'right', 'left'],
  )
  const targets = formatTable(
    ['target', 'wanted', 'measured', ''],
    s.targets.map((t) => [t.what, t.target, t.value, t.verdict]),
  )
  return [syncTable, '', propTable, '', bytesTable, '', targets].join('\n')
}
