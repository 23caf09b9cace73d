// The L7 pool's HTTP/1.1 exchanges on our codec (src/l7/http1-upstream.ts) against an app that writes
// its responses byte for byte on a real socket: each framing (Content-Length, chunked with trailers,
// HEAD, to the connection's end, after 100 Continue), what keeps a connection and what closes it,
// and each failure as the engine sees it (WAYPOINT_UPSTREAM_RESET with the codec's code as cause,
// the abort's reason).
import t, { type Test } from 'tap'
import net from 'node:net'
import type { AddressInfo } from 'node:net'
import { Writable } from 'node:stream'
import { errorCode, isAmbientError } from '../../../src/errors.js'
import { connectTcp } from '../../../src/net/listen.js'
import { createLogger } from '../../../src/observability/logger.js'
import { SpiffeId } from '../../../src/identity/spiffe-id.js'
import { createUpstreamConnections } from '../../../src/l7/upstream.js'
import type { UpstreamRequest, UpstreamResponse } from '../../../src/l7/upstream-exchange.js'
import { Http1ErrorCode } from '../../../src/l7/http1-codec.js'
import { L7ErrorCode } from '../../../src/l7/errors.js'
import { createCircuitBreaker } from '../../../src/l7/engines/circuit-breaker.js'
import { TryTimers, type TryCancel } from '../../../src/l7/try-signal.js'
import type { ResolvedTrafficPolicy } from '../../../src/mesh/waypoint-config.js'
import { endpoint, pool } from '../../helpers/waypoint-config.js'
import { eventually } from '../../helpers/eventually.js'
import { bodyOf, failure } from '../../helpers/upstream-response.js'

const logger = createLogger({ component: 'test', level: 'warn', destination: new Writable({ write: (_c, _e, cb) => cb() }) })

/**
 * An app answering each request head with `answer(path)`'s bytes (written as given; 'CLOSE' after
 * them ends the connection; those after 'HOLD' wait for `release()`). Records the request heads and
 * counts connections.
 */
async function rawApp(
  t: Test,
  answer: (path: string, method: string) => string[],
): Promise<{ port: number; connections: () => number; heads: string[]; release: () => void }> {
  let connections = 0
  const heads: string[] = []
  let held: (() => void)[] = []
  const sockets = new Set<net.Socket>()
  const server = net.createServer((socket) => {
    connections++
    sockets.add(socket)
    socket.on('close', () => sockets.delete(socket))
    socket.on('error', () => undefined)
    let buffered = ''
    socket.on('data', (chunk: Buffer) => {
      buffered += chunk.toString('latin1')
      for (;;) {
        const end = buffered.indexOf('\r\n\r\n')
        if (end === -1) return
        const head = buffered.slice(0, end)
        const length = Number(/\r\ncontent-length: (\d+)/i.exec(head)?.[1] ?? 0)
        if (buffered.length < end + 4 + length) return
        buffered = buffered.slice(end + 4 + length)
        heads.push(head)
        const [method, path] = head.split(' ')
        let holding = false
        for (const piece of answer(path!, method!)) {
          const write = (): void => void (piece === 'CLOSE' ? socket.end() : socket.write(Buffer.from(piece, 'latin1')))
          if (piece === 'HOLD') holding = true
          else if (holding) held.push(write)
          else write()
        }
      }
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.teardown(() => {
    for (const s of sockets) s.destroy()
    return new Promise<void>((resolve) => server.close(() => resolve()))
  })
  const release = (): void => {
    const writes = held
    held = []
    for (const w of writes) w()
  }
  return { port: (server.address() as AddressInfo).port, connections: () => connections, heads, release }
}

function setup(
  t: Test,
  port: number,
  connectionPool: Partial<ResolvedTrafficPolicy['connectionPool']> = {},
): (request: Partial<UpstreamRequest>, signal?: AbortSignal, cancel?: TryCancel) => Promise<UpstreamResponse> {
  const upstream = createUpstreamConnections({
    openTransport: (ep) => connectTcp({ host: ep.address, port: ep.targetPort, connectTimeoutMs: 5000 }),
    source: () => SpiffeId.parse('spiffe://cluster.local/ns/default/sa/waypoint'),
    logger,
    connectTimeoutMs: () => 5000,
  })
  t.teardown(() => upstream.close())
  const cluster = { name: 'outbound|80||app', breaker: createCircuitBreaker(pool(connectionPool)), idleTimeoutMs: null }
  return (request, signal = new AbortController().signal, cancel) =>
    upstream.send(
      cluster,
      endpoint('app', { address: '127.0.0.1', targetPort: port, tunnelProtocol: 'NONE' }),
      'http1',
      { method: 'GET', path: '/', authority: 'app', headers: {}, body: Buffer.alloc(0), ...request },
      signal,
      cancel,
    )
}

const ok = (body: string, extra = ''): string => `HTTP/1.1 200 OK\r\n${extra}content-length: ${body.length}\r\n\r\n${body}`

t.test('each framing arrives whole, and the connection is kept when the response allows it', async (t) => {
  const app = await rawApp(t, (path) => {
    switch (path) {
      case '/chunked':
        return [
          'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nX-A: 1\r\nx-a: 2\r\n\r\n5\r\nhel',
          'lo\r\n6\r\n world\r\n0\r\nGrpc-Status: 7\r\n\r\n',
        ]
      case '/head':
        return ['HTTP/1.1 200 OK\r\ncontent-length: 1000\r\n\r\n']
      case '/continue':
        return ['HTTP/1.1 100 Continue\r\n\r\n', ok('after 100')]
      case '/empty':
        return ['HTTP/1.1 204 No Content\r\n\r\n']
      default:
        return [ok(`at ${path}`, 'Connection: keep-alive, X-Hop\r\nX-Hop: 1\r\nKeep-Alive: timeout=5\r\n')]
    }
  })
  const send = setup(t, app.port)
  const chunked = await send({ path: '/chunked' })
  t.equal(chunked.status, 200)
  t.equal(chunked.headers['x-a'], '1, 2', 'duplicate headers joined as node:http joined them')
  t.equal(chunked.headers['transfer-encoding'], undefined, 'framing headers are hop-by-hop')
  t.equal(await bodyOf(chunked), 'hello world')
  t.strictSame({ ...chunked.trailers() }, { 'grpc-status': '7' }, 'trailers')
  const head = await send({ method: 'HEAD', path: '/head' })
  t.equal(head.headers['content-length'], '1000')
  t.equal(await bodyOf(head), '', 'no body after a HEAD')
  const cont = await send({ method: 'POST', path: '/continue', body: Buffer.from('xyz'), headers: { expect: '100-continue' } })
  t.equal(cont.status, 200, 'the 100 Continue is skipped')
  t.equal(await bodyOf(cont), 'after 100')
  const empty = await send({ path: '/empty' })
  t.equal(empty.status, 204)
  t.equal(await bodyOf(empty), '')
  const plain = await send({ path: '/plain', headers: { 'x-m': ['1', '2'] } })
  t.equal(await bodyOf(plain), 'at /plain')
  t.strictSame(Object.keys(plain.headers).sort(), ['content-length'], 'Connection, the headers it names and Keep-Alive are not passed on')
  t.equal(app.connections(), 1, 'all on one connection')
  t.match(app.heads[2], /^POST \/continue HTTP\/1\.1\r\nexpect: 100-continue\r\nhost: app\r\ncontent-length: 3\r\nconnection: keep-alive$/)
  t.match(app.heads[4], /\r\nx-m: 1\r\nx-m: 2\r\n/, 'one line per value')
})

t.test('Connection: close, HTTP/1.0 and a body to the end each close the connection after the response', async (t) => {
  const app = await rawApp(t, (path) => {
    switch (path) {
      case '/close':
        return [ok('c', 'Connection: close\r\n'), 'CLOSE']
      case '/http10':
        return ['HTTP/1.0 200 OK\r\ncontent-length: 2\r\n\r\n10']
      case '/to-end':
        return ['HTTP/1.1 200 OK\r\n\r\nuntil ', 'the end', 'CLOSE']
      default:
        return [ok('k')]
    }
  })
  const send = setup(t, app.port)
  for (const [path, body] of [
    ['/close', 'c'],
    ['/keep', 'k'],
    ['/http10', '10'],
    ['/keep', 'k'],
    ['/to-end', 'until the end'],
    ['/keep', 'k'],
  ] as const)
    t.equal(await bodyOf(await send({ path })), body, path)
  t.equal(app.connections(), 4, 'a new connection after each closing response, the kept-alive one reused')
})

t.test('a malformed response is a reset (UC) with the codec error as cause; the next request gets a new connection', async (t) => {
  const big = 'x'.repeat(17 * 1024)
  const app = await rawApp(t, (path) => {
    switch (path) {
      case '/bad-status':
        return ['HTTP/1.1 2x0 OK\r\n\r\n']
      case '/huge-head':
        return [`HTTP/1.1 200 OK\r\nx-big: ${big}\r\n\r\n`]
      case '/both-lengths':
        return ['HTTP/1.1 200 OK\r\ncontent-length: 2\r\ntransfer-encoding: chunked\r\n\r\n']
      case '/upgrade':
        return ['HTTP/1.1 101 Switching Protocols\r\nupgrade: websocket\r\n\r\n']
      case '/cut':
        return ['HTTP/1.1 200 OK\r\ncontent-length: 10\r\n\r\nabc', 'CLOSE']
      default:
        return [ok('fine')]
    }
  })
  const send = setup(t, app.port)
  const cases = [
    ['/bad-status', Http1ErrorCode.badStatusLine],
    ['/huge-head', Http1ErrorCode.headTooLarge],
    ['/both-lengths', Http1ErrorCode.badContentLength],
    ['/upgrade', Http1ErrorCode.upgradeRefused],
  ] as const
  for (const [path, code] of cases) {
    const err = await failure(send({ path }))
    t.ok(isAmbientError(err, L7ErrorCode.upstreamReset), `${path}: ${errorCode(err)}`)
    t.equal(errorCode((err as { cause?: unknown }).cause), code, `${path}: cause ${code}`)
    t.equal(await bodyOf(await send({ path: '/ok' })), 'fine', `${path}: the next request is served`)
  }
  const cut = await send({ path: '/cut' })
  const cutErr = await failure(bodyOf(cut))
  t.ok(cutErr instanceof Error, 'a body cut short errors')
  t.equal(await bodyOf(await send({ path: '/ok' })), 'fine')
  t.equal(app.connections(), cases.length + 2, 'each failed exchange closed its connection; each next one opened a new one')
})

t.test('an abort before the response rejects with its reason; a discarded complete response keeps the connection', async (t) => {
  const app = await rawApp(t, (path) => (path === '/hold' ? [] : [ok(`r ${path}`)]))
  const send = setup(t, app.port)
  const ac = new AbortController()
  const pending = send({ path: '/hold' }, ac.signal)
  await eventually(() => app.heads.length === 1)
  ac.abort(new Error('per-try timeout'))
  const err = await failure(pending)
  t.equal((err as Error).message, 'per-try timeout', "the signal's reason")
  const first = await send({ path: '/one' })
  // Read completely by the connection, then dropped by the caller (a retried try): reusable.
  await eventually(() => first.body.readableLength > 0)
  first.discard()
  // The connection is handed back on the body's 'close', a tick later.
  await new Promise((resolve) => setImmediate(resolve))
  t.equal(await bodyOf(await send({ path: '/two' })), 'r /two')
  t.equal(app.connections(), 2, 'the aborted exchange closed its connection; the discarded one did not')
})

t.test('a downstream gone: a queued request leaves the queue, one not yet sent is not sent and spends no connection', async (t) => {
  const app = await rawApp(t, (path) => (path === '/hold' ? ['HOLD', ok('held')] : [ok(`r ${path}`)]))
  const send = setup(t, app.port, { maxConnections: 1 })
  const held = send({ path: '/hold' })
  await eventually(() => app.heads.length === 1)
  // Queued behind /hold (one connection at most); its client goes away.
  const queued = new TryTimers()
  const waiting = send({ path: '/queued' }, undefined, queued)
  queued.downstreamClosed()
  t.equal(errorCode(await failure(waiting)), L7ErrorCode.downstreamGone, 'rejected: it left the queue')
  app.release()
  t.equal(await bodyOf(await held), 'held')
  // Gone before its exchange starts: nothing written, and the connection goes back to the pool.
  const gone = new TryTimers()
  gone.downstreamClosed()
  t.equal(errorCode(await failure(send({ path: '/gone' }, undefined, gone))), L7ErrorCode.downstreamGone)
  t.equal(await bodyOf(await send({ path: '/next' })), 'r /next')
  t.same(
    app.heads.map((h) => h.split(' ')[1]),
    ['/hold', '/next'],
    'the app saw neither the queued nor the gone request',
  )
  t.equal(app.connections(), 1, 'one connection carried it all')
})

t.test('bytes from an idle connection close it; the next request opens a new one', async (t) => {
  const app = await rawApp(t, (path) => (path === '/extra' ? [ok('e'), 'HTTP/1.1 200 OK\r\n'] : [ok('n')]))
  const send = setup(t, app.port)
  t.equal(await bodyOf(await send({ path: '/extra' })), 'e')
  t.equal(await bodyOf(await send({ path: '/next' })), 'n')
  t.equal(app.connections(), 2)
})

t.test('a request HTTP/1.1 cannot carry fails as a reset without spending the connection', async (t) => {
  const app = await rawApp(t, () => [ok('y')])
  const send = setup(t, app.port)
  t.equal(await bodyOf(await send({ path: '/a' })), 'y')
  const err = await failure(send({ path: '/b', headers: { 'x-bad': 'a\r\nb' } }))
  t.ok(isAmbientError(err, L7ErrorCode.upstreamReset))
  t.equal(errorCode((err as { cause?: unknown }).cause), Http1ErrorCode.invalidRequest)
  t.equal(await bodyOf(await send({ path: '/c' })), 'y')
  t.equal(app.connections(), 1)
  t.equal(app.heads.length, 2, 'nothing of the refused request was written')
})

t.test('a response complete in its first read can be taken whole; one still arriving cannot, and streams', async (t) => {
  const app = await rawApp(t, (path) =>
    path === '/later' ? ['HTTP/1.1 200 OK\r\ncontent-length: 6\r\n\r\nabc', 'HOLD', 'def'] : [ok('whole', 'grpc-status: 0\r\n')],
  )
  const send = setup(t, app.port)
  const whole = await send({ path: '/now' })
  t.equal(whole.takeBody?.()?.toString(), 'whole', 'the body as one Buffer')
  t.equal(whole.takeBody?.(), null, 'taken once')
  t.equal(whole.headers['grpc-status'], '0')
  const later = await send({ path: '/later' })
  t.equal(later.takeBody?.(), null, 'not complete yet: no Buffer')
  const body = bodyOf(later)
  app.release()
  t.equal(await body, 'abcdef', 'the stream carries what came before and after')
  t.equal(await bodyOf(await send({ path: '/again' })), 'whole')
  t.equal(app.connections(), 1, 'taking the body whole hands the connection back as reading it does')
})
