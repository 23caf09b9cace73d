// `npm run bench:authz`: what admitting one new inbound connection costs as the mesh's policy count
// grows. Pure (no sockets): ztunnel's admission (src/ztunnel/inbound-plan.ts: CONNECT checks,
// then the policies that apply to the destination from MeshState's indexes, then the verdict), timed
// in CPU microseconds of this process (process.cpuUsage), which a busy machine inflates much less than
// wall-clock time. Two layouts per policy count:
//   spread    — the mesh's policies are in other namespaces; the destination has one NAMESPACE ALLOW
//               and one selector policy (the case the target is about: cost must not follow the total);
//   same-ns   — every policy is in the destination's namespace, so every one applies (the cost then
//               follows the applicable count, as in ztunnel; shown for scale).
// Each row also runs `explainInbound` (every policy evaluated and traced: what admission did before
// the verdict fast path, and what `ambient authz check` still does). And it counts the live-flow
// re-checks the policy watcher runs for one NAMESPACE policy change with 1,000 flows on 100 workloads.
//
// The second table is the waypoint's half: the per-request L7 authorization src/l7/http-proxy.ts
// runs (applicablePolicies + authorizeRequestVerdict) against the config istiod's own translation
// gives one waypoint in a mesh of 1 / 1,000 / 10,000 L7 policies (./waypoint-authz-mesh.ts):
//   spread      — the policies target other Services and waypoints; the destination Service has one
//                 DENY and its waypoint one waypoint-wide ALLOW;
//   same-target — every policy targets the destination Service (all apply; shown for scale).
// `explain` there is authorizeRequest: the same evaluation with a trace per policy (what the waypoint
// ran per request before the verdict fast path; `explain` still does).
//
//   node dist/bench/authz-bench.js [--rounds N (3; 1 with --quick)] [--quick] [--out DIR]
import os from 'node:os'
import path from 'node:path'
import { match, type Authorization } from '../authz/policy.js'
import { SpiffeId } from '../identity/spiffe-id.js'
import type { MeshChange } from '../mesh/change.js'
import { MeshState } from '../mesh/state.js'
import type { Workload } from '../mesh/types.js'
import { createCapturingLogger } from '../observability/capturing-logger.js'
import { createFlowRegistry } from '../observability/flow-registry.js'
import { createMetrics } from '../observability/metrics.js'
import { explainInbound, planInbound, type InboundRequest } from '../ztunnel/inbound-plan.js'
import { applicablePolicies, authorizeRequest, authorizeRequestVerdict } from '../l7/engines/l7-authz.js'
import { createPolicyWatcher } from '../ztunnel/policy-watcher.js'
import { benchNumber, parseBenchArgs, runBenchMain } from './bench-cli.js'
import { cpuPerCall } from './cpu-per-call.js'
import { buildWaypointAuthzMesh, type WaypointAuthzMesh, type WaypointLayout } from './waypoint-authz-mesh.js'
import { collectHeader, formatHeader, formatSpread, formatTable, spread, writeJsonResult } from './report.js'
import type { Spread } from './report.js'

export const POLICY_COUNTS = [1, 1000, 10_000] as const
/** The target for one new connection with 10,000 policies in the mesh. */
export const TARGET_ADMISSION_US = 500
type Layout = 'spread' | 'same-ns'

const CLIENT = SpiffeId.of({ namespace: 'client', serviceAccount: 'sleep' })
const DST_NS = 'bench-dst'
const DST_IP = '127.244.1.2'

function benchWorkload(uid: string, namespace: string, ip: string, policies: string[]): Workload {
  return {
    uid,
    name: uid,
    namespace,
    addresses: [ip],
    hostname: '',
    network: '',
    tunnelProtocol: 'HBONE',
    trustDomain: 'cluster.local',
    serviceAccount: 'default',
    waypoint: undefined,
    node: 'node-a',
    canonicalName: uid,
    canonicalRevision: 'v1',
    workloadType: 'DEPLOYMENT',
    workloadName: uid,
    services: new Map(),
    authorizationPolicies: policies,
    status: 'HEALTHY',
    clusterId: 'Kubernetes',
    capacity: 1,
    podLocalAddress: ip.replace('127.244.', '127.245.'),
  }
}

/** A realistic ALLOW/DENY: principals from one namespace on one port (never matches the bench client unless `open`). */
function benchPolicy(
  name: string,
  namespace: string,
  o: { action?: 'ALLOW' | 'DENY'; scope?: Authorization['scope']; open?: boolean } = {},
): Authorization {
  const from = o.open === true ? CLIENT.principal : `cluster.local/ns/${namespace}-peer/sa/${name}`
  return {
    name,
    namespace,
    scope: o.scope ?? 'NAMESPACE',
    action: o.action ?? 'ALLOW',
    dryRun: false,
    rules: [
      { clauses: [{ matches: [match({ principals: [{ exact: from }] })] }, { matches: [match({ destinationPorts: [8080, 9080] })] }] },
    ],
  }
}

function buildMesh(total: number, layout: Layout): MeshState {
  const changes: MeshChange[] = [{ op: 'upsert', kind: 'workload', value: benchWorkload('dst', DST_NS, DST_IP, [`${DST_NS}/selected`]) }]
  changes.push({ op: 'upsert', kind: 'policy', value: benchPolicy('allow-client', DST_NS, { open: true }) })
  changes.push({ op: 'upsert', kind: 'policy', value: benchPolicy('selected', DST_NS, { scope: 'WORKLOAD_SELECTOR', action: 'DENY' }) })
  for (let i = 2; i < total; i++) {
    const ns = layout === 'spread' ? `ns-${i % 1000}` : DST_NS
    // One in four a DENY: every DENY that applies must be evaluated before any ALLOW decides.
    changes.push({ op: 'upsert', kind: 'policy', value: benchPolicy(`p-${i}`, ns, { action: i % 4 === 0 ? 'DENY' : 'ALLOW' }) })
  }
  const mesh = new MeshState()
  mesh.apply(total === 1 ? changes.slice(0, 2) : changes)
  return mesh
}

interface Row {
  policies: number
  layout: Layout
  applicable: number
  admitUs: Spread
  explainUs: Spread
  verdict: string
}

function watcherRechecks(): { flows: number; namespaceChange: number; globalChange: number } {
  const mesh = new MeshState()
  const changes: MeshChange[] = []
  for (let w = 0; w < 100; w++)
    changes.push({ op: 'upsert', kind: 'workload', value: benchWorkload(`w-${w}`, `ns-${w}`, `127.244.2.${w + 1}`, []) })
  mesh.apply(changes)
  const { logger } = createCapturingLogger()
  const metrics = createMetrics()
  const flows = createFlowRegistry()
  const watcher = createPolicyWatcher(mesh, flows, logger)
  mesh.subscribe((d) => watcher.onMeshDelta(d))
  for (let i = 0; i < 1000; i++) {
    const w = i % 100
    const ip = `127.244.2.${w + 1}`
    flows.open(
      {
        id: `f-${i}`,
        reporter: 'destination',
        direction: 'inbound',
        securityPolicy: 'mutual_tls',
        logger,
        metrics,
        src: { addr: '127.244.3.1:40000', identity: CLIENT },
        dst: { addr: `${ip}:8080` },
      },
      () => undefined,
    )
    watcher.track(`f-${i}`, `w-${w}`, { srcIdentity: CLIENT, srcIp: '127.244.3.1', dstIp: ip, dstPort: 8080 })
  }
  let before = watcher.rechecks
  mesh.apply([{ op: 'upsert', kind: 'policy', value: benchPolicy('edit', 'ns-7', { open: true }) }])
  const namespaceChange = watcher.rechecks - before
  before = watcher.rechecks
  mesh.apply([{ op: 'upsert', kind: 'policy', value: benchPolicy('edit', 'istio-system', { open: true, scope: 'GLOBAL' }) }])
  return { flows: watcher.size, namespaceChange, globalChange: watcher.rechecks - before }
}

interface WaypointRow {
  policies: number
  layout: WaypointLayout
  inConfig: number
  applicable: number
  requestUs: Spread
  explainUs: Spread
  verdict: string
}

/** The per-request authorization of src/l7/http-proxy.ts, and the same with traces (explain). */
const waypointRequest = (m: WaypointAuthzMesh) => () => authorizeRequestVerdict(applicablePolicies(m.config, m.service), m.request)
const waypointExplain = (m: WaypointAuthzMesh) => () => authorizeRequest(applicablePolicies(m.config, m.service), m.request)

function waypointTable(rounds: number): { rows: WaypointRow[]; ratio: number; text: string } {
  const meshes = POLICY_COUNTS.flatMap((n) =>
    (['spread', 'same-target'] as const).filter((l) => n > 1 || l === 'spread').map((l) => buildWaypointAuthzMesh(n, l)),
  )
  const samples = new Map(meshes.map((m) => [m, { request: [] as number[], explain: [] as number[] }]))
  // Round 0 is a warm-up, not recorded: building the meshes leaves the JIT and the GC busy.
  for (let r = 0; r <= rounds; r++) {
    for (const m of meshes) {
      const big = m.layout === 'same-target' && m.policies > 1000
      // Which of the two goes first alternates: the first figure after another case's runs high.
      const request = (): number => cpuPerCall(waypointRequest(m), big ? 2000 : 200_000)
      const explain = (): number => cpuPerCall(waypointExplain(m), big ? 200 : 20_000)
      let figures: { request: number; explain: number }
      if (r % 2 === 1) figures = { request: request(), explain: explain() }
      else {
        const e = explain()
        figures = { request: request(), explain: e }
      }
      if (r === 0) continue
      samples.get(m)!.request.push(figures.request)
      samples.get(m)!.explain.push(figures.explain)
    }
  }
  const rows = meshes.map((m): WaypointRow => {
    const s = samples.get(m)!
    return {
      policies: m.policies,
      layout: m.layout,
      inConfig: m.inConfig,
      applicable: applicablePolicies(m.config, m.service).length,
      requestUs: spread(s.request),
      explainUs: spread(s.explain),
      verdict: waypointRequest(m)().reason,
    }
  })
  const base = rows.find((r) => r.policies === 1)!
  const top = rows.find((r) => r.policies === 10_000 && r.layout === 'spread')!
  const ratio = top.requestUs.median / base.requestUs.median
  const table = formatTable(
    ['policies', 'layout', 'in waypoint config', 'applicable', 'request µs CPU', 'explain µs CPU', 'verdict'],
    rows.map((r) => [
      String(r.policies),
      r.layout,
      String(r.inConfig),
      String(r.applicable),
      formatSpread(r.requestUs, 2),
      formatSpread(r.explainUs, 1),
      r.verdict,
    ]),
    ['right', 'left', 'right', 'right', 'right', 'right', 'left'],
  )
  const text =
    `waypoint L7 authorization per request (applicablePolicies + authorizeRequestVerdict, as src/l7/http-proxy.ts) on the config ` +
    `istiod's translation gives waypoint bench-dst/waypoint; load ${os.loadavg()[0]!.toFixed(2)}\n${table}\n\n` +
    `waypoint request at 10,000 policies (spread) ÷ at 1: ${ratio.toFixed(2)}×; ` +
    `${top.requestUs.median.toFixed(1)} µs against a target of ≤ ${TARGET_ADMISSION_US} µs: ` +
    `${top.requestUs.median <= TARGET_ADMISSION_US ? 'PASS' : 'FAIL'}\n`
  return { rows, ratio, text }
}

async function main(): Promise<void> {
  const values = parseBenchArgs(
    process.argv.slice(2),
    { rounds: { type: 'string' } },
    'usage: authz-bench [--rounds N (3; 1 with --quick)] [--quick] [--out DIR (bench-results)]',
  )
  const rounds = benchNumber('rounds', values.rounds, values.quick ? 1 : 3, 1, 20)
  const header = collectHeader(
    'bench:authz',
    [
      'admission of one new inbound connection (CONNECT checks + applicable policies + verdict), in-process, no sockets',
      'CPU µs per admission from process.cpuUsage (user+system), ≥100 ms of CPU per figure; median (min-max) over interleaved rounds',
      'spread: the policies are in 1,000 other namespaces, 2 apply to the destination; same-ns: all apply',
      'explain = every policy evaluated with its trace (the admission path before the verdict fast path; still `authz check`)',
      "waypoint: one HTTP request's L7 authorization on one waypoint's config from istiod's translation of a generated mesh " +
        '(1,010 Services, 101 waypoints); spread: the policies target other Services/waypoints; same-target: all target the destination',
    ],
    { rounds },
  )
  process.stdout.write(`${formatHeader(header)}\n\n`)
  const cases = POLICY_COUNTS.flatMap((n) =>
    (['spread', 'same-ns'] as const).map((layout) => ({ n, layout, mesh: buildMesh(n, layout) })),
  ).filter((c) => !(c.n === 1 && c.layout === 'same-ns'))
  const samples = new Map(cases.map((c) => [c, { admit: [] as number[], explain: [] as number[] }]))
  const attempt = (mesh: MeshState): InboundRequest => ({
    mesh,
    localNode: 'node-a',
    listenerIp: DST_IP,
    dst: { ip: DST_IP, port: 8080 },
    srcIp: '127.244.3.1',
    srcIdentity: CLIENT,
  })
  for (let r = 0; r < rounds; r++) {
    for (const c of cases) {
      const a = attempt(c.mesh)
      const s = samples.get(c)!
      s.admit.push(cpuPerCall(() => planInbound(a), 200_000))
      s.explain.push(cpuPerCall(() => explainInbound(a), c.layout === 'same-ns' && c.n > 1000 ? 20 : 20_000))
    }
  }
  const rows: Row[] = cases.map((c) => {
    const a = planInbound(attempt(c.mesh))
    const verdict = a.kind === 'reject' ? a.reason : a.decision.reason
    const s = samples.get(c)!
    return {
      policies: c.n,
      layout: c.layout,
      applicable: c.mesh.policiesFor(c.mesh.workloadByUid('dst')!).length,
      admitUs: spread(s.admit),
      explainUs: spread(s.explain),
      verdict,
    }
  })
  process.stdout.write(
    `${formatTable(
      ['policies', 'layout', 'applicable', 'admission µs CPU', 'explain µs CPU', 'verdict'],
      rows.map((r) => [
        String(r.policies),
        r.layout,
        String(r.applicable),
        formatSpread(r.admitUs, 2),
        formatSpread(r.explainUs, 1),
        r.verdict,
      ]),
      ['right', 'left', 'right', 'right', 'right', 'left'],
    )}\n\n`,
  )
  const base = rows.find((r) => r.policies === 1)!
  const top = rows.find((r) => r.policies === 10_000 && r.layout === 'spread')!
  const ratio = top.admitUs.median / base.admitUs.median
  process.stdout.write(
    `admission at 10,000 policies (spread) ÷ at 1: ${ratio.toFixed(2)}×; ` +
      `${top.admitUs.median.toFixed(1)} µs against a target of ≤ ${TARGET_ADMISSION_US} µs: ` +
      `${top.admitUs.median <= TARGET_ADMISSION_US ? 'PASS' : 'FAIL'}\n`,
  )
  const w = watcherRechecks()
  process.stdout.write(
    `policy watcher, ${w.flows} live flows on 100 workloads in 100 namespaces: one NAMESPACE policy ` +
      `change re-checks ${w.namespaceChange} flows, one GLOBAL change ${w.globalChange}\n`,
  )
  const waypoint = waypointTable(rounds)
  process.stdout.write(`\n${waypoint.text}`)
  const file = await writeJsonResult(path.resolve(values.out), 'authz', {
    header,
    rows,
    ratio10kTo1: ratio,
    watcher: w,
    waypoint: { rows: waypoint.rows, ratio10kTo1: waypoint.ratio },
  })
  process.stdout.write(`wrote ${file}\n`)
}

runBenchMain(main)
