// The L7 pool's HTTP/1.1 codec on an HBONE tunnel's stream itself (no socket adapter between them):
// against an HBONE server whose tunnels the test answers byte for byte, what the codec's close means
// on the tunnel (END_STREAM, seen by the server as the peer's end, not a reset), a reset from the
// server failing the exchange as WAYPOINT_UPSTREAM_RESET (before the response, and mid-body), and a
// response body nobody reads pausing the tunnel (the server's writes stop, a bounded amount read).
import t, { type Test } from 'tap'
import http2 from 'node:http2'
import { randomInt } from 'node:crypto'
import { Writable } from 'node:stream'
import { errorCode } from '../../../src/errors.js'
import { createHbonePool } from '../../../src/hbone/pool.js'
import { createHboneServer } from '../../../src/hbone/server.js'
import { SpiffeId } from '../../../src/identity/spiffe-id.js'
import { peerEndedStream } from '../../../src/net/end-stream.js'
import { createLogger } from '../../../src/observability/logger.js'
import { createUpstreamConnections } from '../../../src/l7/upstream.js'
import type { UpstreamRequest, UpstreamResponse } from '../../../src/l7/upstream-exchange.js'
import { L7ErrorCode } from '../../../src/l7/errors.js'
import { createCircuitBreaker } from '../../../src/l7/engines/circuit-breaker.js'
import { endpoint, pool } from '../../helpers/waypoint-config.js'
import { createTestPki } from '../../helpers/pki.js'
import { eventually } from '../../helpers/eventually.js'
import { bodyOf, failure } from '../../helpers/upstream-response.js'
import { writeBounded, type BoundedWriter } from '../../helpers/bounded-writer.js'

const logger = createLogger({ component: 'test', level: 'warn', destination: new Writable({ write: (_c, _e, cb) => cb() }) })
const WAYPOINT = 'spiffe://cluster.local/ns/default/sa/waypoint'
const APP = 'spiffe://cluster.local/ns/default/sa/app'

/** A server-side tunnel: the request bytes it received so far, and its stream. */
interface Served {
  readonly stream: http2.ServerHttp2Stream
  received: string
}

/**
 * An HBONE server answering each tunnel with `onRequest` once a request head has arrived, and an
 * upstream pool (the waypoint's) sending to it over HBONE.
 */
async function setup(t: Test, onRequest: (s: Served) => void) {
  const pki = await createTestPki()
  t.teardown(() => pki.close())
  const ip = `127.${randomInt(100, 250)}.${randomInt(1, 250)}.${randomInt(1, 250)}`
  const served: Served[] = []
  const server = createHboneServer({
    certificate: await pki.issue(APP),
    host: ip,
    port: 0,
    logger,
    onConnect: () => ({
      kind: 'accept',
      serve: (stream) => {
        const s: Served = { stream, received: '' }
        served.push(s)
        stream.on('error', () => undefined)
        let answered = false
        stream.on('data', (d: Buffer) => {
          s.received += d.toString('latin1')
          if (!answered && s.received.includes('\r\n\r\n')) {
            answered = true
            onRequest(s)
          }
        })
      },
      cancel: () => undefined,
    }),
  })
  const address = await server.start()
  t.teardown(() => server.close())
  const hbone = createHbonePool({ certificates: [await pki.issue(WAYPOINT)], logger })
  t.teardown(() => hbone.close())
  const upstream = createUpstreamConnections({ hbone, source: () => SpiffeId.parse(WAYPOINT), logger, connectTimeoutMs: () => 5000 })
  t.teardown(() => upstream.close())
  const cluster = { name: 'outbound|80||app', breaker: createCircuitBreaker(pool()), idleTimeoutMs: null }
  const send = (request: Partial<UpstreamRequest> = {}): Promise<UpstreamResponse> =>
    upstream.send(
      cluster,
      endpoint('app', { address: ip, targetPort: 8080, hbonePort: address.port, identity: APP }),
      'http1',
      { method: 'GET', path: '/', authority: 'app', headers: {}, body: Buffer.alloc(0), ...request },
      new AbortController().signal,
    )
  return { served, send, upstream }
}

t.test('a connection the codec closes ends its tunnel with END_STREAM, not a reset', async (t) => {
  const { served, send, upstream } = await setup(t, (s) => {
    s.stream.write('HTTP/1.1 200 OK\r\nConnection: close\r\ncontent-length: 2\r\n\r\nok')
  })
  const r = await send({ path: '/close' })
  t.equal(r.status, 200)
  t.equal(await bodyOf(r), 'ok')
  const s = served[0]!
  // The waypoint's side closes after a Connection: close response; the server sees the peer's end.
  await eventually(() => s.stream.readableEnded || s.stream.destroyed)
  t.equal(peerEndedStream(s.stream), true, "the server's stream ended by END_STREAM")
  s.stream.end()
  await eventually(() => s.stream.closed)
  t.equal(s.stream.rstCode, http2.constants.NGHTTP2_NO_ERROR, 'and closed without an error code')
  await eventually(() => Object.keys(upstream.connections()).length === 0)
  t.pass('the pool dropped the connection at once, without waiting for the tunnel to close')
  t.match(s.received, /^GET \/close HTTP\/1\.1\r\n/)
})

t.test('a reset from the upstream fails the exchange in flight as WAYPOINT_UPSTREAM_RESET', async (t) => {
  const codes: Record<string, number> = {
    '/before-internal': http2.constants.NGHTTP2_INTERNAL_ERROR,
    '/before-cancel': http2.constants.NGHTTP2_CANCEL,
    '/mid-body': http2.constants.NGHTTP2_INTERNAL_ERROR,
  }
  const { send } = await setup(t, (s) => {
    const path = /^GET (\S+)/.exec(s.received)![1]!
    if (path === '/mid-body') s.stream.write('HTTP/1.1 200 OK\r\ncontent-length: 100\r\n\r\nabc')
    // After the bytes are out: a reset on its own (no END_STREAM first).
    setImmediate(() => s.stream.close(codes[path]))
  })
  for (const path of ['/before-internal', '/before-cancel']) {
    const err = await failure(send({ path }))
    t.equal(errorCode(err), L7ErrorCode.upstreamReset, `${path}: a reset before the response`)
  }
  const r = await send({ path: '/mid-body' })
  t.equal(r.status, 200)
  const err = await failure(bodyOf(r))
  t.ok(err instanceof Error, 'a reset mid-body errors the body: the response is not passed on as complete')
})

t.test('a response body nobody reads pauses its tunnel: the server can write only a bounded amount', async (t) => {
  const TOTAL = 48 * 1024 * 1024
  let writer: BoundedWriter | null = null
  const { send } = await setup(t, (s) => {
    s.stream.write(`HTTP/1.1 200 OK\r\ncontent-length: ${TOTAL}\r\n\r\n`)
    writer = writeBounded(s.stream, TOTAL)
  })
  const r = await send({ path: '/big' })
  t.equal(r.status, 200)
  const body = r.body
  body.pause()
  const w = await eventually(() => writer)
  // The server blocks on a full window (or, with no backpressure at all, writes everything).
  await eventually(w.stalled(), { intervalMs: 20, timeoutMs: 20_000 })
  t.notOk(w.finished, 'the server could not write the whole body')
  t.ok(w.written < TOTAL / 2, `written while nobody read: ${(w.written / 1024 / 1024).toFixed(1)} MiB of 48`)
  let read = 0
  body.on('data', (c: Buffer) => (read += c.length))
  body.resume()
  await new Promise<void>((resolve, reject) => {
    body.once('end', resolve)
    body.once('error', reject)
  })
  t.equal(read, TOTAL, 'read to its end once resumed')
})
