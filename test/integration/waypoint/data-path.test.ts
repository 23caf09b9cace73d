// The waypoint's data path, in process: source HBONE pool → waypoint (15008) → HBONE → pods.
import t from 'tap'
import { cluster, endpointOf, route, servicePort, startWaypointHarness } from '../../helpers/waypoint-harness.js'

const HOST = 'reviews.default.svc.cluster.local'
const CL = `outbound|9080||${HOST}`

function reviewsService(vip: string, routes = [route(CL, HOST, 9080)], protocol: 'HTTP' | 'UNKNOWN' | 'HTTP2' = 'HTTP') {
  return { hostname: HOST, name: 'reviews', namespace: 'default', addresses: [vip], ports: [servicePort(9080, protocol, routes, CL)], authorization: [] }
}

t.test('HTTP/1.1 through the waypoint reaches the endpoint as the waypoint, with trace headers', async (t) => {
  const h = await startWaypointHarness(t, {
    pods: ['reviews-v1'],
    config: ({ vip, pod }) => ({ services: [reviewsService(vip(1))], workloads: [], clusters: [cluster(CL, HOST, 9080, [endpointOf(pod('reviews-v1'))])], authorization: [] }),
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
  t.match(metrics, /istio_requests_total\{[^}]*reporter="waypoint"[^}]*source_workload="productpage-v1"[^}]*destination_service="reviews.default.svc.cluster.local"[^}]*response_code="200"/)
})
