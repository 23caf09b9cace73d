// HBONE tunnels end to end: app → outbound listener → pool → HBONE server → echo target.
import t from 'tap'
import http2 from 'node:http2'
import { randomBytes } from 'node:crypto'
import { once } from 'node:events'
import type net from 'node:net'
import { closeServer, connectTcp, createTcpServer, listen } from '../../../src/net/listen.js'
import { PIPE_MAX_BUFFERED_BYTES } from '../../../src/net/pipe.js'
import { acceptPiped } from '../../../src/hbone/server.js'
import { CLIENT_ID, SERVER_ID, freezableProxy, hboneFixture, readAll } from './harness.js'
import { eventually } from '../../helpers/eventually.js'
import { startEchoServer } from '../../helpers/echo-server.js'
import { parseBaggage, parseForwarded } from '../../../src/hbone/headers.js'
import { parseTraceparent } from '../../../src/observability/trace-context.js'

t.test('CONNECT round trip: identities, authority and headers reach the server', async (t) => {
  const f = await hboneFixture(t)
  const pool = f.pool()
  const tunnel = await pool.open(
    f.request({
      forwardedFor: { ip: '127.244.1.5', port: 40000 },
      host: 'echo.default.svc.cluster.local',
      baggage: { 'k8s.namespace.name': 'client', 'service.name': 'client', 'service.version': 'v1' },
    }),
  )
  t.ok(tunnel.peer.identity.equals(SERVER_ID), 'client saw the server identity')
  t.equal(tunnel.peer.serialNumber, f.serverCert.serialNumber)
  const reply = readAll(tunnel.stream)
  tunnel.stream.end('ping')
  const got = await reply
  t.equal(got.ending, 'end')
  t.equal(got.data.toString(), 'ping')

  const req = f.connects[0]!
  t.ok(req.peer.identity.equals(CLIENT_ID), 'server saw the client identity')
  t.equal(req.peer.serialNumber, f.clientCert.serialNumber)
  t.same(req.authority, { ip: '127.0.0.1', port: f.echo.port })
  t.same(parseForwarded(req.headers.forwarded as string), {
    for: { ip: '127.244.1.5', port: 40000 },
    host: 'echo.default.svc.cluster.local',
  })
  t.same(parseBaggage(req.headers.baggage as string), { 'k8s.namespace.name': 'client', 'service.name': 'client', 'service.version': 'v1' })
  t.ok(parseTraceparent(req.headers.traceparent as string))
  await eventually(() => f.serverFlows.length === 1)
  t.same(f.serverFlows[0], { bytesSent: 4, bytesReceived: 4 })
  await eventually(() => pool.stats().streams === 0 && f.server.stats().streams === 0)
})

t.test('several MiB of random data, byte-exact both ways, with half-close', async (t) => {
  const f = await hboneFixture(t)
  const pool = f.pool()
  const out = await f.outbound(pool)
  const app = await f.app(out.port)
  const payload = randomBytes(6 * 1024 * 1024 + 123)
  const reply = readAll(app)
  app.end(payload) // half-close: the echo still answers after our FIN
  const got = await reply
  t.equal(got.ending, 'end')
  t.equal(got.data.length, payload.length)
  t.ok(got.data.equals(payload), 'byte-exact')
  const client = await out.flows[0]!
  t.same(client, { bytesSent: payload.length, bytesReceived: payload.length })
  await eventually(() => f.serverFlows.length === 1)
  t.same(f.serverFlows[0], { bytesSent: payload.length, bytesReceived: payload.length })
  t.equal(f.echo.connections[0]!.ending, 'fin', 'the target got a clean FIN')
})

t.test('half-close from the target side: the app still sends after the server finished', async (t) => {
  const f = await hboneFixture(t)
  const pool = f.pool()
  const tunnel = await pool.open(f.request())
  await eventually(() => f.echo.connections.length === 1)
  const target = f.echo.connections[0]!.socket
  const reply = readAll(tunnel.stream)
  target.end('bye') // the target finishes first
  const first = await reply
  t.equal(first.ending, 'end')
  t.equal(first.data.toString(), 'bye')
  // The tunnel's other direction is still open.
  const gotAtTarget: Buffer[] = []
  target.on('data', (c: Buffer) => gotAtTarget.push(c))
  tunnel.stream.end('still here')
  await eventually(() => Buffer.concat(gotAtTarget).toString() === 'still here')
  await eventually(() => f.server.stats().streams === 0 && pool.stats().streams === 0)
})

t.test('an app reset arrives as a reset at the target, and a target reset as a reset at the app', async (t) => {
  const f = await hboneFixture(t)
  const pool = f.pool()
  const out = await f.outbound(pool)

  const app1 = await f.app(out.port)
  app1.write('hello')
  await eventually(() => f.echo.connections[0]?.bytes === 5)
  app1.resetAndDestroy()
  await eventually(() => f.echo.connections[0]!.ending === 'reset')
  t.equal((await out.flows[0]!).error?.code, 'PIPE_DOWNSTREAM_FAILED')
  await eventually(() => f.serverFlows.length === 1)
  t.equal(f.serverFlows[0]!.error?.code, 'PIPE_DOWNSTREAM_FAILED', 'the server saw the tunnel reset')

  const app2 = await f.app(out.port)
  const reply = readAll(app2)
  app2.write('hello')
  await eventually(() => f.echo.connections[1]?.bytes === 5)
  f.echo.connections[1]!.socket.resetAndDestroy()
  const got = await reply
  t.equal(got.ending, 'error', 'the app saw an error, not a clean end')
  t.equal((got.error as NodeJS.ErrnoException).code, 'ECONNRESET')
  t.equal((await out.flows[1]!).error?.code, 'PIPE_UPSTREAM_FAILED')

  await eventually(() => f.server.stats().streams === 0 && pool.stats().streams === 0)
  t.equal(pool.stats().connections, 1, 'resets cost streams, not the connection')
})

// When the HBONE connection goes away under a live tunnel, Node 20 ends the tunnel stream's readable
// side ('end', rstCode CANCEL, no error) before its 'close': the pipe must read that as a reset (the
// peer never sent END_STREAM, see src/net/end-stream.ts), never forward it as a FIN.
//
// A Node reader sees a reset only if nothing is arriving for it when the RST lands: libuv reports
// EOF on POLLHUP after a partial read, so a reader of a peer that resets mid-reply reads a clean end
// and no error (measured on Linux 6.18: 30 runs of 30, a plain TCP peer calling resetAndDestroy()
// while it streams). So nothing is in flight towards an end whose ending is checked: the first test
// resets after its round trip; the second sends to a target that neither answers nor ends (the
// app's bytes are in flight, and the server has sent no END_STREAM when its connection goes).
async function silentTarget(t: Parameters<typeof hboneFixture>[0]) {
  const target = await startEchoServer('127.0.0.1', { echo: false, endOnFin: false })
  t.teardown(() => target.close())
  return target
}

t.test('a peer that resets a live tunnel: both ends are reset, nothing leaks', async (t) => {
  const f = await hboneFixture(t)
  const pool = f.pool()
  const out = await f.outbound(pool)
  const app = await f.app(out.port)
  const reply = readAll(app)
  let echoed = 0
  app.on('data', (c: Buffer) => {
    echoed += c.length
  })
  // A round trip, then the server goes away under the open tunnel. Nothing is in flight towards the
  // app or the target then (either would read a reset as a clean end, see above).
  const chunk = randomBytes(256 * 1024)
  app.write(chunk)
  await eventually(() => echoed === chunk.length)
  await f.server.close()
  const got = await reply
  t.equal(got.ending, 'error', 'the app is reset, not ended')
  t.equal((await out.flows[0]!).error?.code, 'PIPE_UPSTREAM_FAILED', 'the client-side flow records the tunnel reset')
  await eventually(() => f.echo.connections[0]!.ending === 'reset')
  await eventually(() => pool.stats().connections === 0 && pool.stats().streams === 0)
  t.equal(f.server.stats().sessions, 0)
  t.equal(f.server.stats().streams, 0)
})

t.test('the connection goes away under a live tunnel (no RST_STREAM flushed): the app is reset, never ended', async (t) => {
  // Deterministic forms of "a peer that resets mid-transfer": the server's queued RST_STREAM may
  // never be flushed before its connection is gone; the client must still report a reset.
  const ways: Array<
    [
      string,
      (
        f: Awaited<ReturnType<typeof hboneFixture>>,
        proxy: Awaited<ReturnType<typeof freezableProxy>>,
        session: http2.ServerHttp2Session,
      ) => void,
    ]
  > = [
    ['the TCP connection is cut', (_f, proxy) => proxy.cut()],
    ['the server session is destroyed (GOAWAY, then the socket closes)', (_f, _p, session) => session.destroy()],
    [
      'the server session is destroyed with CANCEL',
      (_f, _p, session) => session.destroy(new Error('gone'), http2.constants.NGHTTP2_CANCEL),
    ],
  ]
  for (const [way, kill] of ways)
    for (const halfClosed of [false, true]) {
      const name = `${way}${halfClosed ? ', the app already half-closed' : ''}`
      const f = await hboneFixture(t)
      const target = await silentTarget(t)
      let session: http2.ServerHttp2Session | undefined
      const decide = f.decide
      f.decide = async (request) => {
        const outcome = await decide(request)
        if (outcome.kind !== 'accept') return outcome
        // The accepted stream is handed to serve(): its session is the one to kill.
        return {
          ...outcome,
          serve: (stream) => {
            session = stream.session as http2.ServerHttp2Session
            outcome.serve(stream)
          },
        }
      }
      const proxy = await freezableProxy(t, f.serverAddress.port)
      const pool = f.pool()
      const out = await f.outbound(pool, {
        destination: { host: '127.0.0.1', port: proxy.port },
        authority: { ip: '127.0.0.1', port: target.port },
      })
      const app = await f.app(out.port)
      const reply = readAll(app)
      app.write(randomBytes(4 * 1024 * 1024))
      if (halfClosed) {
        // The app's FIN reached the target: the client's END_STREAM went out, so Node closes the
        // tunnel stream without 'aborted', and its readable side ends with no error at all.
        app.end()
        await eventually(() => target.connections[0]?.ending === 'fin')
      } else await eventually(() => (target.connections[0]?.bytes ?? 0) > 0)
      kill(f, proxy, session!)
      const got = await reply
      t.equal(got.ending, 'error', `${name}: the app is reset, not ended`)
      const flow = await out.flows[0]!
      t.equal(flow.error?.code, 'PIPE_UPSTREAM_FAILED', `${name}: the client-side flow records the tunnel reset`)
    }
})

t.test('a slow target backs the tunnel up to the app, with bounded buffering in the proxies', async (t) => {
  const f = await hboneFixture(t)
  // The target reads nothing until told to.
  const received: Buffer[] = []
  let target: net.Socket | undefined
  const sink = createTcpServer((socket) => {
    target = socket
    socket.pause()
    socket.on('data', (c: Buffer) => received.push(c))
    socket.on('end', () => socket.end())
  })
  const sinkAddress = await listen(sink, { host: '127.0.0.1', port: 0 })
  t.teardown(() => closeServer(sink))
  let upstream: net.Socket | undefined
  let serverRead = 0
  f.decide = async () => {
    upstream = await connectTcp({ host: '127.0.0.1', port: sinkAddress.port })
    const piped = acceptPiped(upstream, (r) => f.serverFlows.push(r))
    return {
      ...piped,
      serve: (stream) => {
        stream.on('data', (c: Buffer) => {
          serverRead += c.length
        })
        piped.serve(stream)
      },
    }
  }
  const pool = f.pool()
  const out = await f.outbound(pool)
  const app = await f.app(out.port)
  let maxQueued = 0
  const sample = setInterval(() => {
    maxQueued = Math.max(maxQueued, upstream?.writableLength ?? 0)
  }, 1)
  t.teardown(() => clearInterval(sample))

  const payload = randomBytes(48 * 1024 * 1024)
  app.write(payload)
  // Everything stalls: the server's pipe holds its bound, the stream window fills, the client's
  // pipe holds its bound, and the rest stays in the app's socket.
  await eventually(() => (upstream?.writableLength ?? 0) >= PIPE_MAX_BUFFERED_BYTES)
  const stalledAt = serverRead
  await new Promise((resolve) => setTimeout(resolve, 300))
  t.equal(serverRead, stalledAt, 'the tunnel stopped moving data')
  t.ok(serverRead < payload.length / 2, `the server read ${serverRead} of ${payload.length} bytes (the rest backs up to the app)`)
  t.ok(maxQueued <= PIPE_MAX_BUFFERED_BYTES + 1024 * 1024, `the server queued at most its bound + one chunk (${maxQueued})`)

  app.end()
  target!.resume()
  await once(target!, 'end')
  t.ok(Buffer.concat(received).equals(payload), 'byte-exact once the target reads')
  const client = await out.flows[0]!
  t.same(client, { bytesSent: 0, bytesReceived: payload.length })
  t.ok(maxQueued <= PIPE_MAX_BUFFERED_BYTES + 1024 * 1024, `still bounded while draining (${maxQueued})`)
})
