// The dashboard and `cluster status` against a real sidecar-mode cluster (multi-process tier: `cluster
// up --mode sidecar` from the built CLI, skipped without one): bookinfo from test/fixtures, one
// sidecar per pod and no ztunnel or waypoint. `cluster status` says the mode and lists the sidecars'
// metrics and readiness URLs on their pod IPs; the UI server (in process, port 0, fast polls) scrapes
// the sidecars and draws the bookinfo edges (mTLS, none via a waypoint) with no ztunnel errors; after
// an L7 DENY policy file is written, details' sidecar answers 403 RBAC and productpage → details turns
// denied in the API, the flow table and (headless Chromium, skipped without it) the page. Explain
// answers with a note that its prediction is ambient's path.
// Its own address plan (pods 127.X, X in 130..146 step 4) and state dir.
import t from 'tap'
import { execFile } from 'node:child_process'
import { randomInt } from 'node:crypto'
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { eventually } from '../../helpers/eventually.js'
import { CHROMIUM, needs, requires } from '../../helpers/requires.js'
import { bookinfoDirs, CLI, DIST, productpageTraffic, startCluster, waitClusterUp } from '../../helpers/cluster-fixture.js'
import { graphProblems, readDrawnGraph } from '../../helpers/graph-geometry.js'
import { createUiServer } from '../../../src/ui/server.js'
import type { Graph, GraphEdge } from '../../../src/ui/graph.js'

const built = needs.file(join(DIST, 'cli/commands/sidecar.js'), 'run npm run build')
const run = promisify(execFile)
const X = 130 + randomInt(0, 5) * 4

const BOOKINFO_EDGES = [
  'curl->productpage',
  'productpage->productpage-v1',
  'productpage-v1->details',
  'details->details-v1',
  'productpage-v1->reviews',
  'reviews->reviews-v1',
  'reviews->reviews-v2',
  'reviews->reviews-v3',
  'reviews-v2->ratings',
  'reviews-v3->ratings',
  'ratings->ratings-v1',
]
const short = (id: string): string => id.replace(/^(wl|svc):default\//, '')
const edgeName = (e: GraphEdge): string => `${short(e.source)}->${short(e.target)}`

t.test('sidecar mode: cluster status and the dashboard', { timeout: 90_000, skip: requires(t, built) }, async (t) => {
  const dirs = await bookinfoDirs(t, 'ambient-ui-sidecar-')
  const cluster = startCluster(t, dirs, X, ['--mode', 'sidecar'])
  await waitClusterUp(cluster, 40_000)
  const state = await eventually(
    () => {
      const v = cluster.state()
      return v !== undefined && v.processes.filter((p) => p.role === 'sidecar' && p.pid !== undefined).length === 7 ? v : false
    },
    { timeoutMs: 10_000, intervalMs: 100 },
  )

  await t.test('cluster status: the mode and the sidecars, no ztunnel', async (t) => {
    const { stdout } = await run(process.execPath, [CLI, 'cluster', 'status', '--state-dir', dirs.stateDir])
    t.match(stdout, /^mode: sidecar/)
    t.notMatch(stdout, /ztunnel node-/, 'no ztunnel is listed')
    t.match(stdout, /sidecars \(7\):/)
    for (const p of state.pods) {
      t.match(
        stdout,
        new RegExp(
          `${p.namespace}/${p.name}\\s+metrics http://${p.podIP.replaceAll('.', '\\.')}:15020/metrics  ready ` +
            `http://${p.podIP.replaceAll('.', '\\.')}:15021/healthz/ready`,
        ),
        `${p.name}'s sidecar`,
      )
    }
    const json = JSON.parse((await run(process.execPath, [CLI, 'cluster', 'status', '--state-dir', dirs.stateDir, '--json'])).stdout) as {
      mode: string
    }
    t.equal(json.mode, 'sidecar', 'the run state records the mode')
    const curl = state.pods.find((p) => p.workload === 'curl')!
    await eventually(async () => (await fetch(`http://${curl.podIP}:15021/healthz/ready`)).status === 200, {
      timeoutMs: 10_000,
      intervalMs: 100,
    })
    t.pass('a listed readiness URL answers 200')
  })

  const ui = createUiServer({ stateDir: dirs.stateDir, port: 0, pollIntervalMs: 200, windowMs: 3_000 })
  const address = await ui.start()
  t.teardown(() => ui.close())
  const base = `http://127.0.0.1:${address.port}`
  const api = async <T>(path: string): Promise<T> => (await (await fetch(`${base}${path}`)).json()) as T

  const curl = state.pods.find((p) => p.workload === 'curl')!
  productpageTraffic(t, curl.podIP)

  const graph = await eventually(
    async () => {
      const body = await api<Graph>('/api/graph')
      const names = new Set(body.edges.filter((e) => e.totals.requests > 0).map(edgeName))
      return BOOKINFO_EDGES.every((e) => names.has(e)) ? body : false
    },
    { timeoutMs: 20_000, intervalMs: 200 },
  )
  const byName = new Map(graph.edges.map((e) => [edgeName(e), e]))
  t.same(
    BOOKINFO_EDGES.filter((e) => !byName.get(e)!.mtls),
    [],
    'every bookinfo edge is mTLS (sidecar to sidecar)',
  )
  t.same(graph.edges.filter((e) => e.viaWaypoint).map(edgeName), [], 'nothing is via a waypoint')
  t.ok(
    BOOKINFO_EDGES.every((e) => byName.get(e)!.protocol === 'http'),
    "HTTP edges from the sidecars' requests",
  )
  t.notOk(
    graph.nodes.some((n) => n.kind === 'waypoint'),
    'no waypoint node',
  )
  t.notOk(
    graph.nodes.some((n) => state.pods.some((p) => n.name === p.name)),
    'workloads, not pod names',
  )
  t.ok(
    graph.edges.every((e) => !e.denied),
    'nothing denied yet',
  )

  const st = await api<{ mode: string; sidecars: unknown[]; errors: string[] }>('/api/state')
  t.equal(st.mode, 'sidecar')
  t.equal(st.sidecars.length, 7)
  t.same(st.errors, [], 'no errors for ztunnels that do not exist')
  const flows = await api<{
    source: string
    liveNote?: string
    live: unknown[]
    recent: { reporter: string; verdict: string; source: string }[]
  }>('/api/flows')
  t.equal(flows.source, 'metrics')
  t.match(flows.liveNote, /sidecar mode/)
  t.same(flows.live, [])
  t.ok(
    flows.recent.some((f) => f.reporter === 'sidecar (source)' && f.verdict === 'allowed' && f.source.startsWith('curl')),
    'allowed requests from curl are listed',
  )
  t.match(await api('/api/certificates'), { certificates: [], note: /sidecar mode/ })
  t.match(
    await api('/api/explain?from=curl&to=productpage:9080'),
    { result: { note: /sidecar mode: this prediction follows ambient's path/, text: /^sidecar mode:/ } },
    "explain says its prediction is ambient's",
  )

  // An L7 DENY: details' sidecar refuses productpage's GETs with 403 RBAC.
  await writeFile(
    join(dirs.configDir, 'deny-details.yaml'),
    [
      'apiVersion: security.istio.io/v1',
      'kind: AuthorizationPolicy',
      'metadata:',
      '  name: deny-productpage-details',
      '  namespace: default',
      'spec:',
      '  selector:',
      '    matchLabels:',
      '      app: details',
      '  action: DENY',
      '  rules:',
      '    - from:',
      '        - source:',
      '            principals: ["cluster.local/ns/default/sa/bookinfo-productpage"]',
      '      to:',
      '        - operation:',
      '            methods: ["GET"]',
      '',
    ].join('\n'),
  )
  const denied = await eventually(
    async () => {
      const body = await api<Graph>('/api/graph')
      const e = body.edges.find((x) => edgeName(x) === 'productpage-v1->details')
      return e?.denied === true ? body : false
    },
    { timeoutMs: 20_000, intervalMs: 200 },
  )
  const edge = denied.edges.find((x) => edgeName(x) === 'productpage-v1->details')!
  t.ok(
    edge.deniedRecent > 0 && edge.errorRate > 0,
    `productpage → details is denied (${edge.deniedRecent} recently, error rate ${edge.errorRate})`,
  )
  t.equal(denied.edges.find((x) => edgeName(x) === 'details->details-v1')?.denied, true, 'and details → details-v1')
  t.notOk(denied.edges.find((x) => edgeName(x) === 'curl->productpage')?.denied, 'curl → productpage is not')
  const details = state.pods.find((p) => p.workload === 'details-v1')!
  t.match(
    await (await fetch(`http://${details.podIP}:15020/metrics`)).text(),
    /istio_requests_total\{[^}]*reporter="destination"[^}]*response_flags="RBAC"[^}]*response_code="403"/,
    "details' sidecar reports 403 RBAC",
  )
  const after = await eventually(
    async () => {
      const f = await api<{ recent: { reporter: string; verdict: string; source: string; destination: string; reason: string }[] }>(
        '/api/flows',
      )
      return f.recent.find((r) => r.verdict === 'denied') ?? false
    },
    { timeoutMs: 5_000, intervalMs: 200 },
  )
  t.match(after, {
    reporter: 'sidecar (destination)',
    source: 'productpage-v1 (default)',
    destination: 'details-v1 (default)',
    reason: /403 RBAC/,
  })
  const policies = await api<{ policies: { name: string; enforcedBy: string }[] }>('/api/policies')
  t.match(
    policies.policies.find((p) => p.name === 'deny-productpage-details'),
    { enforcedBy: /sidecar/ },
  )

  const browser = requires(t, needs.chromium)
  await t.test('headless Chromium: sidecar mode in the status line, the denied edge red', { skip: browser }, async (t) => {
    const { stdout } = await run(
      CHROMIUM,
      [
        '--headless',
        '--no-sandbox',
        '--disable-gpu',
        '--no-first-run',
        '--disable-background-networking',
        '--window-size=1500,1100',
        '--virtual-time-budget=4000',
        `--user-data-dir=${join(dirs.dir, 'chromium')}`,
        '--dump-dom',
        `${base}/`,
      ],
      { timeout: 30_000, maxBuffer: 16 * 1024 * 1024 },
    )
    const dom = stdout.replaceAll('&gt;', '>')
    t.match(dom, /data-mode="sidecar"[^>]*>[^<]*sidecar mode · 7 sidecars/, 'the status line says sidecar mode')
    t.match(dom, /<g class="edge denied[^"]*" data-edge="productpage-v1->details"/, 'the denied edge is red')
    t.same(
      graphProblems(readDrawnGraph(dom), 0.9),
      [],
      'labels overlap nothing and sit by their own edges; node text fits its box; readable size',
    )
    t.match(dom, /sidecar mode: no ztunnel, so no live connection table/)
  })
})
