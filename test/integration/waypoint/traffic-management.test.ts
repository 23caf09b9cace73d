// Routing, retries, timeouts, faults, mirroring, circuit breaking and outlier detection through
// the waypoint.
import t from 'tap'
import { cluster, endpointOf, route, servicePort, startWaypointHarness } from '../../helpers/waypoint-harness.js'
import type { HttpRoute } from '../../../src/mesh/waypoint-config.js'
import { match, prefix } from '../../helpers/waypoint-config.js'

const HOST = 'reviews.default.svc.cluster.local'
const CL = `outbound|9080||${HOST}`
const NO_OPS = { request: { set: [], add: [], remove: [] }, response: { set: [], add: [], remove: [] } }

function svc(vip: string, routes: HttpRoute[]) {
  return {
    hostname: HOST,
    name: 'reviews',
    namespace: 'default',
    addresses: [vip],
    ports: [servicePort(9080, 'HTTP', routes, CL)],
    authorization: [],
  }
}

t.test('weighted 90/10 routing over 2 000 requests', async (t) => {
  const V1 = `outbound|9080|v1|${HOST}`
  const V2 = `outbound|9080|v2|${HOST}`
  const h = await startWaypointHarness(t, {
    pods: ['reviews-v1', 'reviews-v2'],
    config: ({ vip, pod }) => ({
      services: [
        svc(vip(1), [
          route(V1, HOST, 9080, {
            action: {
              kind: 'forward',
              destinations: [
                { cluster: V1, hostname: HOST, port: 9080, subset: 'v1', weight: 90, headers: NO_OPS },
                { cluster: V2, hostname: HOST, port: 9080, subset: 'v2', weight: 10, headers: NO_OPS },
              ],
            },
          }),
        ]),
      ],
      workloads: [],
      authorization: [],
      clusters: [
        cluster(V1, HOST, 9080, [endpointOf(pod('reviews-v1'))], {}, 'v1'),
        cluster(V2, HOST, 9080, [endpointOf(pod('reviews-v2'))], {}, 'v2'),
      ],
    }),
  })
  const N = 2000
  for (let i = 0; i < N; i += 50) {
    await Promise.all(Array.from({ length: 50 }, () => h.request(`${h.vip(1)}:9080`, { path: '/r' })))
  }
  const v2 = h.pods.get('reviews-v2')!.seen.length
  const v1 = h.pods.get('reviews-v1')!.seen.length
  t.equal(v1 + v2, N)
  // Binomial(2000, 0.1): sd ≈ 13.4; ±5 sd.
  t.ok(v2 > 133 && v2 < 267, `v2 got ${v2} of ${N}`)
})

t.test('retries recover from a failing endpoint; URX when they run out', async (t) => {
  const h = await startWaypointHarness(t, {
    pods: ['bad', 'good'],
    config: ({ vip, pod }) => ({
      services: [
        svc(vip(1), [
          route(CL, HOST, 9080, { retries: { attempts: 2, perTryTimeoutMs: null, retryOn: ['5xx'], retriableStatusCodes: [] } }),
        ]),
      ],
      workloads: [],
      authorization: [],
      clusters: [cluster(CL, HOST, 9080, [endpointOf(pod('bad')), endpointOf(pod('good'))])],
    }),
  })
  h.pods.get('bad')!.handler = (_req, res) => {
    res.writeHead(503)
    res.end('bad')
  }
  for (let i = 0; i < 6; i++) t.equal((await h.request(`${h.vip(1)}:9080`)).status, 200, `request ${i} recovered`)
  h.pods.get('good')!.handler = (_req, res) => {
    res.writeHead(503)
    res.end('bad too')
  }
  const r = await h.request(`${h.vip(1)}:9080`)
  t.equal(r.status, 503)
  t.match(await h.metrics.render(), /response_flags="URX"[^}]*response_code="503"/)
})

t.test('route timeout → 504 UT', async (t) => {
  const h = await startWaypointHarness(t, {
    pods: ['slow'],
    config: ({ vip, pod }) => ({
      services: [svc(vip(1), [route(CL, HOST, 9080, { timeoutMs: 100 })])],
      workloads: [],
      authorization: [],
      clusters: [cluster(CL, HOST, 9080, [endpointOf(pod('slow'))])],
    }),
  })
  h.pods.get('slow')!.handler = () => undefined
  const r = await h.request(`${h.vip(1)}:9080`)
  t.equal(r.status, 504)
  t.equal(r.body, 'upstream request timeout')
  t.match(await h.metrics.render(), /response_flags="UT"[^}]*response_code="504"/)
})

t.test('fault injection: abort (FI) and delay (DI)', async (t) => {
  const h = await startWaypointHarness(t, {
    pods: ['ratings'],
    config: ({ vip, pod }) => ({
      services: [
        svc(vip(1), [
          route(CL, HOST, 9080, {
            name: 'abort',
            matches: [match({ path: prefix('/abort') })],
            fault: { delay: null, abort: { httpStatus: 418, grpcStatus: null, percentage: 100 } },
          }),
          route(CL, HOST, 9080, { name: 'delay', fault: { delay: { fixedDelayMs: 50, percentage: 100 }, abort: null } }),
        ]),
      ],
      workloads: [],
      authorization: [],
      clusters: [cluster(CL, HOST, 9080, [endpointOf(pod('ratings'))])],
    }),
  })
  const a = await h.request(`${h.vip(1)}:9080`, { path: '/abort' })
  t.equal(a.status, 418)
  t.equal(h.pods.get('ratings')!.seen.length, 0)
  const started = Date.now()
  const d = await h.request(`${h.vip(1)}:9080`, { path: '/x' })
  t.equal(d.status, 200)
  t.ok(Date.now() - started >= 45, 'delayed')
  const m = await h.metrics.render()
  t.match(m, /response_flags="FI"[^}]*response_code="418"/)
  t.match(m, /response_flags="DI"[^}]*response_code="200"/)
})

t.test('mirror gets a copy with a -shadow host; a dead mirror does not affect the primary', async (t) => {
  const V2 = `outbound|9080|v2|${HOST}`
  const DEAD = `outbound|9080|dead|${HOST}`
  const mirrorTo = (clusterName: string) => [{ cluster: clusterName, hostname: HOST, port: 9080, subset: 'v2', percentage: 100 }]
  const h = await startWaypointHarness(t, {
    pods: ['v1', 'v2'],
    config: ({ vip, pod }) => ({
      services: [
        svc(vip(1), [route(CL, HOST, 9080, { mirrors: mirrorTo(V2) })]),
        { ...svc(vip(2), [route(CL, HOST, 9080, { mirrors: mirrorTo(DEAD) })]), hostname: 'other' },
      ],
      workloads: [],
      authorization: [],
      clusters: [
        cluster(CL, HOST, 9080, [endpointOf(pod('v1'))]),
        cluster(V2, HOST, 9080, [endpointOf(pod('v2'))]),
        cluster(DEAD, HOST, 9080, [endpointOf(pod('v2'), { uid: 'dead', address: '127.0.0.2', targetPort: 1 })]),
      ],
    }),
  })
  const r = await h.request(`${h.vip(1)}:9080`, { host: 'reviews:9080', path: '/m' })
  t.equal(r.status, 200)
  t.equal(JSON.parse(r.body).pod, 'v1')
  const { eventually } = await import('../../helpers/eventually.js')
  await eventually(() => h.pods.get('v2')!.seen.length === 1)
  t.equal(h.pods.get('v2')!.seen[0]!.headers.host, 'reviews-shadow:9080')
  const d = await h.request(`${h.vip(2)}:9080`, { path: '/m2' })
  t.equal(d.status, 200, 'primary unaffected by a dead mirror')
})

t.test('outlier detection ejects a 5xx-ing endpoint', async (t) => {
  // (Circuit breaking has its own tests: circuit-breaking.test.ts.)
  const h = await startWaypointHarness(t, {
    pods: ['bad', 'good'],
    config: ({ vip, pod }) => ({
      services: [{ ...svc(vip(2), [route(CL, HOST, 9080)]), hostname: 'od' }],
      workloads: [],
      authorization: [],
      clusters: [
        cluster(CL, HOST, 9080, [endpointOf(pod('bad')), endpointOf(pod('good'))], {
          outlierDetection: {
            consecutive5xxErrors: 2,
            consecutiveGatewayErrors: 0,
            intervalMs: 10_000,
            baseEjectionTimeMs: 60_000,
            maxEjectionPercent: 50,
          },
        }),
      ],
    }),
  })
  h.pods.get('bad')!.handler = (_req, res) => {
    res.writeHead(500)
    res.end('bad')
  }
  const statuses: number[] = []
  for (let i = 0; i < 12; i++) statuses.push((await h.request(`${h.vip(2)}:9080`)).status)
  t.equal(statuses.filter((s) => s === 500).length, 2, `bad endpoint ejected after 2 consecutive 5xx: ${statuses.join(',')}`)
  t.same(statuses.slice(-6), [200, 200, 200, 200, 200, 200])
})
