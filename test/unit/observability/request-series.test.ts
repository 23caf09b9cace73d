// The request series handles (src/observability/request-series.ts) must leave the scraped text byte
// for byte what prom-client's own API prints for the same requests: every test here records the same
// traffic twice, through recordRequest and through prom-client's inc/observe (what recordRequest did
// before the handles), and compares the two registries' text.
import t from 'tap'
import { createMetrics, recordRequest, type Metrics, type RequestRecord } from '../../../src/observability/metrics.js'
import { createRequestSeries } from '../../../src/observability/request-series.js'
import { httpLabels, type FlowPeer, type HttpResponseFlag } from '../../../src/observability/traffic-labels.js'
import { httpbin, sleep, stranger } from './fixtures.js'

/** prom-client's own path: four calls, each with all the labels. */
function recordThroughPromClient(metrics: Metrics, r: RequestRecord): void {
  const labels = httpLabels(r)
  metrics.http.requests.inc(labels)
  metrics.http.durationMs.observe(labels, r.durationMs)
  metrics.http.requestBytes.observe(labels, r.requestBytes)
  metrics.http.responseBytes.observe(labels, r.responseBytes)
}

/**
 * A deterministic mix: peers (shared objects, per-request copies, and frozen destinations, whose
 * last key per source is remembered), codes, flags, gRPC, fractional and out-of-range values.
 */
function traffic(n: number): RequestRecord[] {
  const peers: FlowPeer[] = [
    sleep,
    httpbin,
    stranger,
    { addr: '1.1.1.1:1', workload: 'a', app: '1:b' },
    { addr: '1.1.1.1:1', workload: 'a1:b' },
  ]
  // Frozen like a waypoint's endpointDestinationPeer: the series key is remembered per (source, destination).
  const destinations: FlowPeer[] = [...peers, ...peers.map((p) => Object.freeze({ ...p }))]
  const out: RequestRecord[] = []
  let x = 7
  const next = (): number => (x = (x * 1103515245 + 12345) % 2 ** 31)
  for (let i = 0; i < n; i++) {
    const src = peers[next() % peers.length]!
    const copy = next() % 3 === 0 // a sidecar builds its source peer per request
    out.push({
      reporter: (['waypoint', 'source', 'destination'] as const)[next() % 3]!,
      src: copy ? { ...src } : src,
      dst: destinations[next() % destinations.length]!,
      securityPolicy: next() % 4 === 0 ? 'unknown' : 'mutual_tls',
      requestProtocol: next() % 5 === 0 ? 'grpc' : 'http',
      responseCode: [200, 200, 200, 404, 503][next() % 5]!,
      ...(next() % 6 === 0 ? { grpcResponseStatus: next() % 17 } : {}),
      responseFlags: [[], [], ['UH'], ['UO', 'URX'], ['RBAC']][next() % 5] as HttpResponseFlag[],
      // Fractional durations (the sum's float rounding depends on the order of additions), some past the last bucket.
      // Values on a bucket bound count in that bucket.
      durationMs: next() % 50 === 0 ? 4_000_000 : next() % 7 === 0 ? [0.5, 1, 5, 10][next() % 4]! : (next() % 100_000) / 997,
      requestBytes: next() % 4 === 0 ? 0 : next() % 300_000_000,
      responseBytes: next() % 3 === 0 ? [1, 10, 100, 1000][next() % 4]! : next() % 2_000,
    })
  }
  return out
}

t.test('recordRequest prints what prom-client prints for the same requests', async (t) => {
  const handles = createMetrics()
  const reference = createMetrics()
  for (const r of traffic(3000)) {
    recordRequest(handles, r)
    recordThroughPromClient(reference, r)
  }
  const text = await handles.render()
  t.ok(text.includes('istio_request_duration_milliseconds_sum{'), 'histograms rendered')
  t.equal(text, await reference.render(), 'byte-identical exposition')
  const { size } = handles.requestSeriesStats()
  t.ok(size > 10 && size < 1000, `${size} handles for 3000 requests: most requests went through a handle`)
  t.equal(handles.requestSeriesStats().evictions, 0)
})

t.test('over the cap, the oldest handles go and are counted; the series stay', async (t) => {
  const handles = createMetrics()
  const reference = createMetrics()
  const series = createRequestSeries(handles.http, 4)
  const requests = traffic(2000)
  for (const r of requests) {
    series.record(r, r)
    recordThroughPromClient(reference, r)
  }
  t.ok(series.stats().size <= 4, `size ${series.stats().size} ≤ 4`)
  t.ok(series.stats().evictions > 100, `evictions ${series.stats().evictions}`)
  t.equal(await handles.render(), await reference.render(), 'byte-identical exposition')
})

t.test('a reset registry is not written through stale handles', async (t) => {
  const handles = createMetrics()
  const reference = createMetrics()
  const requests = traffic(600)
  for (const [i, r] of requests.entries()) {
    if (i === 300) {
      handles.registry.resetMetrics()
      reference.registry.resetMetrics()
    }
    recordRequest(handles, r)
    recordThroughPromClient(reference, r)
  }
  t.equal(await handles.render(), await reference.render(), 'byte-identical exposition after the reset')
})

t.test('a non-finite value is refused as prom-client refuses it', async (t) => {
  const metrics = createMetrics()
  const r = traffic(1)[0]!
  recordRequest(metrics, r)
  t.throws(() => recordRequest(metrics, { ...r, durationMs: Number.NaN }), TypeError)
})
