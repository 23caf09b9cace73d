// Circuit breaking through the waypoint's upstream pool (engines/circuit-breaker driving the
// pool's pending queue): maxConnections + http1MaxPendingRequests, http2MaxRequests on h2, and
// maxRequestsPerConnection rotating connections. Requests are held at the app by the test (no sleeps).
import t from 'tap'
import type { UpstreamCluster } from '../../../src/mesh/waypoint-config.js'
import { eventually } from '../../helpers/eventually.js'
import { cluster, endpointOf, route, servicePort, startWaypointHarness } from '../../helpers/waypoint-harness.js'

const HOST = 'reviews.default.svc.cluster.local'
const CL = `outbound|9080||${HOST}`
type Pool = UpstreamCluster['trafficPolicy']['connectionPool']
const pool = (p: Partial<Pool>) => ({ connectionPool: { ...cluster('x', HOST, 1, []).trafficPolicy.connectionPool, ...p } })

function svc(vip: string, protocol: 'HTTP' | 'HTTP2' = 'HTTP') {
  return {
    hostname: HOST,
    name: 'reviews',
    namespace: 'default',
    addresses: [vip],
    ports: [servicePort(9080, protocol, [route(CL, HOST, 9080)], CL)],
    authorization: [],
  }
}

function countOf(metrics: string, flags: string, code: number): number {
  const line = metrics
    .split('\n')
    .find((l) => l.startsWith('istio_requests_total{') && l.includes(`response_flags="${flags}"`) && l.includes(`response_code="${code}"`))
  return line === undefined ? 0 : Number(line.slice(line.lastIndexOf(' ') + 1))
}

t.test('maxConnections 1 + http1MaxPendingRequests 1: one in flight, one queued, the third gets 503 UO', { timeout: 20_000 }, async (t) => {
  const h = await startWaypointHarness(t, {
    pods: ['slow'],
    config: ({ vip, pod }) => ({
      services: [svc(vip(1))],
      workloads: [],
      authorization: [],
      clusters: [cluster(CL, HOST, 9080, [endpointOf(pod('slow'))], pool({ maxConnections: 1, http1MaxPendingRequests: 1 }))],
    }),
  })
  const held: (() => void)[] = []
  h.pods.get('slow')!.handler = (req, res) => {
    held.push(() => {
      res.writeHead(200, { 'content-type': 'text/plain' })
      res.end(`done ${req.url}`)
    })
  }
  const target = `${h.vip(1)}:9080`
  const queued = () => h.log.filter((r) => r.event === 'upstream_pending').length
  const r1 = h.request(target, { path: '/1' })
  await eventually(() => held.length === 1)
  const r2 = h.request(target, { path: '/2' })
  await eventually(() => queued() === 2) // r1 waited for the connection to open; r2 waits for it to free up
  const r3 = await h.request(target, { path: '/3' })
  t.equal(r3.status, 503)
  t.match(r3.body, /reset reason: overflow/)
  t.equal(held.length, 1, 'the queued request has not reached the app')
  held.shift()!()
  t.equal((await r1).body, 'done /1')
  await eventually(() => held.length === 1)
  t.equal(h.pods.get('slow')!.seen.at(-1)!.url, '/2', 'the queued request got the freed connection')
  held.shift()!()
  t.equal((await r2).body, 'done /2')
  t.equal(h.pods.get('slow')!.tunnels.length, 1, 'never more than maxConnections upstream')
  const m = await h.metrics.render()
  t.equal(countOf(m, 'UO', 503), 1, 'the overflow is in istio_requests_total')
  t.equal(countOf(m, '-', 200), 2)
  await h.log.waitFor(
    (r) => r.event === 'request_complete' && r.response_flags === 'UO' && /http1MaxPendingRequests/.test(String(r.reason)),
  )
})

t.test('a queued request whose deadline passes leaves the queue (504 UT) and frees its pending slot', { timeout: 20_000 }, async (t) => {
  const h = await startWaypointHarness(t, {
    pods: ['slow'],
    config: ({ vip, pod }) => ({
      services: [svc(vip(1))].map((s) => ({ ...s, ports: [servicePort(9080, 'HTTP', [route(CL, HOST, 9080, { timeoutMs: 150 })], CL)] })),
      workloads: [],
      authorization: [],
      clusters: [cluster(CL, HOST, 9080, [endpointOf(pod('slow'))], pool({ maxConnections: 1, http1MaxPendingRequests: 1 }))],
    }),
  })
  const held: (() => void)[] = []
  h.pods.get('slow')!.handler = (_req, res) => {
    held.push(() => res.end('late'))
  }
  const target = `${h.vip(1)}:9080`
  const r1 = h.request(target, { path: '/1' })
  await eventually(() => held.length === 1)
  const r2 = await h.request(target, { path: '/2' })
  t.equal(r2.status, 504, 'timed out while queued')
  t.equal((await r1).status, 504)
  held.shift()!()
  // The pending slot and the connection were given back: a new request goes through.
  h.pods.get('slow')!.handler = (_req, res) => res.end('ok')
  t.equal((await h.request(target, { path: '/3' })).body, 'ok')
})

t.test('h2: http2MaxRequests 1 refuses the second concurrent stream with 503 UO', { timeout: 20_000 }, async (t) => {
  const h = await startWaypointHarness(t, {
    pods: ['grpc'],
    config: ({ vip, pod }) => ({
      services: [svc(vip(1), 'HTTP2')],
      workloads: [],
      authorization: [],
      clusters: [
        cluster(CL, HOST, 9080, [endpointOf(pod('grpc'), { targetPort: pod('grpc').appPort + 1 })], pool({ http2MaxRequests: 1 })),
      ],
    }),
  })
  const pod = h.pods.get('grpc')!
  let release!: () => void
  pod.h2Gate = new Promise<void>((resolve) => {
    release = resolve
  })
  const target = `${h.vip(1)}:9080`
  const r1 = h.request2(target, { body: 'one' })
  await eventually(() => pod.h2Held === 1)
  const r2 = await h.request2(target, { body: 'two' })
  t.equal(r2.status, 503)
  t.match(r2.body, /overflow/)
  release()
  const first = await r1
  t.equal(first.status, 200)
  t.equal(first.body, 'h2 grpc one')
  pod.h2Gate = null
  t.equal((await h.request2(target, { body: 'three' })).status, 200, 'the slot is free again')
  t.equal(countOf(await h.metrics.render(), 'UO', 503), 1)
})

t.test('maxRequestsPerConnection closes a connection after its quota; the next request opens a new one', { timeout: 20_000 }, async (t) => {
  const ROT = `outbound|9080|rot|${HOST}`
  const h = await startWaypointHarness(t, {
    pods: ['reused', 'rotated'],
    config: ({ vip, pod }) => ({
      services: [svc(vip(1)), { ...svc(vip(2)), hostname: 'rot', ports: [servicePort(9080, 'HTTP', [route(ROT, HOST, 9080)], ROT)] }],
      workloads: [],
      authorization: [],
      clusters: [
        cluster(CL, HOST, 9080, [endpointOf(pod('reused'))]),
        cluster(ROT, HOST, 9080, [endpointOf(pod('rotated'))], pool({ maxRequestsPerConnection: 2 })),
      ],
    }),
  })
  for (let i = 0; i < 4; i++) t.equal((await h.request(`${h.vip(1)}:9080`)).status, 200)
  for (let i = 0; i < 4; i++) t.equal((await h.request(`${h.vip(2)}:9080`)).status, 200)
  t.equal(h.pods.get('reused')!.tunnels.length, 1, 'unlimited: one keep-alive connection carries all four')
  t.equal(h.pods.get('rotated')!.tunnels.length, 2, 'two requests per connection: four requests, two connections')
  await eventually(
    () => h.log.filter((r) => r.event === 'upstream_connection_closed' && r.reason === 'maxRequestsPerConnection reached').length === 2,
  )
})
