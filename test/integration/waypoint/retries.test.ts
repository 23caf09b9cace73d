// The seed's retry warnings as behaviour: perTryTimeout bounds each try while the route timeout
// bounds all tries together; a retry goes to another endpoint; a burst against a failing endpoint
// does not turn into a retry storm (the retry budget refuses, and every refusal is counted).
import t from 'tap'
import type { HttpRoute } from '../../../src/mesh/waypoint-config.js'
import { eventually } from '../../helpers/eventually.js'
import { cluster, endpointOf, route, servicePort, startWaypointHarness } from '../../helpers/waypoint-harness.js'

const HOST = 'reviews.default.svc.cluster.local'
const CL = `outbound|9080||${HOST}`

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

function countOf(metrics: string, flags: string, code: number): number {
  const line = metrics
    .split('\n')
    .find((l) => l.startsWith('istio_requests_total{') && l.includes(`response_flags="${flags}"`) && l.includes(`response_code="${code}"`))
  return line === undefined ? 0 : Number(line.slice(line.lastIndexOf(' ') + 1))
}

t.test('perTryTimeout is per try; the route timeout bounds all tries together', { timeout: 20_000 }, async (t) => {
  const h = await startWaypointHarness(t, {
    pods: ['stuck'],
    config: ({ vip, pod }) => ({
      services: [
        svc(vip(1), [
          route(CL, HOST, 9080, {
            timeoutMs: 300,
            retries: { attempts: 5, perTryTimeoutMs: 100, retryOn: ['5xx'], retriableStatusCodes: [] },
          }),
        ]),
      ],
      workloads: [],
      authorization: [],
      clusters: [cluster(CL, HOST, 9080, [endpointOf(pod('stuck'))])],
    }),
  })
  // Never answers; records when each try arrives and when the waypoint gives it up.
  const events: string[] = []
  let n = 0
  h.pods.get('stuck')!.handler = (_req, res) => {
    const i = n++
    events.push(`try ${i}`)
    res.on('close', () => events.push(`cut ${i}`))
  }
  const started = performance.now()
  const r = await h.request(`${h.vip(1)}:9080`)
  const elapsed = performance.now() - started
  t.equal(r.status, 504)
  t.equal(r.body, 'upstream request timeout')
  // Timers never fire early: the answer cannot come before the route's 300 ms deadline.
  t.ok(elapsed >= 290, `ended after ${Math.round(elapsed)} ms, not before the 300 ms route timeout`)
  const tries = h.pods.get('stuck')!.seen.length
  t.ok(tries >= 2 && tries <= 4, `${tries} tries of 100 ms fit in 300 ms (each try was cut at its per-try timeout)`)
  t.ok(tries < 6, 'the route timeout ended the request before the 5 retries were used up')
  // Each try is cut before the next starts (per-try timeout, then retry), the last one at the route deadline.
  await eventually(() => events.length === 2 * tries)
  t.same(events, Array.from({ length: tries }, (_, i) => [`try ${i}`, `cut ${i}`]).flat(), 'try, cut, try, cut, …: one try at a time')
  t.equal(countOf(await h.metrics.render(), 'UT', 504), 1)
})

t.test('a retry goes to an endpoint this request has not tried', { timeout: 20_000 }, async (t) => {
  const h = await startWaypointHarness(t, {
    pods: ['bad', 'good'],
    config: ({ vip, pod }) => ({
      services: [
        svc(vip(1), [route(CL, HOST, 9080, { retries: { attempts: 1, perTryTimeoutMs: null, retryOn: [], retriableStatusCodes: [503] } })]),
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
  for (let i = 0; i < 10; i++) t.equal((await h.request(`${h.vip(1)}:9080`, { path: `/${i}` })).status, 200)
  t.equal(h.pods.get('good')!.seen.length, 10)
  t.ok(h.pods.get('bad')!.seen.length >= 4, 'round robin still sends first tries to the bad endpoint')
})

t.test(
  'no silent retry storm: a burst against a failing endpoint is bounded by the retry budget, refusals counted as UO',
  { timeout: 30_000 },
  async (t) => {
    const N = 20
    const h = await startWaypointHarness(t, {
      pods: ['failing'],
      // Backoff jitter fixed near its top (24 ms for a first retry), so a granted retry holds its
      // budget slot while the rest of the burst is decided.
      random: () => 0.99,
      config: ({ vip, pod }) => ({
        services: [
          svc(vip(1), [
            route(CL, HOST, 9080, { retries: { attempts: 2, perTryTimeoutMs: null, retryOn: ['5xx'], retriableStatusCodes: [] } }),
          ]),
        ],
        workloads: [],
        authorization: [],
        clusters: [cluster(CL, HOST, 9080, [endpointOf(pod('failing'))])],
      }),
    })
    // The first tries of the burst are held until all N arrived, then fail together; later ones fail at once.
    const held: (() => void)[] = []
    let released = false
    h.pods.get('failing')!.handler = (_req, res) => {
      const fail = (): void => {
        res.writeHead(503)
        res.end('unavailable')
      }
      if (released) return fail()
      held.push(fail)
      if (held.length === N) {
        released = true
        for (const f of held.splice(0)) f()
      }
    }
    const replies = await Promise.all(Array.from({ length: N }, (_, i) => h.request(`${h.vip(1)}:9080`, { path: `/${i}` })))
    t.same(new Set(replies.map((r) => r.status)), new Set([503]))
    const m = await h.metrics.render()
    const urx = countOf(m, 'URX', 503)
    const uo = countOf(m, 'UO', 503)
    t.equal(urx + uo, N, `every request ended visibly: ${urx} URX (retries used up), ${uo} UO (retry refused by the budget)`)
    t.ok(uo >= N / 2, `the budget (max(3, 20 % of ${N} active)) refused most retries of the burst: ${uo}`)
    const tries = h.pods.get('failing')!.seen.length
    t.ok(tries < N + 3 * 2 + N / 2, `${tries} tries for ${N} requests, not ${N * 3}`)
    await eventually(() => h.log.filter((r) => r.event === 'retry_refused').length === uo)
  },
)
