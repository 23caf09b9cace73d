// The waypoint's request metrics go through series handles (src/observability/request-series.ts);
// what /metrics prints must be what prom-client's own inc/observe print for the same requests. Real
// traffic (HTTP/1.1 and HTTP/2, two callers, a fault-injected 418, a body) through a waypoint whose
// every request record is also written, the old way, into a second registry; the request series of
// both must match byte for byte.
import t from 'tap'
import { createMetrics, type Metrics, type RequestRecord } from '../../../src/observability/metrics.js'
import { httpLabels } from '../../../src/observability/traffic-labels.js'
import { cluster, endpointOf, httpService, route, startWaypointHarness } from '../../helpers/waypoint-harness.js'
import { match, prefix } from '../../helpers/waypoint-config.js'

const HOST = 'reviews.default.svc.cluster.local'
const CL = `outbound|9080||${HOST}`
const REQUEST_SERIES = /^istio_(requests_total|request_duration_milliseconds|request_bytes|response_bytes)/

const requestSeries = async (m: Metrics): Promise<string> =>
  (await m.render())
    .split('\n')
    .filter((l) => REQUEST_SERIES.test(l))
    .join('\n')

t.test("the waypoint's request series are byte for byte prom-client's own", async (t) => {
  const h = await startWaypointHarness(t, {
    pods: ['reviews-v1'],
    config: ({ vip, pod }) => ({
      services: [
        httpService(
          { hostname: HOST, name: 'reviews', namespace: 'default', vip: vip(1) },
          9080,
          [
            route(CL, HOST, 9080, {
              name: 'teapot',
              matches: [match({ path: prefix('/teapot') })],
              fault: { delay: null, abort: { httpStatus: 418, grpcStatus: null, percentage: 100 } },
            }),
            route(CL, HOST, 9080),
          ],
          CL,
        ),
      ],
      workloads: [],
      clusters: [cluster(CL, HOST, 9080, [endpointOf(pod('reviews-v1'))])],
      authorization: [],
    }),
  })
  const reference = createMetrics()
  const record = h.metrics.recordRequest
  // Each record also the old way: all labels into each of the four prom-client calls.
  Object.assign(h.metrics, {
    recordRequest(r: RequestRecord) {
      record(r)
      const labels = httpLabels(r)
      reference.http.requests.inc(labels)
      reference.http.durationMs.observe(labels, r.durationMs)
      reference.http.requestBytes.observe(labels, r.requestBytes)
      reference.http.responseBytes.observe(labels, r.responseBytes)
    },
  })
  const authority = `${h.vip(1)}:9080`
  const statuses: number[] = []
  for (let i = 0; i < 12; i++) {
    statuses.push((await h.request(authority, { path: `/r/${i}` })).status)
    statuses.push((await h.request2(authority, { path: `/h2/${i}` })).status)
    statuses.push((await h.request(authority, { path: '/teapot', identity: 'spiffe://cluster.local/ns/default/sa/sleep' })).status)
    statuses.push((await h.request(authority, { method: 'POST', path: '/p', body: 'x'.repeat(i * 100) })).status)
  }
  t.same(new Set(statuses), new Set([200, 418]), 'the app and the fault answered')
  const text = await requestSeries(h.metrics)
  t.match(text, /istio_requests_total\{[^}]*response_code="418"[^}]*\} 12/)
  t.ok(h.metrics.requestSeriesStats().size > 0, 'requests went through series handles')
  t.equal(text, await requestSeries(reference), 'byte-identical request series')
})
