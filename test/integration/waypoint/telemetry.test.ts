// Telemetry in the waypoint: the access log switched by WaypointConfig.telemetry.accessLog, and
// Zipkin v2 spans (telemetry.tracing) to a file and to an HTTP collector.
import t, { type Test } from 'tap'
import http from 'node:http'
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { WaypointTelemetry } from '../../../src/mesh/waypoint-config.js'
import { zipkinFileSink, zipkinHttpSink, type SpanSink, type ZipkinSpan } from '../../../src/l7/zipkin.js'
import { cluster, endpointOf, route, servicePort, startWaypointHarness } from '../../helpers/waypoint-harness.js'
import { eventually } from '../../helpers/eventually.js'

const HOST = 'reviews.default.svc.cluster.local'
const CL = `outbound|9080||${HOST}`
const TRACE = '4bf92f3577b34da6a3ce929d0e0e4736'
const PARENT = '00f067aa0ba902b7'

function start(t: Test, telemetry: WaypointTelemetry, spans?: SpanSink, random?: () => number) {
  return startWaypointHarness(t, {
    pods: ['reviews-v1'],
    ...(spans === undefined ? {} : { spans }),
    ...(random === undefined ? {} : { random }),
    config: ({ vip, pod }) => ({
      services: [
        {
          hostname: HOST,
          name: 'reviews',
          namespace: 'default',
          addresses: [vip(1)],
          ports: [servicePort(9080, 'HTTP', [route(CL, HOST, 9080)], CL)],
          authorization: [],
        },
      ],
      workloads: [],
      clusters: [cluster(CL, HOST, 9080, [endpointOf(pod('reviews-v1'))])],
      authorization: [],
      telemetry,
    }),
  })
}

t.test('access log on: one line per request with Envoy-like fields', async (t) => {
  const h = await start(t, { accessLog: true, tracing: null })
  const r = await h.request(`${h.vip(1)}:9080`, {
    path: '/reviews/1',
    host: 'reviews:9080',
    headers: { traceparent: `00-${TRACE}-${PARENT}-01`, 'x-request-id': 'rid-1' },
  })
  t.equal(r.status, 200)
  await h.request(`${h.vip(1)}:9080`, { path: '/two', host: 'reviews:9080' })
  const lines = await eventually(() => {
    const l = h.log.filter((x) => x.event === 'access_log')
    if (l.length < 2) throw new Error(`${l.length} access-log lines`)
    return l
  })
  t.equal(lines.length, 2, 'one line per request')
  const [first] = lines
  t.match(first, {
    level: 'info',
    msg: 'request complete',
    method: 'GET',
    path: '/reviews/1',
    authority: 'reviews:9080',
    response_code: 200,
    response_flags: '-',
    upstream_host: `${h.pods.get('reviews-v1')!.ip}:${h.pods.get('reviews-v1')!.appPort}`,
    upstream_cluster: CL,
    x_request_id: 'rid-1',
    trace_id: TRACE,
    source_principal: 'spiffe://cluster.local/ns/default/sa/bookinfo-productpage',
  })
  t.type(first!.duration, 'number')
  t.ok((first!.bytes_sent as number) > 0)
})

t.test('access log off: no access-log line', async (t) => {
  const h = await start(t, { accessLog: false, tracing: null })
  const r = await h.request(`${h.vip(1)}:9080`, { path: '/x', host: 'reviews:9080' })
  t.equal(r.status, 200)
  await h.log.waitFor((x) => x.event === 'request_complete')
  t.same(
    h.log.filter((x) => x.event === 'access_log'),
    [],
  )
})

t.test("spans to a file: the request's trace, the caller's span as parent; sampling honours the flag", async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'ambient-zipkin-'))
  t.teardown(() => rm(dir, { recursive: true, force: true }))
  const file = join(dir, 'spans.jsonl')
  const sink = zipkinFileSink(file)
  // 0 % sampling: a trace this hop starts is not sampled; a caller's sampled flag still wins.
  const h = await start(t, { accessLog: false, tracing: { samplingPercent: 0 } }, sink, () => 0.5)
  const r = await h.request(`${h.vip(1)}:9080`, {
    path: '/reviews/1?x=1',
    host: 'reviews:9080',
    headers: { traceparent: `00-${TRACE}-${PARENT}-01` },
  })
  t.equal(r.status, 200)
  const seen = h.pods.get('reviews-v1')!.seen[0]!
  await h.request(`${h.vip(1)}:9080`, { path: '/unsampled', host: 'reviews:9080' })
  await h.request(`${h.vip(1)}:9080`, {
    path: '/unsampled-too',
    host: 'reviews:9080',
    headers: { traceparent: `00-${TRACE}-${PARENT}-00` },
  })
  t.match(h.pods.get('reviews-v1')!.seen[1]!.headers.traceparent, /-00$/, 'a new trace at 0 % is sent unsampled')
  await sink.close()
  const spans = (await readFile(file, 'utf8'))
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as ZipkinSpan)
  t.equal(spans.length, 1, 'only the sampled request')
  const s = spans[0]!
  const upstreamSpan = String(seen.headers.traceparent).split('-')[2]
  t.match(s, {
    traceId: TRACE,
    parentId: PARENT,
    id: upstreamSpan,
    kind: 'SERVER',
    localEndpoint: { serviceName: 'waypoint.default' },
    tags: { 'http.method': 'GET', 'http.status_code': '200', 'upstream_cluster.name': CL },
  })
  t.equal(seen.headers['x-b3-traceid'], TRACE)
  t.equal(seen.headers['x-b3-parentspanid'], PARENT)
  t.ok(s.timestamp > 1e15, 'timestamp in microseconds')
  t.ok(s.duration >= 1)
})

t.test("spans to an HTTP collector: POSTed batches of the request's trace", async (t) => {
  const received: ZipkinSpan[] = []
  const paths: string[] = []
  const collector = http.createServer((req, res) => {
    let body = ''
    req.on('data', (d: Buffer) => {
      body += d.toString()
    })
    req.on('end', () => {
      paths.push(`${req.method} ${req.url}`)
      received.push(...(JSON.parse(body) as ZipkinSpan[]))
      res.writeHead(202).end()
    })
  })
  await new Promise<void>((resolve) => collector.listen(0, '127.0.0.1', resolve))
  t.teardown(() => new Promise<void>((resolve) => collector.close(() => resolve())))
  const sink = zipkinHttpSink(`http://127.0.0.1:${(collector.address() as AddressInfo).port}/api/v2/spans`)
  const h = await start(t, { accessLog: false, tracing: { samplingPercent: 100 } }, sink)
  await h.request(`${h.vip(1)}:9080`, { path: '/a', host: 'reviews:9080' })
  await h.request(`${h.vip(1)}:9080`, { path: '/b', host: 'reviews:9080', headers: { traceparent: `00-${TRACE}-${PARENT}-01` } })
  await eventually(() => {
    if (received.length < 2) throw new Error(`${received.length} spans`)
    return true
  })
  t.ok(paths.every((p) => p === 'POST /api/v2/spans'))
  const seen = h.pods.get('reviews-v1')!.seen
  const fresh = received.find((s) => s.traceId !== TRACE)!
  t.equal(fresh.traceId, String(seen[0]!.headers.traceparent).split('-')[1], 'a new trace: the id sent upstream')
  t.notOk('parentId' in fresh, 'a root span')
  t.match(
    received.find((s) => s.traceId === TRACE),
    { parentId: PARENT, id: String(seen[1]!.headers.traceparent).split('-')[2] },
  )
  t.equal(sink.dropped, 0)
})

t.test('collector failures are dropped and counted; the queue is bounded', async (t) => {
  const sink = zipkinHttpSink('http://127.0.0.1:1/api/v2/spans', { maxQueue: 2, batchDelayMs: 1_000 })
  const span: ZipkinSpan = {
    traceId: TRACE,
    id: PARENT,
    name: 'x',
    kind: 'SERVER',
    timestamp: 1,
    duration: 1,
    localEndpoint: { serviceName: 'w' },
    tags: {},
  }
  sink.report(span)
  sink.report(span)
  sink.report(span)
  t.equal(sink.dropped, 1, 'overflow')
  await sink.close()
  t.equal(sink.dropped, 3, 'the failed batch too')
})
