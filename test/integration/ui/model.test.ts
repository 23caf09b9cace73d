// The dashboard's pure parts, as tables: samples → graph edges (source, destination and waypoint
// reporters, DENY at the destination, 403 RBAC at the waypoint, the waypoint's own last hop), rates
// and recent denials over the window (a restarted proxy's counters), access-log lines → flow rows,
// the metric-delta fallback, and the log tail (backlog, partial lines, truncation).
import t from 'tap'
import { appendFile, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Sample } from '../../../src/cluster/metrics-summary.js'
import { accessLogRow, FlowRing, LogTail, metricRows } from '../../../src/ui/flows.js'
import { edgeCounters, GraphHistory, type GraphContext } from '../../../src/ui/graph.js'

const ctx: GraphContext = {
  workloads: [{ namespace: 'default', name: 'productpage-v1' }, { namespace: 'default', name: 'reviews-v1' }, { namespace: 'default', name: 'details-v1' }, { namespace: 'default', name: 'idle' }],
  podWorkloads: new Map([['reviews-v1-abc-0', 'reviews-v1']]),
  waypoints: [{ namespace: 'default', name: 'reviews-waypoint', identity: 'spiffe://cluster.local/ns/default/sa/reviews-waypoint', services: [{ namespace: 'default', name: 'reviews' }] }],
}

const tcp = (name: 'opened' | 'closed', labels: Record<string, string>, value: number): Sample => ({
  name: `istio_tcp_connections_${name}_total`,
  labels: { source_workload_namespace: 'default', destination_workload_namespace: 'default', destination_service_namespace: 'default', connection_security_policy: 'mutual_tls', response_flags: '-', ...labels },
  value,
})
const req = (labels: Record<string, string>, value: number): Sample => ({
  name: 'istio_requests_total',
  labels: { reporter: 'waypoint', source_workload: 'productpage-v1', source_workload_namespace: 'default', destination_service_name: 'reviews', destination_service_namespace: 'default', destination_workload_namespace: 'default', connection_security_policy: 'mutual_tls', response_flags: '-', ...labels },
  value,
})

function scrape(n: number, denied: number): Sample[] {
  return [
    // productpage → details (no waypoint), seen by both ztunnels; the destination denies some.
    tcp('opened', { reporter: 'source', source_workload: 'productpage-v1', destination_service_name: 'details', destination_workload: 'details-v1' }, n),
    tcp('closed', { reporter: 'source', source_workload: 'productpage-v1', destination_service_name: 'details', destination_workload: 'details-v1', response_flags: 'CONNECT' }, denied),
    tcp('opened', { reporter: 'destination', source_workload: 'productpage-v1', destination_workload: 'details-v1' }, n),
    tcp('closed', { reporter: 'destination', source_workload: 'productpage-v1', destination_workload: 'details-v1', response_flags: 'DENY' }, denied),
    // productpage → reviews via the waypoint: the source knows only the Service.
    tcp('opened', { reporter: 'source', source_workload: 'productpage-v1', destination_service_name: 'reviews', destination_workload: 'unknown' }, n),
    req({ destination_workload: 'reviews-v1-abc-0', response_code: '200' }, n),
    req({ destination_workload: 'unknown', response_code: '403', response_flags: 'RBAC' }, 1),
    // The waypoint's last hop, as the reviews pod's ztunnel sees it; one refused.
    tcp('opened', { reporter: 'destination', source_workload: 'unknown', source_principal: 'spiffe://cluster.local/ns/default/sa/reviews-waypoint', destination_workload: 'reviews-v1' }, n),
    tcp('closed', { reporter: 'destination', source_workload: 'unknown', source_principal: 'spiffe://cluster.local/ns/default/sa/reviews-waypoint', destination_workload: 'reviews-v1', response_flags: 'DENY' }, 1),
    // An uncaptured client only the destination saw, in plain text.
    tcp('opened', { reporter: 'destination', source_workload: 'outsider', destination_workload: 'details-v1', connection_security_policy: 'unknown' }, 2),
  ]
}

t.test('samples → edges', async (t) => {
  const { edges, nodes } = edgeCounters(scrape(10, 3), ctx)
  t.match(edges.get('wl:default/productpage-v1->svc:default/details'), { connections: 10, connectionErrors: 3, denied: 3, mtls: true, viaWaypoint: false })
  t.match(edges.get('svc:default/details->wl:default/details-v1'), { connections: 10, denied: 3 })
  t.match(edges.get('wl:default/productpage-v1->svc:default/reviews'), { connections: 10, requests: 11, requestErrors: 1, denied: 1, viaWaypoint: true })
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
  t.equal(g.edges.find((e) => e.id === 'wl:default/productpage-v1->svc:default/reviews')!.protocol, 'http')
  t.notOk(g.nodes.some((n) => n.id === 'svc:default/ratings'), 'services without traffic are left out')
  h.add(12_500, edgeCounters(scrape(30, 4), ctx))
  h.add(14_000, edgeCounters(scrape(5, 0), ctx)) // the proxies restarted
  g = h.graph()
  t.match(g.edges.find((e) => e.id === 'wl:default/productpage-v1->svc:default/details'), { denied: false, rate: 0.417 })
  t.ok(g.windowSeconds >= 10)
})

t.test('access-log lines → flow rows', async (t) => {
  const deny = JSON.stringify({ time: '2026-01-01T00:00:00.000Z', msg: 'connection complete', direction: 'inbound', 'src.workload': 'curl', 'src.namespace': 'default', 'dst.workload': 'details-v1', 'dst.namespace': 'default', error: 'connection closed due to policy rejection: explicitly denied by: default/deny', error_code: 'AUTHZ_DENIED', response_flags: 'DENY', bytes_sent: 0, bytes_recv: 0, duration: 0.2 })
  t.match(accessLogRow(deny, 'ztunnel node-1'), { verdict: 'denied', source: 'curl (default)', destination: 'details-v1 (default)', reporter: 'ztunnel node-1 (inbound)', reason: /explicitly denied by: default\/deny \(DENY, AUTHZ_DENIED\)/ })
  const refused = JSON.stringify({ msg: 'connection complete', direction: 'outbound', 'src.identity': 'spiffe://cluster.local/ns/default/sa/curl', 'dst.service': 'details.default.svc.cluster.local', error: 'HBONE CONNECT 1.2.3.4:9080 answered 401', error_code: 'HBONE_CONNECT_REJECTED', response_flags: 'CONNECT' })
  t.match(accessLogRow(refused, 'z'), { verdict: 'denied', source: 'sa curl (default)', destination: 'details.default.svc.cluster.local' })
  const failed = JSON.stringify({ msg: 'connection complete', 'src.addr': '1.1.1.1:1', 'dst.addr': '2.2.2.2:2', error: 'refused', error_code: 'NET_CONNECT_REFUSED', response_flags: 'CONNECT' })
  t.match(accessLogRow(failed, 'z'), { verdict: 'failed', source: '1.1.1.1:1' })
  t.match(accessLogRow(JSON.stringify({ msg: 'connection complete', 'src.workload': 'a', 'dst.workload': 'b' }), 'z'), { verdict: 'allowed', reason: 'connection complete' })
  t.equal(accessLogRow('{"msg":"waypoint listening"}', 'z'), undefined)
  t.equal(accessLogRow('not json', 'z'), undefined)
  const ring = new FlowRing(2)
  for (const r of ['a', 'b', 'c']) ring.push({ time: r, reporter: r, source: r, destination: r, verdict: 'allowed', reason: r, origin: 'metrics' })
  t.same(ring.list().map((r) => r.time), ['b', 'c'], 'the ring keeps the newest')
})

t.test('metric deltas → flow rows (the fallback, and the waypoints\' verdicts)', async (t) => {
  t.same(metricRows(undefined, scrape(1, 0), { l4: true, at: 'now' }), [], 'nothing before a baseline')
  const rows = metricRows(scrape(10, 1), scrape(12, 3), { l4: true, at: 'now', workloadOfPod: (p) => ctx.podWorkloads.get(p) })
  t.match(rows.find((r) => r.verdict === 'denied' && r.reporter === 'ztunnel (destination)'), { count: 2, destination: 'details-v1 (default)', reason: /DENY: 2 connections refused/ })
  t.match(rows.find((r) => r.reporter === 'waypoint'), { verdict: 'allowed', destination: 'reviews-v1 (default)', count: 2, reason: 'HTTP 200' })
  const l7only = metricRows(scrape(10, 1), [...scrape(10, 1).filter((s) => s.name !== 'istio_requests_total'), req({ destination_workload: 'unknown', response_code: '403', response_flags: 'RBAC' }, 4)], { l4: false, at: 'now' })
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
