// The waypoint's data path, in process: source HBONE pool → waypoint (15008) → HBONE → pods.
import t from 'tap'
import { cluster, endpointOf, route, servicePort, startWaypointHarness } from '../../helpers/waypoint-harness.js'
import { operation, policy, rule, source } from '../../helpers/waypoint-config.js'

const HOST = 'reviews.default.svc.cluster.local'
const CL = `outbound|9080||${HOST}`

function reviewsService(vip: string, routes = [route(CL, HOST, 9080)], protocol: 'HTTP' | 'UNKNOWN' | 'HTTP2' = 'HTTP') {
  return {
    hostname: HOST,
    name: 'reviews',
    namespace: 'default',
    addresses: [vip],
    ports: [servicePort(9080, protocol, routes, CL)],
    authorization: [],
  }
}

t.test('HTTP/1.1 through the waypoint reaches the endpoint as the waypoint, with trace headers', async (t) => {
  const h = await startWaypointHarness(t, {
    pods: ['reviews-v1'],
    config: ({ vip, pod }) => ({
      services: [reviewsService(vip(1))],
      workloads: [],
      clusters: [cluster(CL, HOST, 9080, [endpointOf(pod('reviews-v1'))])],
      authorization: [],
    }),
  })
  const r = await h.request(`${h.vip(1)}:9080`, { path: '/reviews/1', host: 'reviews:9080' })
  t.equal(r.status, 200)
  t.equal(JSON.parse(r.body).pod, 'reviews-v1')
  const seen = h.pods.get('reviews-v1')!.seen[0]!
  t.equal(seen.url, '/reviews/1')
  t.equal(seen.headers.host, 'reviews:9080')
  t.match(seen.headers.traceparent, /^00-[0-9a-f]{32}-[0-9a-f]{16}-01$/)
  t.ok(seen.headers['x-request-id'])
  t.ok(seen.headers['x-b3-traceid'])
  const metrics = await h.metrics.render()
  t.match(
    metrics,
    new RegExp(
      String.raw`istio_requests_total\{[^}]*reporter="waypoint"[^}]*source_workload="productpage-v1"` +
        '[^}]*destination_service="reviews.default.svc.cluster.local"[^}]*response_code="200"',
    ),
  )
})

const allowReviews = policy('allow-reviews', 'ALLOW', [
  rule({
    from: [source({ principals: ['cluster.local/ns/default/sa/bookinfo-productpage'] })],
    to: [operation({ methods: ['GET'], paths: ['/reviews/*'] })],
  }),
])

t.test('HTTP/2 with gRPC trailers passes through intact; an undeclared port is sniffed', async (t) => {
  const h = await startWaypointHarness(t, {
    pods: ['reviews-v1'],
    config: ({ vip, pod }) => ({
      services: [reviewsService(vip(1), [route(CL, HOST, 9080)], 'UNKNOWN')],
      workloads: [],
      clusters: [cluster(CL, HOST, 9080, [endpointOf(pod('reviews-v1'), { targetPort: pod('reviews-v1').appPort + 1 })])],
      authorization: [],
    }),
  })
  const r = await h.request2(`${h.vip(1)}:9080`, {
    path: '/pkg.Svc/Method',
    body: 'ping',
    headers: { 'content-type': 'application/grpc', te: 'trailers' },
  })
  t.equal(r.status, 200)
  t.equal(r.body, 'h2 reviews-v1 ping')
  t.equal(r.trailers['grpc-status'], '0')
  t.equal(r.trailers['grpc-message'], 'ok')
  t.match(
    await h.metrics.render(),
    /istio_requests_total\{[^}]*reporter="waypoint"[^}]*request_protocol="grpc"[^}]*grpc_response_status="0"/,
  )
})

t.test('a destination the waypoint does not serve is refused with 400', async (t) => {
  const h = await startWaypointHarness(t, {
    pods: ['reviews-v1'],
    config: ({ vip, pod }) => ({
      services: [reviewsService(vip(1))],
      workloads: [],
      clusters: [cluster(CL, HOST, 9080, [endpointOf(pod('reviews-v1'))])],
      authorization: [],
    }),
  })
  const err = await h.request(`${h.vip(9)}:9080`).catch((e: unknown) => e)
  t.match(err, { status: 400 })
  const err2 = await h.request(`${h.vip(1)}:9999`).catch((e: unknown) => e)
  t.match(err2, { status: 400 })
  await h.log.waitFor((r) => r.event === 'hbone_connect_rejected' && r.status === 400)
})

t.test('L7 authorization: allow-reviews (GET /reviews/* from productpage) and deny-all → 403 RBAC: access denied', async (t) => {
  const h = await startWaypointHarness(t, {
    pods: ['reviews-v1'],
    config: ({ vip, pod }) => ({
      services: [{ ...reviewsService(vip(1)), authorization: [allowReviews] }],
      workloads: [],
      clusters: [cluster(CL, HOST, 9080, [endpointOf(pod('reviews-v1'))])],
      authorization: [],
    }),
  })
  const target = `${h.vip(1)}:9080`
  t.equal((await h.request(target, { path: '/reviews/1' })).status, 200)
  const post = await h.request(target, { path: '/reviews/1', method: 'POST', body: 'x' })
  t.equal(post.status, 403)
  t.equal(post.body, 'RBAC: access denied')
  const other = await h.request(target, { path: '/reviews/1', identity: 'spiffe://cluster.local/ns/default/sa/curl' })
  t.equal(other.status, 403)
  t.equal(h.pods.get('reviews-v1')!.seen.length, 1, 'denied requests never reach the app')
  // deny-all alone (with allow-reviews also present, allow-reviews would still allow: ALLOW policies are ORed).
  h.waypoint.updateConfig({
    ...h.config,
    services: h.config.services.map((s) => ({ ...s, authorization: [] })),
    authorization: [{ name: 'deny-all', namespace: 'default', action: 'ALLOW', provider: null, dryRun: false, rules: [] }],
  })
  t.equal((await h.request(target, { path: '/reviews/1' })).status, 403, 'deny-all (ALLOW nothing)')
  t.match(await h.metrics.render(), /istio_requests_total\{[^}]*response_flags="RBAC"[^}]*response_code="403"[^}]*\} 2/)
})
