// A client that goes away cancels its request upstream (Envoy: a downstream reset resets the
// upstream request, makes no further retry, and records the request with the DC flag). Real sockets
// through the whole path (source HBONE → waypoint → HBONE → app): the client resets its tunnel's
// stream while the app holds the request (the app sees its connection, or its HTTP/2 stream, closed),
// or while the waypoint waits out a retry's backoff (the app sees no further try). Each request is
// counted once, 0 DC (as Envoy: no response), as a client reset while the body is read.
import t from 'tap'
import type { Test } from 'tap'
import http2 from 'node:http2'
import type { ClientHttp2Stream } from 'node:http2'
import type { HttpRoute } from '../../../src/mesh/waypoint-config.js'
import { StreamSocket } from '../../../src/l7/stream-socket.js'
import { eventually } from '../../helpers/eventually.js'
import { cluster, endpointOf, route, servicePort, startWaypointHarness, type WaypointHarness } from '../../helpers/waypoint-harness.js'

const HOST = 'reviews.default.svc.cluster.local'
const CL = `outbound|9080||${HOST}`

function harness(t: Test, protocol: 'HTTP' | 'HTTP2', routeExtra: Partial<HttpRoute> = {}): Promise<WaypointHarness> {
  return startWaypointHarness(t, {
    pods: ['reviews-v1'],
    // Backoff jitter near its top: a fourth retry waits 250 ms, the window the client goes away in.
    random: () => 0.99,
    config: ({ vip, pod }) => {
      const svc = {
        hostname: HOST,
        name: 'reviews',
        namespace: 'default',
        addresses: [vip(1)],
        ports: [servicePort(9080, protocol, [route(CL, HOST, 9080, routeExtra)], CL)],
        authorization: [],
      }
      // The pod's HTTP/2 app listens one port above its HTTP/1.1 app.
      const app = pod('reviews-v1')
      return {
        services: [svc],
        workloads: [],
        authorization: [],
        clusters: [cluster(CL, HOST, 9080, [endpointOf(app, protocol === 'HTTP2' ? { targetPort: app.appPort + 1 } : {})])],
      }
    },
  })
}

/** The waypoint's istio_requests_total series: labels (response_code, response_flags) → count. */
async function requestCounts(h: WaypointHarness): Promise<{ total: number; series: string[] }> {
  const series = (await h.metrics.render()).split('\n').filter((l) => l.startsWith('istio_requests_total{'))
  let total = 0
  for (const l of series) total += Number(l.slice(l.lastIndexOf(' ') + 1))
  const codes = series.map((l) => `${/response_code="(\d+)"/.exec(l)?.[1]} ${/response_flags="([^"]*)"/.exec(l)?.[1]}`)
  return { total, series: codes }
}

/** A tunnel carrying one HTTP/1.1 request whose client then goes away. */
async function http1Client(t: Test, h: WaypointHarness, path: string): Promise<{ reset(): void }> {
  const tunnel = await h.tunnel(`${h.vip(1)}:9080`)
  const stream: ClientHttp2Stream = tunnel.stream
  stream.on('error', () => undefined)
  t.teardown(() => {
    if (!stream.destroyed) stream.close()
  })
  stream.write(`GET ${path} HTTP/1.1\r\nHost: reviews:9080\r\n\r\n`)
  return { reset: () => stream.close(http2.constants.NGHTTP2_CANCEL) }
}

t.test('a client reset while the app holds its request closes the upstream connection; counted once, 0 DC', async (t) => {
  const h = await harness(t, 'HTTP')
  let held = 0
  let closed = 0
  h.pods.get('reviews-v1')!.handler = (req, res) => {
    held++
    // Never answered: only the waypoint can end this exchange.
    res.on('close', () => closed++)
    req.resume()
  }
  const c = await http1Client(t, h, '/hold')
  await eventually(() => held === 1)
  c.reset()
  await eventually(() => closed === 1, { timeoutMs: 3_000 })
  t.pass('the app saw its upstream connection closed')
  const counts = await eventually(async () => {
    const r = await requestCounts(h)
    return r.total > 0 ? r : null
  })
  t.same(counts, { total: 1, series: ['0 DC'] }, 'one record, 0 DC')
  // The next request on the same cluster is served (the reset connection was not pooled).
  h.pods.get('reviews-v1')!.handler = (_req, res) => res.end('ok')
  const r = await h.request(`${h.vip(1)}:9080`, { path: '/after', method: 'GET' })
  t.equal(r.status, 200)
  t.equal(r.body, 'ok')
})

t.test('an HTTP/2 client reset while the HTTP/2 app holds its request resets the upstream stream', async (t) => {
  const h = await harness(t, 'HTTP2')
  const pod = h.pods.get('reviews-v1')!
  let open: () => void = () => undefined
  pod.h2Gate = new Promise<void>((resolve) => (open = resolve))
  t.teardown(() => open())
  const tunnel = await h.tunnel(`${h.vip(1)}:9080`)
  const session = http2.connect('http://waypoint', { createConnection: () => new StreamSocket(tunnel.stream) as never })
  session.on('error', () => undefined)
  t.teardown(() => session.destroy())
  const s = session.request({ ':method': 'POST', ':path': '/hold', ':authority': `${h.vip(1)}:9080` })
  s.on('error', () => undefined)
  s.end('x')
  await eventually(() => pod.h2Held === 1)
  s.close(http2.constants.NGHTTP2_CANCEL)
  await eventually(() => pod.h2Reset === 1, { timeoutMs: 3_000 })
  t.pass("the app's stream was reset before it answered")
  const counts = await eventually(async () => {
    const r = await requestCounts(h)
    return r.total > 0 ? r : null
  })
  t.same(counts, { total: 1, series: ['0 DC'] }, 'one record, 0 DC')
})

t.test('a client gone during a retry backoff: no further try, counted once, 0 DC', async (t) => {
  const h = await harness(t, 'HTTP', { retries: { attempts: 8, perTryTimeoutMs: null, retryOn: ['5xx'], retriableStatusCodes: [] } })
  let hits = 0
  h.pods.get('reviews-v1')!.handler = (req, res) => {
    hits++
    req.resume()
    res.writeHead(503)
    res.end('unavailable')
  }
  const retries = (): number => h.log.records.filter((r) => r.event === 'retry').length
  const c = await http1Client(t, h, '/flaky')
  // After the fourth try the waypoint waits 250 ms before the next: the client leaves then.
  await eventually(() => retries() === 4)
  t.equal(hits, 4)
  c.reset()
  const counts = await eventually(async () => {
    const r = await requestCounts(h)
    return r.total > 0 ? r : null
  })
  t.same(counts, { total: 1, series: ['0 DC'] }, 'one record, 0 DC (not 503 URX after the remaining tries)')
  // The request was answered: no try can follow. The count stays (checked over two more backoffs).
  const until = Date.now() + 600
  await eventually(() => Date.now() >= until || hits !== 4, { timeoutMs: 2_000 })
  t.equal(hits, 4, 'the app saw no try after the client left')
  t.equal(retries(), 4)
})
