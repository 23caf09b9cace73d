// HTTP/1.1 upstream connections of the L7 pool (src/l7/upstream.ts) are reused request after request
// on our HTTP/1.1 codec (src/l7/http1-upstream.ts): one connection carries sequential requests, each
// response hands it back once, and no listener piles up on the socket per request. A server that
// answers `Connection: close` gets a fresh connection for the next request.
import t, { type Test } from 'tap'
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import type { Duplex } from 'node:stream'
import { Writable } from 'node:stream'
import { connectTcp } from '../../../src/net/listen.js'
import { createLogger } from '../../../src/observability/logger.js'
import { SpiffeId } from '../../../src/identity/spiffe-id.js'
import { createUpstreamConnections } from '../../../src/l7/upstream.js'
import type { UpstreamResponse } from '../../../src/l7/upstream-exchange.js'
import type { PoolCluster } from '../../../src/l7/upstream-pool.js'
import { createCircuitBreaker } from '../../../src/l7/engines/circuit-breaker.js'
import type { Endpoint } from '../../../src/mesh/waypoint-config.js'
import { pool } from '../../helpers/waypoint-config.js'

const logger = createLogger({ component: 'test', level: 'warn', destination: new Writable({ write: (_c, _e, cb) => cb() }) })

async function server(t: Test, close: boolean): Promise<{ port: number; connections: () => number; requests: string[] }> {
  let connections = 0
  const requests: string[] = []
  const s = http.createServer((req, res) => {
    const chunks: Buffer[] = []
    req.on('data', (c: Buffer) => chunks.push(c))
    req.on('end', () => {
      requests.push(`${req.method} ${req.url} ${req.headers.host} ${Buffer.concat(chunks).toString()}`)
      const body = `answer ${requests.length}`
      res.writeHead(200, { 'content-length': String(body.length), ...(close ? { connection: 'close' } : {}) })
      res.end(body)
    })
  })
  s.on('connection', () => connections++)
  await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve))
  t.teardown(() => new Promise<void>((resolve) => s.close(() => resolve())))
  return { port: (s.address() as AddressInfo).port, connections: () => connections, requests }
}

function endpoint(port: number): Endpoint {
  return {
    uid: 'ep-1',
    name: 'app',
    namespace: 'default',
    address: '127.0.0.1',
    targetPort: port,
    identity: 'spiffe://cluster.local/ns/default/sa/app',
    hbonePort: 15008,
    tunnelProtocol: 'NONE',
    healthy: true,
    weight: 1,
    node: 'node-1',
  }
}

function bodyOf(r: UpstreamResponse): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = []
    r.body.on('data', (c: Buffer) => chunks.push(c))
    r.body.on('end', () => resolve(Buffer.concat(chunks).toString()))
    r.body.on('error', reject)
  })
}

/** A GET without a body on the pool, never aborted. */
function get(
  upstream: ReturnType<typeof createUpstreamConnections>,
  cluster: PoolCluster,
  ep: Endpoint,
  path: string,
): Promise<UpstreamResponse> {
  return upstream.send(
    cluster,
    ep,
    'http1',
    { method: 'GET', path, authority: 'app', headers: {}, body: Buffer.alloc(0) },
    new AbortController().signal,
  )
}

function setup(t: Test): { transports: Duplex[]; upstream: ReturnType<typeof createUpstreamConnections>; cluster: PoolCluster } {
  const transports: Duplex[] = []
  const upstream = createUpstreamConnections({
    openTransport: async (ep) => {
      const s = await connectTcp({ host: ep.address, port: ep.targetPort, connectTimeoutMs: 5000 })
      transports.push(s)
      return s
    },
    source: () => SpiffeId.parse('spiffe://cluster.local/ns/default/sa/waypoint'),
    logger,
    connectTimeoutMs: () => 5000,
  })
  t.teardown(() => upstream.close())
  return { transports, upstream, cluster: { name: 'outbound|80||app', breaker: createCircuitBreaker(pool()), idleTimeoutMs: null } }
}

t.test('sequential HTTP/1.1 requests share one kept-alive connection; nothing piles up per request', async (t) => {
  const warnings: Error[] = []
  const onWarning = (w: Error): void => void warnings.push(w)
  process.on('warning', onWarning)
  t.teardown(() => process.off('warning', onWarning))
  const app = await server(t, false)
  const { transports, upstream, cluster } = setup(t)
  const ep = endpoint(app.port)
  const listenerCounts: number[] = []
  const N = 30
  for (let i = 0; i < N; i++) {
    const method = i % 3 === 0 ? 'POST' : 'GET'
    const request = {
      method,
      path: `/r/${i}`,
      authority: 'app.default:80',
      headers: { 'x-n': String(i) },
      body: Buffer.from(method === 'POST' ? `b${i}` : ''),
    }
    const r = await upstream.send(cluster, ep, 'http1', request, new AbortController().signal)
    t.equal(r.status, 200)
    t.equal(await bodyOf(r), `answer ${i + 1}`)
    t.equal(r.headers.connection, undefined, 'hop-by-hop headers are not passed on')
    // The connection is handed back after the response: wait until the pool can take the next one.
    await new Promise((resolve) => setImmediate(resolve))
    listenerCounts.push(
      transports[0]!.listenerCount('error') + transports[0]!.listenerCount('free') + transports[0]!.listenerCount('close'),
    )
  }
  t.equal(app.connections(), 1, 'one upstream connection for every request')
  t.equal(transports.length, 1)
  t.same(upstream.connections(), { [`outbound|80||app|127.0.0.1:${app.port}|spiffe://cluster.local/ns/default/sa/app|NONE|http1`]: 1 })
  t.equal(app.requests[0], `POST /r/0 app.default:80 b0`)
  t.equal(app.requests[1], `GET /r/1 app.default:80 `)
  t.equal(
    Math.max(...listenerCounts),
    listenerCounts[0],
    `listeners on the socket stay at ${listenerCounts[0]} (${listenerCounts.join(',')})`,
  )
  t.same(
    warnings.map((w) => w.name),
    [],
    'no MaxListenersExceededWarning',
  )
})

t.test('a server answering Connection: close gets a new connection for the next request', async (t) => {
  const app = await server(t, true)
  const { upstream, cluster } = setup(t)
  const ep = endpoint(app.port)
  for (let i = 0; i < 4; i++) {
    const r = await get(upstream, cluster, ep, `/c/${i}`)
    t.equal(r.status, 200)
    t.equal(await bodyOf(r), `answer ${i + 1}`)
  }
  t.equal(app.connections(), 4)
})

t.test('concurrent requests under the default pool: none waits for another (one connection each), per cluster its own pool', async (t) => {
  // An app that answers nothing until N requests are held at once: a pool that capped connections
  // or queued behind a busy one would never get there (the hang guard below fails the test).
  const N = 8
  const held: http.ServerResponse[] = []
  let connections = 0
  const s = http.createServer((req, res) => {
    req.resume()
    held.push(res)
    if (held.length % N === 0) for (const r of held.splice(0)) r.end('ok')
  })
  s.on('connection', () => connections++)
  await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve))
  t.teardown(() => new Promise<void>((resolve) => s.close(() => resolve())))
  const { upstream, cluster } = setup(t)
  const ep = endpoint((s.address() as AddressInfo).port)
  const other: PoolCluster = { ...cluster, name: 'outbound|80|v2|app' }
  const send = (c: PoolCluster, i: number) =>
    upstream
      .send(
        c,
        ep,
        'http1',
        { method: 'GET', path: `/c/${i}`, authority: 'app:80', headers: {}, body: Buffer.alloc(0) },
        AbortSignal.timeout(10_000),
      )
      .then(bodyOf)
  const bodies = await Promise.all(Array.from({ length: N }, (_, i) => send(i % 2 === 0 ? cluster : other, i)))
  t.same(bodies, Array(N).fill('ok'), `${N} requests held at the app at once, all answered`)
  t.equal(connections, N, 'one connection per request in flight')
  t.same(Object.values(upstream.connections()), [N / 2, N / 2], 'two clusters, two pools of their own')
  t.ok(
    Object.keys(upstream.connections()).every((k) => k.endsWith(`|127.0.0.1:${ep.targetPort}|${ep.identity}|NONE|http1`)),
    'keyed by cluster, endpoint and version',
  )
})

t.test('idleTimeout closes a connection a whole period after its last response, however many requests it carried', async (t) => {
  const app = await server(t, false)
  const { upstream, cluster } = setup(t)
  const idleMs = 200
  const idleCluster: PoolCluster = { ...cluster, idleTimeoutMs: idleMs }
  const ep = endpoint(app.port)
  // Back to back for well over two periods: the connection is idle for moments only, each shorter
  // than the period, so it must carry them all (a timer that closed it a period after it first
  // went idle would open a second one).
  const started = Date.now()
  let requests = 0
  let lastDone = 0
  while (Date.now() - started < 2.5 * idleMs && requests < 5000) {
    const r = await get(upstream, idleCluster, ep, `/i/${requests}`)
    t.equal(r.status, 200)
    await bodyOf(r)
    lastDone = Date.now()
    requests++
    await new Promise((resolve) => setImmediate(resolve))
  }
  t.ok(Date.now() - started >= 2.5 * idleMs, `the loop ran ${Date.now() - started} ms (${requests} requests)`)
  t.equal(app.connections(), 1, `one connection for ${requests} requests over ${Date.now() - started} ms`)
  // Then idle: closed once a whole period has passed since the last response, not before.
  const deadline = Date.now() + 10 * idleMs
  while (Object.keys(upstream.connections()).length > 0 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 5))
  const closedAfter = Date.now() - lastDone
  t.same(upstream.connections(), {}, 'the idle connection is closed')
  t.ok(closedAfter >= idleMs - 10, `closed ${closedAfter} ms after the last response (idleTimeout ${idleMs} ms)`)
})
