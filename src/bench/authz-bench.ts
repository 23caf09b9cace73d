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
//   node dist/bench/authz-bench.js [--rounds N (3; 1 with --quick)] [--quick] [--out DIR]
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
import { createPolicyWatcher } from '../ztunnel/policy-watcher.js'
import { benchNumber, parseBenchArgs, runBenchMain } from './bench-cli.js'
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

/** CPU µs per call of `fn`, over enough calls for ≥ 100 ms of CPU (at most `maxCalls`), after a warm-up (JIT). */
function cpuPerCall(fn: () => unknown, maxCalls: number): number {
  for (let i = 0; i < Math.min(2000, maxCalls); i++) fn()
  const start = process.cpuUsage()
  let calls = 0
  let used = 0
  while (calls < maxCalls && used < 100_000) {
    fn()
    calls++
    if (calls % 16 === 0 || calls === maxCalls) {
      const d = process.cpuUsage(start)
      used = d.user + d.system
    }
  }
  const d = process.cpuUsage(start)
  return (d.user + d.system) / calls
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
  const file = await writeJsonResult(path.resolve(values.out), 'authz', { header, rows, ratio10kTo1: ratio, watcher: w })
  process.stdout.write(`wrote ${file}\n`)
}

runBenchMain(main)
