// The dashboard's pure parts, as tables: samples → graph edges (source, destination and waypoint
// reporters, DENY at the destination, 403 RBAC at the waypoint, the waypoint's own last hop), rates
// and recent denials over the window (a restarted proxy's counters), access-log lines → flow rows,
// the metric-delta fallback, and the log tail (backlog, partial lines, truncation). Sidecar mode:
// requests counted once from the caller's sidecar, 403 RBAC from the callee's sidecar as denials on
// the same edges (callers known by principal only, split by the 403s each caller saw), traffic only
// a destination reported, pod names mapped to workloads, TCP DENY by principal.
import t from 'tap'
import { appendFile, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Sample } from '../../../src/cluster/metrics-summary.js'
import { accessLogRow, FlowRing, LogTail, metricRows } from '../../../src/ui/flows.js'
import { edgeCounters, GraphHistory, principalKey, type GraphContext } from '../../../src/ui/graph.js'

const ctx: GraphContext = {
  workloads: [
    { namespace: 'default', name: 'productpage-v1' },
    { namespace: 'default', name: 'reviews-v1' },
    { namespace: 'default', name: 'details-v1' },
    { namespace: 'default', name: 'idle' },
  ],
  podWorkloads: new Map([['reviews-v1-abc-0', 'reviews-v1']]),
  waypoints: [
    {
      namespace: 'default',
      name: 'reviews-waypoint',
      identity: 'spiffe://cluster.local/ns/default/sa/reviews-waypoint',
      services: [{ namespace: 'default', name: 'reviews' }],
    },
  ],
}

const tcp = (name: 'opened' | 'closed', labels: Record<string, string>, value: number): Sample => ({
  name: `istio_tcp_connections_${name}_total`,
  labels: {
    source_workload_namespace: 'default',
    destination_workload_namespace: 'default',
    destination_service_namespace: 'default',
    connection_security_policy: 'mutual_tls',
    response_flags: '-',
    ...labels,
  },
  value,
})
const req = (labels: Record<string, string>, value: number): Sample => ({
  name: 'istio_requests_total',
  labels: {
    reporter: 'waypoint',
    source_workload: 'productpage-v1',
    source_workload_namespace: 'default',
    destination_service_name: 'reviews',
    destination_service_namespace: 'default',
    destination_workload_namespace: 'default',
    connection_security_policy: 'mutual_tls',
    response_flags: '-',
    ...labels,
  },
  value,
})

function scrape(n: number, denied: number): Sample[] {
  return [
    // productpage → details (no waypoint), seen by both ztunnels; the destination denies some.
    tcp(
      'opened',
      { reporter: 'source', source_workload: 'productpage-v1', destination_service_name: 'details', destination_workload: 'details-v1' },
      n,
    ),
    tcp(
      'closed',
      {
        reporter: 'source',
        source_workload: 'productpage-v1',
        destination_service_name: 'details',
        destination_workload: 'details-v1',
        response_flags: 'CONNECT',
      },
      denied,
    ),
    tcp('opened', { reporter: 'destination', source_workload: 'productpage-v1', destination_workload: 'details-v1' }, n),
    tcp(
      'closed',
      { reporter: 'destination', source_workload: 'productpage-v1', destination_workload: 'details-v1', response_flags: 'DENY' },
      denied,
    ),
    // productpage → reviews via the waypoint: the source knows only the Service.
    tcp(
      'opened',
      { reporter: 'source', source_workload: 'productpage-v1', destination_service_name: 'reviews', destination_workload: 'unknown' },
      n,
    ),
    req({ destination_workload: 'reviews-v1-abc-0', response_code: '200' }, n),
    req({ destination_workload: 'unknown', response_code: '403', response_flags: 'RBAC' }, 1),
    // The waypoint's last hop, as the reviews pod's ztunnel sees it; one refused.
    tcp(
      'opened',
      {
        reporter: 'destination',
        source_workload: 'unknown',
        source_principal: 'spiffe://cluster.local/ns/default/sa/reviews-waypoint',
        destination_workload: 'reviews-v1',
      },
      n,
    ),
    tcp(
      'closed',
      {
        reporter: 'destination',
        source_workload: 'unknown',
        source_principal: 'spiffe://cluster.local/ns/default/sa/reviews-waypoint',
        destination_workload: 'reviews-v1',
        response_flags: 'DENY',
      },
      1,
    ),
    // An uncaptured client only the destination saw, in plain text.
    tcp(
      'opened',
      { reporter: 'destination', source_workload: 'outsider', destination_workload: 'details-v1', connection_security_policy: 'unknown' },
      2,
    ),
  ]
}

t.test('samples → edges', async (t) => {
  const { edges, nodes } = edgeCounters(scrape(10, 3), ctx)
  t.match(edges.get('wl:default/productpage-v1->svc:default/details'), {
    connections: 10,
    connectionErrors: 3,
    denied: 3,
    mtls: true,
    viaWaypoint: false,
  })
  t.match(edges.get('svc:default/details->wl:default/details-v1'), { connections: 10, denied: 3 })
  // Through the waypoint: client → waypoint → Service → workload; the waypoint's 403 stops at the waypoint.
  t.notOk(edges.has('wl:default/productpage-v1->svc:default/reviews'), 'no edge around the waypoint')
  t.match(edges.get('wl:default/productpage-v1->wl:default/reviews-waypoint'), {
    connections: 10,
    requests: 11,
    requestErrors: 1,
    denied: 1,
    viaWaypoint: true,
  })
  t.match(edges.get('wl:default/reviews-waypoint->svc:default/reviews'), {
    connections: 0,
    requests: 10,
    requestErrors: 0,
    denied: 0,
    viaWaypoint: true,
  })
  t.match(edges.get('svc:default/reviews->wl:default/reviews-v1'), { requests: 10, requestErrors: 0, denied: 1, viaWaypoint: true })
  t.match(edges.get('wl:default/outsider->wl:default/details-v1'), { connections: 2, mtls: false })
  t.match(nodes.get('svc:default/reviews'), { kind: 'service', waypoint: 'reviews-waypoint' })
  t.match(nodes.get('wl:default/reviews-waypoint'), { kind: 'waypoint' })
  t.ok(nodes.has('wl:default/idle'), 'idle workloads are nodes too')
})

t.test('rates and recent denials over the window; counters that reset', async (t) => {
  const h = new GraphHistory(10_000)
  h.add(0, edgeCounters(scrape(10, 0), ctx))
  t.equal(h.graph().edges.find((e) => e.id.endsWith('svc:default/details'))!.rate, 0, 'one scrape: no rate yet')
  h.add(2_000, edgeCounters(scrape(30, 4), ctx))
  let g = h.graph()
  const details = g.edges.find((e) => e.id === 'wl:default/productpage-v1->svc:default/details')!
  t.match(details, { rate: 10, denied: true, deniedRecent: 4, errorRate: 0.2, protocol: 'tcp' })
  t.equal(g.edges.find((e) => e.id === 'wl:default/productpage-v1->wl:default/reviews-waypoint')!.protocol, 'http')
  t.notOk(
    g.nodes.some((n) => n.id === 'svc:default/ratings'),
    'services without traffic are left out',
  )
  h.add(12_500, edgeCounters(scrape(30, 4), ctx))
  h.add(14_000, edgeCounters(scrape(5, 0), ctx)) // the proxies restarted
  g = h.graph()
  t.match(
    g.edges.find((e) => e.id === 'wl:default/productpage-v1->svc:default/details'),
    { denied: false, rate: 0.417 },
  )
  t.ok(g.windowSeconds >= 10)
})

t.test('edges idle for idleMs leave the graph; their services with them', async (t) => {
  const h = new GraphHistory({ windowMs: 2_000, idleMs: 5_000 })
  const details = 'wl:default/productpage-v1->svc:default/details'
  h.add(0, edgeCounters(scrape(10, 0), ctx))
  h.add(1_000, edgeCounters(scrape(20, 0), ctx))
  t.match(
    h.graph().edges.find((e) => e.id === details),
    { health: 'ok' },
  )
  h.add(4_000, edgeCounters(scrape(20, 0), ctx))
  t.match(
    h.graph().edges.find((e) => e.id === details),
    { rate: 0, health: 'idle' },
    'still drawn, idle, before idleMs',
  )
  h.add(6_000, edgeCounters(scrape(20, 0), ctx))
  const g = h.graph()
  t.notOk(
    g.edges.some((e) => e.id === details),
    'gone once its counters stood still for idleMs',
  )
  t.notOk(
    g.nodes.some((n) => n.id === 'svc:default/details'),
    'and its Service',
  )
  t.ok(
    g.nodes.some((n) => n.id === 'wl:default/details-v1'),
    'workloads stay',
  )
  h.add(7_000, edgeCounters(scrape(21, 0), ctx))
  t.ok(
    h.graph().edges.some((e) => e.id === details),
    'back with new traffic',
  )
})

t.test('errors only over a whole window with enough requests; denials at once', async (t) => {
  const edge = (h: GraphHistory, id: string) => h.graph().edges.find((e) => e.id === id)!
  const pp = 'wl:default/productpage-v1->wl:default/reviews-waypoint'
  const failing = (ok: number, failed: number): Sample[] => [
    req({ destination_workload: 'reviews-v1-abc-0', response_code: '200' }, ok),
    req({ destination_workload: 'reviews-v1-abc-0', response_code: '503', response_flags: 'UF' }, failed),
  ]
  // The startup race: a new edge whose first requests failed.
  const h = new GraphHistory({ windowMs: 10_000 })
  h.add(0, edgeCounters([], ctx))
  h.add(1_000, edgeCounters(failing(30, 2), ctx))
  t.match(edge(h, pp), { health: 'ok', errorRate: 0.063 }, 'not a whole window yet: not painted as errors')
  h.add(11_000, edgeCounters(failing(60, 2), ctx))
  h.add(12_000, edgeCounters(failing(80, 2), ctx))
  t.match(edge(h, pp), { health: 'ok', errorRate: 0 }, 'the early failures left the window')
  h.add(13_000, edgeCounters(failing(85, 5), ctx))
  t.match(edge(h, pp), { health: 'ok', errorRate: 0.052 }, 'failures within a window of its first appearance: not yet')
  h.add(21_500, edgeCounters(failing(140, 5), ctx))
  h.add(22_000, edgeCounters(failing(150, 8), ctx))
  t.match(edge(h, pp), { health: 'errors' }, 'failures over a window that starts a window after it appeared')
  // Too few requests say nothing.
  const few = new GraphHistory({ windowMs: 10_000 })
  few.add(0, edgeCounters(failing(1, 0), ctx))
  few.add(1_000, edgeCounters(failing(3, 2), ctx))
  t.match(edge(few, pp), { health: 'ok', errorRate: 0.5 })
  // A denial shows at once.
  const d = new GraphHistory({ windowMs: 10_000 })
  d.add(0, edgeCounters(scrape(10, 0), ctx))
  d.add(1_000, edgeCounters(scrape(11, 1), ctx))
  t.match(edge(d, 'wl:default/productpage-v1->svc:default/details'), { health: 'denied', denied: true })
})

t.test('access-log lines → flow rows', async (t) => {
  const deny = JSON.stringify({
    time: '2026-01-01T00:00:00.000Z',
    msg: 'connection complete',
    direction: 'inbound',
    'src.workload': 'curl',
    'src.namespace': 'default',
    'dst.workload': 'details-v1',
    'dst.namespace': 'default',
    error: 'connection closed due to policy rejection: explicitly denied by: default/deny',
    error_code: 'AUTHZ_DENIED',
    response_flags: 'DENY',
    bytes_sent: 0,
    bytes_recv: 0,
    duration: 0.2,
  })
  t.match(accessLogRow(deny, 'ztunnel node-1'), {
    verdict: 'denied',
    source: 'curl (default)',
    destination: 'details-v1 (default)',
    reporter: 'ztunnel node-1 (inbound)',
    reason: /explicitly denied by: default\/deny \(DENY, AUTHZ_DENIED\)/,
  })
  const refused = JSON.stringify({
    msg: 'connection complete',
    direction: 'outbound',
    'src.identity': 'spiffe://cluster.local/ns/default/sa/curl',
    'dst.service': 'details.default.svc.cluster.local',
    error: 'HBONE CONNECT 1.2.3.4:9080 answered 401',
    error_code: 'HBONE_CONNECT_REJECTED',
    response_flags: 'CONNECT',
  })
  t.match(accessLogRow(refused, 'z'), { verdict: 'denied', source: 'sa curl (default)', destination: 'details.default.svc.cluster.local' })
  const failed = JSON.stringify({
    msg: 'connection complete',
    'src.addr': '1.1.1.1:1',
    'dst.addr': '2.2.2.2:2',
    error: 'refused',
    error_code: 'NET_CONNECT_REFUSED',
    response_flags: 'CONNECT',
  })
  t.match(accessLogRow(failed, 'z'), { verdict: 'failed', source: '1.1.1.1:1' })
  t.match(accessLogRow(JSON.stringify({ msg: 'connection complete', 'src.workload': 'a', 'dst.workload': 'b' }), 'z'), {
    verdict: 'allowed',
    reason: 'connection complete',
  })
  t.equal(accessLogRow('{"msg":"waypoint listening"}', 'z'), undefined)
  t.equal(accessLogRow('not json', 'z'), undefined)
  const ring = new FlowRing(2)
  for (const r of ['a', 'b', 'c'])
    ring.push({ time: r, reporter: r, source: r, destination: r, verdict: 'allowed', reason: r, origin: 'metrics' })
  t.same(
    ring.list().map((r) => r.time),
    ['b', 'c'],
    'the ring keeps the newest',
  )
})

t.test("metric deltas → flow rows (the fallback, and the waypoints' verdicts)", async (t) => {
  t.same(metricRows(undefined, scrape(1, 0), { l4: true, at: 'now' }), [], 'nothing before a baseline')
  const rows = metricRows(scrape(10, 1), scrape(12, 3), { l4: true, at: 'now', workloadOfPod: (p) => ctx.podWorkloads.get(p) })
  t.match(
    rows.find((r) => r.verdict === 'denied' && r.reporter === 'ztunnel (destination)'),
    { count: 2, destination: 'details-v1 (default)', reason: /DENY: 2 connections refused/ },
  )
  t.match(
    rows.find((r) => r.reporter === 'waypoint'),
    { verdict: 'allowed', destination: 'reviews-v1 (default)', count: 2, reason: 'HTTP 200' },
  )
  const l7only = metricRows(
    scrape(10, 1),
    [
      ...scrape(10, 1).filter((s) => s.name !== 'istio_requests_total'),
      req({ destination_workload: 'unknown', response_code: '403', response_flags: 'RBAC' }, 4),
    ],
    { l4: false, at: 'now' },
  )
  t.match(l7only, [{ reporter: 'waypoint', verdict: 'denied', count: 3, destination: 'reviews (default)', reason: /403 RBAC/ }])
})

t.test('log tail: backlog, partial lines, truncation', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'ambient-ui-tail-'))
  t.teardown(() => rm(dir, { recursive: true, force: true }))
  const file = join(dir, 'z.log')
  await writeFile(file, `${'x'.repeat(50)}\nold-1\nold-2\n`)
  const tail = new LogTail(16)
  t.same(await tail.read(file), ['old-1', 'old-2'], 'the first read starts near the end and drops the cut line')
  await appendFile(file, 'new-1\npart')
  t.same(await tail.read(file), ['new-1'])
  await appendFile(file, 'ial\n')
  t.same(await tail.read(file), ['partial'], 'a line split across reads is joined')
  t.same(await tail.read(file), [])
  await writeFile(file, 'fresh\n')
  t.same(await tail.read(file), ['fresh'], 'a truncated file is read from the start')
  await t.rejects(tail.read(join(dir, 'missing.log')))
})

// Sidecar mode: sidecars label workloads with pod names; destinations know callers by principal.
const sctx: GraphContext = {
  workloads: ['productpage-v1', 'details-v1', 'reviews-v2', 'reviews-v3', 'ratings-v1', 'curl', 'tcp-echo-v1'].map((name) => ({
    namespace: 'default',
    name,
  })),
  podWorkloads: new Map([
    ['productpage-v1-p-0', 'productpage-v1'],
    ['details-v1-d-0', 'details-v1'],
    ['reviews-v2-r-0', 'reviews-v2'],
    ['reviews-v3-r-0', 'reviews-v3'],
    ['ratings-v1-a-0', 'ratings-v1'],
    ['ratings-v1-a-1', 'ratings-v1'],
    ['curl-c-0', 'curl'],
    ['tcp-echo-v1-t-0', 'tcp-echo-v1'],
  ]),
  waypoints: [],
  principals: new Map([
    ['default/bookinfo-productpage', [{ namespace: 'default', name: 'productpage-v1' }]],
    [
      'default/bookinfo-reviews',
      [
        { namespace: 'default', name: 'reviews-v2' },
        { namespace: 'default', name: 'reviews-v3' },
      ],
    ],
    ['default/curl', [{ namespace: 'default', name: 'curl' }]],
  ]),
}
const sa = (name: string): string => `spiffe://cluster.local/ns/default/sa/${name}`
const out = (src: string, svc: string, dst: string, code: string, value: number): Sample =>
  req(
    {
      reporter: 'source',
      source_workload: src,
      source_principal: 'x',
      destination_service_name: svc,
      destination_workload: dst,
      response_code: code,
    },
    value,
  )
const inn = (principal: string, dst: string, code: string, value: number, extra: Record<string, string> = {}): Sample =>
  req(
    {
      reporter: 'destination',
      source_workload: 'unknown',
      source_principal: principal,
      destination_service_name: 'unknown',
      destination_service_namespace: 'unknown',
      destination_workload: dst,
      response_code: code,
      ...(code === '403' ? { response_flags: 'RBAC' } : {}),
      ...extra,
    },
    value,
  )

function sidecarScrape(n: number, denied: number): Sample[] {
  return [
    // productpage → details: the caller counts every request (the 403s as errors, no flag) …
    out('productpage-v1-p-0', 'details', 'details-v1-d-0', '200', n),
    out('productpage-v1-p-0', 'details', 'details-v1-d-0', '403', denied),
    // … the callee reports the same requests again, and its RBAC denials.
    inn(sa('bookinfo-productpage'), 'details-v1-d-0', '200', n),
    inn(sa('bookinfo-productpage'), 'details-v1-d-0', '403', denied),
    // reviews-v2 and v3 share one service account: ratings' denials split by the 403s each saw.
    out('reviews-v2-r-0', 'ratings', 'ratings-v1-a-0', '200', 10),
    out('reviews-v2-r-0', 'ratings', 'ratings-v1-a-0', '403', 3),
    out('reviews-v3-r-0', 'ratings', 'ratings-v1-a-1', '200', 10),
    out('reviews-v3-r-0', 'ratings', 'ratings-v1-a-1', '403', 1),
    inn(sa('bookinfo-reviews'), 'ratings-v1-a-0', '200', 10),
    inn(sa('bookinfo-reviews'), 'ratings-v1-a-0', '403', 3),
    inn(sa('bookinfo-reviews'), 'ratings-v1-a-1', '200', 10),
    inn(sa('bookinfo-reviews'), 'ratings-v1-a-1', '403', 1),
    // curl's sidecar reported nothing (not scraped): only details' sidecar saw it.
    inn(sa('curl'), 'details-v1-d-0', '200', 5),
    // A plaintext caller without a sidecar: no identity, no edge.
    inn('unknown', 'details-v1-d-0', '200', 7, { connection_security_policy: 'unknown' }),
    // A TCP port: productpage → tcp-echo, the callee's sidecar refuses two by L4 policy.
    tcp(
      'opened',
      {
        reporter: 'source',
        source_workload: 'productpage-v1-p-0',
        destination_service_name: 'tcp-echo',
        destination_workload: 'tcp-echo-v1-t-0',
      },
      4,
    ),
    tcp(
      'opened',
      {
        reporter: 'destination',
        source_workload: 'unknown',
        source_principal: sa('bookinfo-productpage'),
        destination_workload: 'tcp-echo-v1-t-0',
      },
      4,
    ),
    tcp(
      'closed',
      {
        reporter: 'destination',
        source_workload: 'unknown',
        source_principal: sa('bookinfo-productpage'),
        destination_workload: 'tcp-echo-v1-t-0',
        response_flags: 'DENY',
      },
      2,
    ),
  ]
}

t.test('sidecar mode: samples → edges, each request once, denials from the destination', async (t) => {
  const { edges, nodes } = edgeCounters(sidecarScrape(10, 3), sctx)
  const http = { connections: 0, viaWaypoint: false, mtls: true }
  t.match(
    edges.get('wl:default/productpage-v1->svc:default/details'),
    { ...http, requests: 13, requestErrors: 3, denied: 3 },
    'counted once, from the source; denied from the destination',
  )
  t.match(edges.get('svc:default/details->wl:default/details-v1'), { ...http, requests: 13, requestErrors: 3, denied: 3 })
  t.match(
    edges.get('wl:default/reviews-v2->svc:default/ratings'),
    { requests: 13, requestErrors: 3, denied: 3 },
    "the shared principal's denials follow the 403s reviews-v2 saw",
  )
  t.match(edges.get('wl:default/reviews-v3->svc:default/ratings'), { requests: 11, requestErrors: 1, denied: 1 })
  t.match(edges.get('svc:default/ratings->wl:default/ratings-v1'), { requests: 24, requestErrors: 4, denied: 4 })
  t.match(
    edges.get('wl:default/curl->wl:default/details-v1'),
    { requests: 5, requestErrors: 0, denied: 0, mtls: true },
    "traffic only the destination saw is drawn from the principal's workload",
  )
  t.match(edges.get('wl:default/productpage-v1->svc:default/tcp-echo'), { connections: 4, denied: 2, requests: 0 })
  t.match(edges.get('svc:default/tcp-echo->wl:default/tcp-echo-v1'), { connections: 4, denied: 2 })
  t.notOk(
    [...edges.keys()].some((k) => k.includes('unknown')),
    'no edge from an unknown caller',
  )
  t.notOk(
    [...nodes.keys()].some((k) => /-[a-z]-\d$/.test(k)),
    'no node named after a pod',
  )
  t.notOk(
    [...nodes.values()].some((n) => n.kind === 'waypoint'),
    'no waypoint',
  )

  // Without the principal lookup (ambient's context) the destination's unnamed callers are skipped.
  const { principals: _unused, ...ambientCtx } = sctx
  const { edges: plain } = edgeCounters(sidecarScrape(10, 3), ambientCtx)
  t.match(plain.get('wl:default/productpage-v1->svc:default/details'), { requests: 13, denied: 0 })
  t.notOk(plain.has('wl:default/curl->wl:default/details-v1'))

  // Several callers share a principal, none reported by a source: split evenly.
  const { edges: even } = edgeCounters([inn(sa('bookinfo-reviews'), 'details-v1-d-0', '403', 4)], sctx)
  t.match(even.get('wl:default/reviews-v2->wl:default/details-v1'), { requests: 2, denied: 2 })
  t.match(even.get('wl:default/reviews-v3->wl:default/details-v1'), { requests: 2, denied: 2 })
})

t.test('sidecar mode: rates and recent denials over the window', async (t) => {
  const h = new GraphHistory(10_000)
  h.add(0, edgeCounters(sidecarScrape(10, 0), sctx))
  h.add(2_000, edgeCounters(sidecarScrape(30, 4), sctx))
  const e = h.graph().edges.find((x) => x.id === 'wl:default/productpage-v1->svc:default/details')!
  t.match(e, { protocol: 'http', rate: 12, denied: true, deniedRecent: 4, errorRate: 0.167, viaWaypoint: false, mtls: true })
})

t.test('principalKey', async (t) => {
  t.equal(principalKey('spiffe://cluster.local/ns/default/sa/curl'), 'default/curl')
  t.equal(principalKey('td.example/ns/a/sa/b'), 'a/b')
  t.equal(principalKey('unknown'), undefined)
  t.equal(principalKey(undefined), undefined)
})

t.test('sidecar mode: metric deltas → flow rows', async (t) => {
  const rows = metricRows(sidecarScrape(10, 1), sidecarScrape(12, 3), {
    l4: true,
    at: 'now',
    proxy: 'sidecar',
    workloadOfPod: (p) => sctx.podWorkloads.get(p),
    workloadOfPrincipal: (p) => (p === sa('bookinfo-productpage') ? 'productpage-v1 (default)' : undefined),
  })
  t.match(
    rows.find((r) => r.reporter === 'sidecar (source)' && r.verdict === 'allowed'),
    { source: 'productpage-v1 (default)', destination: 'details-v1 (default)', count: 2, reason: 'HTTP 200' },
  )
  t.match(
    rows.find((r) => r.reporter === 'sidecar (source)' && r.verdict === 'failed'),
    { count: 2, reason: 'HTTP 403' },
  )
  t.match(
    rows.filter((r) => r.reporter === 'sidecar (destination)'),
    [
      {
        verdict: 'denied',
        source: 'productpage-v1 (default)',
        destination: 'details-v1 (default)',
        count: 2,
        reason: /HTTP 403 RBAC: RBAC: access denied by the destination's sidecar/,
      },
    ],
    'the destination adds its denials only',
  )
  const later = metricRows(
    sidecarScrape(10, 1),
    [
      ...sidecarScrape(10, 1).filter((s) => !s.labels.destination_workload?.startsWith('tcp-echo')),
      inn('unknown', 'details-v1-d-0', '200', 9, { connection_security_policy: 'unknown' }),
      tcp(
        'closed',
        {
          reporter: 'destination',
          source_workload: 'unknown',
          source_principal: sa('bookinfo-reviews'),
          destination_workload: 'tcp-echo-v1-t-0',
          response_flags: 'DENY',
        },
        1,
      ),
    ],
    { l4: true, at: 'now', proxy: 'sidecar', workloadOfPod: (p) => sctx.podWorkloads.get(p) },
  )
  t.match(
    later,
    [
      { reporter: 'sidecar (destination)', verdict: 'allowed', source: 'unknown (no peer identity)', count: 2 },
      {
        reporter: 'sidecar (destination)',
        verdict: 'denied',
        source: 'sa bookinfo-reviews (default)',
        destination: 'tcp-echo-v1 (default)',
        reason: /DENY: 1 connection refused/,
      },
    ],
    'a caller without a sidecar, and a TCP denial by principal',
  )
})
