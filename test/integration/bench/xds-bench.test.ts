// Smoke test of `npm run bench:xds`: runs the built benchmark with --quick (the Delta ADS server over
// TLS, 10 clients in 2 processes applying into MeshState) and checks its JSON. No timing target is
// asserted (a shared machine's figures are not a test result); what is asserted is structural: every
// client holds the whole mesh, nothing is NACKed, and a change pushes only the changed resources, so
// the bytes of a one-policy change are a tiny fraction of the initial sync.
import t from 'tap'
import { readBenchJson, runQuickBench } from '../../helpers/bench-run.js'
import type { BenchHeader } from '../../../src/bench/report.js'
import type { XdsClientReport } from '../../../src/bench/workers/xds-protocol.js'
import type { ChangeRound, SyncRound, XdsBenchSummary } from '../../../src/bench/xds-summary.js'

interface BenchJson {
  header: BenchHeader
  summary: XdsBenchSummary
  meshBytes: { address: number; authorization: number }
  syncResponseBytesPerClient: number
  sync: SyncRound[]
  changes: ChangeRound[]
  clients: XdsClientReport[]
  nacks: number
  distinctPeers: number
}

const finite = (v: unknown): boolean => typeof v === 'number' && Number.isFinite(v)

t.test('bench:xds --quick produces a complete, sane JSON result', async (t) => {
  const ran = await runQuickBench(t, 'xds-bench.js', 'xdsbench-smoke-', 120_000)
  if (!ran) return
  const { stdout } = ran
  t.match(stdout, /node v\d+/, 'header names the node version')
  t.match(stdout, /istiod's translation is NOT in the measured path/, 'says what is not measured')
  t.match(stdout, /one-policy change applied by all 10 ztunnels, p99\s+< 100 ms/, 'prints the propagation target')
  t.match(stdout, /(PASS|FAIL)/, 'prints verdicts')
  const json = await readBenchJson<BenchJson>(t, stdout)
  if (!json) return
  const s = json.summary

  t.test('header and shape', async (t) => {
    t.equal(json.header.name, 'bench:xds')
    t.equal(json.header.options['ztunnels'], 10)
    t.equal(json.header.options['workloads'], 1000)
    t.equal(json.header.options['services'], 200)
    t.equal(json.header.options['policies'], 100)
    t.equal(s.clients, 10)
    t.equal(json.distinctPeers, 10, 'one connection per client')
  })

  t.test('initial sync: every client holds the whole mesh', async (t) => {
    t.equal(json.sync.length, 1, 'one quick sync round')
    t.ok(finite(s.sync.syncedMs.median) && s.sync.syncedMs.median > 0, `synced in ${s.sync.syncedMs.median} ms`)
    t.ok(finite(s.sync.ackedMs.median), 'last ACK time')
    t.equal(s.sync.pushedResourcesPerClient, 1000 + 200 + 100, 'every resource once per client')
    t.equal(s.sync.pushedBytesPerClient, json.meshBytes.address + json.meshBytes.authorization, 'pushed bytes per client = the whole mesh')
    t.equal(s.sync.clientBytesPerClient, s.sync.pushedBytesPerClient, 'clients counted what the server pushed')
    t.equal(json.clients.length, 10)
    for (const c of json.clients) {
      t.same([c.workloads, c.services, c.policies], [1000, 200, 100], `client ${c.index} MeshState`)
      t.equal(c.nacks, 0, `client ${c.index} NACKed nothing`)
    }
    t.equal(json.nacks, 0)
  })

  t.test('propagation: every mode measured, no timeouts', async (t) => {
    t.same(
      s.modes.map((m) => m.mode),
      ['policy-1', 'workload-1', 'policy-10'],
    )
    const rounds = Number(json.header.options['rounds'])
    t.equal(json.changes.length, rounds * 3, 'interleaved rounds of every mode')
    for (const m of s.modes) {
      t.equal(m.rounds, rounds, `${m.mode} rounds`)
      t.equal(m.timeouts, 0, `${m.mode} timeouts`)
      for (const k of ['p50', 'p90', 'p99', 'max'] as const) t.ok(finite(m.applied[k]) && m.applied[k] > 0, `${m.mode} applied ${k}`)
      t.ok(m.applied.p50 <= m.applied.p99, `${m.mode} p50 ≤ p99`)
      t.ok(finite(m.acked.p99), `${m.mode} acked p99`)
      t.ok(m.onlyChangeSent, `${m.mode}: only the changed resources were pushed`)
    }
    for (const c of json.changes) t.ok(c.firstAppliedMs <= c.appliedMs, 'first applied ≤ all applied')
  })

  t.test('bytes scale with the change, not the mesh', async (t) => {
    const one = s.modes.find((m) => m.mode === 'policy-1')!
    const ten = s.modes.find((m) => m.mode === 'policy-10')!
    const wl = s.modes.find((m) => m.mode === 'workload-1')!
    t.equal(one.pushedResourcesPerClient, 1)
    t.equal(wl.pushedResourcesPerClient, 1)
    t.equal(ten.pushedResourcesPerClient, 10)
    t.ok(
      one.pushedBytesPerClient > 0 && one.pushedBytesPerClient * 100 < s.sync.pushedBytesPerClient,
      `one-policy change ${one.pushedBytesPerClient} B ≪ initial sync ${s.sync.pushedBytesPerClient} B per client`,
    )
    t.ok(one.responseBytesPerClient * 100 < s.sync.responseBytesPerClient, 'also as whole DeltaDiscoveryResponses')
    t.ok(one.ratioToSync < 0.01, `ratio ${one.ratioToSync}`)
    const r = ten.pushedBytesPerClient / one.pushedBytesPerClient
    t.ok(r > 8 && r < 12, `10 policies ≈ 10 × one policy (${r.toFixed(2)})`)
    t.equal(one.clientBytesPerChange, one.pushedBytesPerChange, 'clients received what the server pushed')
  })

  t.test('targets table in the JSON', async (t) => {
    const verdict = (what: RegExp): string | undefined => s.targets.find((x) => what.test(x.what))?.verdict
    t.equal(s.targets.length, 7, 'sync, propagation, bytes, linearity, istiod CPU, client CPU, istiod RSS')
    for (const target of s.targets) t.match(target.verdict, /^(PASS|FAIL|INFO)$/)
    t.equal(verdict(/^bytes per one-policy change/), 'PASS', 'bytes target')
    t.equal(verdict(/^bytes per 10-policy change/), 'PASS', 'linear target')
    t.match(verdict(/^initial sync of all 10 ztunnels/), /^(PASS|FAIL)$/, 'the sync target has a verdict')
    t.equal(verdict(/^istiod RSS/), 'INFO')
    t.ok(finite(s.sync.serverCpuS) && s.sync.serverCpuS > 0, 'istiod CPU of the sync')
    t.equal(verdict(/^client CPU for the initial sync/), 'INFO')
    t.ok(finite(s.sync.clientCpuS) && s.sync.clientCpuS > 0, 'the client processes used CPU for the sync')
    t.ok(finite(s.sync.clientRssMaxMB) && s.sync.clientRssMaxMB > 0, 'client processes RSS')
    t.equal(s.server.clientWork, 'apply', 'clients apply by default')
  })
})
