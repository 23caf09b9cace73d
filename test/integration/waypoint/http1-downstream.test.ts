// HTTP/1.x served on our codec (src/l7/http1-downstream.ts) through http-serving, on real sockets:
// the same bytes as node:http's server for the same handler, pipelining, keep-alive, HTTP/1.0,
// chunked uploads, 431/400, a client leaving mid-body, and what is handed to node:http.
import net from 'node:net'
import t from 'tap'
import type { Test } from 'tap'
import { createCapturingLogger } from '../../../src/observability/capturing-logger.js'
import { readRequestBody, type DownstreamRequest, type DownstreamResponse } from '../../../src/l7/http-proxy.js'
import { createHttpServing, type HttpServingOptions } from '../../../src/l7/http-serving.js'
import { eventually } from '../../helpers/eventually.js'

interface Seen {
  kind: string
  method: string | undefined
  url: string | undefined
  headers: DownstreamRequest['headers']
  body?: string
  error?: string
}

/** A handler that answers by path, as a proxy's replies look. */
function handler(seen: Seen[]) {
  return async (_ctx: string, _v: 'http1' | 'h2', req: DownstreamRequest, res: DownstreamResponse): Promise<void> => {
    const entry: Seen = { kind: req.constructor.name, method: req.method, url: req.url, headers: req.headers }
    seen.push(entry)
    let body: Buffer
    try {
      body = await readRequestBody(req, 'TEST_TOO_LARGE')
    } catch (err) {
      entry.error = (err as Error).message
      res.writeHead(400, { 'content-type': 'text/plain', 'content-length': '3' })
      res.end('bad')
      return
    }
    entry.body = body.toString()
    switch (req.url) {
      case '/len':
        res.writeHead(200, { 'content-type': 'text/plain', 'content-length': String(body.length + 2) })
        res.end(Buffer.concat([Buffer.from('ok'), body]))
        return
      case '/chunked':
        res.writeHead(201, { 'x-a': ['1', '2'] })
        res.end(Buffer.from('hello'))
        return
      case '/stream':
        res.writeHead(200, { x: 'y' })
        res.addTrailers({ 'grpc-status': '0' })
        res.write(Buffer.from('ab'))
        res.end(Buffer.from('cd'))
        return
      case '/empty':
        res.writeHead(204, {})
        res.end()
        return
      default:
        res.writeHead(404, { 'content-type': 'text/plain' })
        res.end('no route')
    }
  }
}

async function server(t: Test, options: HttpServingOptions) {
  const log = createCapturingLogger()
  const seen: Seen[] = []
  const serving = createHttpServing<string>(handler(seen), log.logger, options)
  const srv = net.createServer((socket) => serving.serve(socket, 'http1', 'ctx'))
  await new Promise<void>((resolve) => srv.listen(0, '127.0.0.1', resolve))
  t.teardown(() => {
    serving.close()
    srv.close()
  })
  return { port: (srv.address() as net.AddressInfo).port, seen, log }
}

/** A raw connection: what it sent back so far, and whether it closed. */
async function raw(t: Test, port: number) {
  const socket = net.connect(port, '127.0.0.1')
  await new Promise<void>((resolve) => socket.once('connect', resolve))
  const state = { out: '', closed: false, socket }
  socket.on('data', (d: Buffer) => (state.out += d.toString('latin1')))
  socket.on('error', () => undefined)
  socket.on('close', () => (state.closed = true))
  t.teardown(() => socket.destroy())
  return state
}

const noDate = (s: string): string => s.replace(/Date: [^\r]*\r\n/g, 'Date: X\r\n')

const PIPELINED =
  'GET /len HTTP/1.1\r\nHost: x\r\n\r\n' +
  'GET /chunked HTTP/1.1\r\nHost: x\r\n\r\n' +
  'HEAD /chunked HTTP/1.1\r\nHost: x\r\n\r\n' +
  'POST /len HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc' +
  'GET /empty HTTP/1.1\r\nhost: x\r\n\r\n' +
  'GET /stream HTTP/1.1\r\nhost: x\r\n\r\n' +
  'PUT /len HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nde\r\n1\r\nf\r\n0\r\n\r\n' +
  'GET /nope HTTP/1.1\r\nHost: x\r\n\r\n' +
  'GET /len HTTP/1.0\r\n\r\n'

t.test('pipelined requests: in order, and byte for byte what node:http answers (Date aside)', async (t) => {
  const outputs: string[] = []
  for (const http1 of ['codec', 'node'] as const) {
    const { port, seen } = await server(t, { http1 })
    const c = await raw(t, port)
    c.socket.write(PIPELINED)
    // The HTTP/1.0 request without keep-alive ends the connection.
    await eventually(() => c.closed)
    outputs.push(noDate(c.out))
    t.same(
      seen.map((s) => `${s.method} ${s.url} ${s.body}`),
      [
        'GET /len ',
        'GET /chunked ',
        'HEAD /chunked ',
        'POST /len abc',
        'GET /empty ',
        'GET /stream ',
        'PUT /len def',
        'GET /nope ',
        'GET /len ',
      ],
      `${http1}: every request, in order, with its body`,
    )
    t.equal(seen[0]!.kind, http1 === 'codec' ? 'Http1ServerRequest' : 'IncomingMessage', `${http1} served it`)
  }
  t.equal(outputs[0], outputs[1])
  t.match(
    outputs[0],
    /^HTTP\/1\.1 200 OK\r\ncontent-type: text\/plain\r\ncontent-length: 2\r\nDate: X\r\nConnection: keep-alive\r\nKeep-Alive: timeout=60\r\n\r\nok/,
  )
  t.match(outputs[0], /Connection: close\r\n\r\nok$/, 'HTTP/1.0 without keep-alive: Connection: close, then the end')
})

t.test('the same bytes arriving one at a time', async (t) => {
  const { port, seen } = await server(t, {})
  const c = await raw(t, port)
  for (const byte of Buffer.from(PIPELINED, 'latin1')) c.socket.write(Buffer.from([byte]))
  await eventually(() => c.closed)
  t.equal(seen.length, 9)
  t.equal(c.out.match(/HTTP\/1\.1 /g)?.length, 9, 'nine responses')
})

t.test('keep-alive: HTTP/1.1 stays open, Connection: close and HTTP/1.0 keep-alive as node:http', async (t) => {
  const { port, seen } = await server(t, {})
  const c = await raw(t, port)
  c.socket.write('GET /len HTTP/1.1\r\nHost: x\r\n\r\n')
  await eventually(() => c.out.endsWith('ok'))
  c.socket.write('GET /len HTTP/1.0\r\nConnection: keep-alive\r\n\r\n')
  await eventually(() => c.out.split('HTTP/1.1 200').length === 3 && c.out.endsWith('ok'))
  t.match(c.out.slice(c.out.lastIndexOf('HTTP/1.1')), /Connection: keep-alive\r\nKeep-Alive: timeout=60\r\n/)
  t.notOk(c.closed, 'still open after a 1.0 keep-alive request with a length')
  c.socket.write('GET /chunked HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n')
  await eventually(() => c.closed)
  t.match(c.out.slice(c.out.lastIndexOf('HTTP/1.1')), /Connection: close\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n$/)
  t.equal(seen.length, 3)
})

t.test('a bad head is answered 400, a head over 16 KiB 431, with a logged code, then closed', async (t) => {
  const cases: Array<[string, number, string]> = [
    ['GET / HTTP/1.1\r\nHost: x\r\nBad Header: 1\r\n\r\n', 400, 'HTTP1_BAD_HEADER'],
    ['GET /\r\n\r\n', 400, 'HTTP1_BAD_REQUEST_LINE'],
    ['GET / HTTP/1.1\r\n\r\n', 400, 'HTTP1_MISSING_HOST'],
    [`GET / HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(17 * 1024)}\r\n\r\n`, 431, 'HTTP1_HEAD_TOO_LARGE'],
  ]
  const { port, seen, log } = await server(t, {})
  for (const [wire, status, code] of cases) {
    const c = await raw(t, port)
    c.socket.write(wire)
    await eventually(() => c.closed)
    t.match(c.out, new RegExp(`^HTTP/1\\.1 ${status} [A-Za-z ]+\\r\\nConnection: close\\r\\n\\r\\n$`), `${code}: ${status}`)
    t.ok(
      log.records.some((r) => r.event === 'http1_bad_request' && r.code === code),
      `${code}: logged`,
    )
  }
  t.equal(seen.length, 0, 'no request reached the handler')
})

t.test('slow clients: a head not complete in one keep-alive period, a request not complete by requestTimeoutMs → 408', async (t) => {
  const { port, seen, log } = await server(t, { keepAliveTimeoutMs: 150, requestTimeoutMs: 400 })
  const timeouts = (stage: string) => log.records.filter((r) => r.event === 'http1_request_timeout' && r.stage === stage).length

  const head = await raw(t, port)
  head.socket.write('GET /len HTTP/1.1\r\nHost: x\r\n')
  await eventually(() => head.closed)
  t.equal(head.out, 'HTTP/1.1 408 Request Timeout\r\nConnection: close\r\n\r\n', 'half a head: 408')
  t.equal(timeouts('head'), 1, 'logged at the head')
  t.equal(seen.length, 0, 'no request reached the handler')

  const body = await raw(t, port)
  body.socket.write('POST /len HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\nabc')
  await eventually(() => body.closed)
  t.equal(body.out, 'HTTP/1.1 408 Request Timeout\r\nConnection: close\r\n\r\n', 'a body that stops: 408')
  t.equal(timeouts('body'), 1, 'logged at the body')
  t.equal(await eventually(() => seen[0]?.error ?? null), 'aborted', "the handler's read of the body fails")

  const idle = await raw(t, port)
  idle.socket.write('GET /len HTTP/1.1\r\nHost: x\r\n\r\n')
  await eventually(() => idle.closed)
  t.match(idle.out, /^HTTP\/1\.1 200 OK\r\n/, 'a complete request is answered')
  t.notMatch(idle.out, /408/, 'and its idle connection then closes without a 408')
})

t.test(
  'keep-alive period: counted from the last request, so a connection busy for several periods stays open, then closes idle',
  async (t) => {
    const PERIOD_MS = 400
    const { port, seen } = await server(t, { keepAliveTimeoutMs: PERIOD_MS })
    const c = await raw(t, port)
    const started = Date.now()
    // Requests back to back for over three periods (at most 2000), each after the previous answer.
    let answered = 0
    while (Date.now() - started < 3.5 * PERIOD_MS && answered < 2000 && !c.closed) {
      c.socket.write('GET /len HTTP/1.1\r\nHost: x\r\n\r\n')
      answered++
      await eventually(() => c.closed || c.out.split('HTTP/1.1 200').length === answered + 1)
    }
    t.notOk(c.closed, `open after ${answered} requests over ${Date.now() - started} ms (period ${PERIOD_MS} ms)`)
    t.equal(seen.length, answered, 'every request on the one connection')
    await eventually(() => c.closed)
    t.notMatch(c.out, /408/, 'idle, it closes without a 408')
  },
)

t.test('a body cut mid-way fails the request with aborted; the response closes', async (t) => {
  const { port, seen } = await server(t, {})
  const c = await raw(t, port)
  c.socket.write('POST /len HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\nabc')
  await eventually(() => seen.length === 1)
  c.socket.destroy()
  const entry = await eventually(() => seen[0]!.error ?? null)
  t.equal(entry, 'aborted')
})

t.test('a request body over the engine limit: the request is destroyed and the connection with it', async (t) => {
  const { port, seen } = await server(t, {})
  const c = await raw(t, port)
  c.socket.write('POST /len HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n')
  const chunk = Buffer.alloc(64 * 1024, 0x61)
  // Bounded: at most 1024 chunks of 64 KiB (64 MiB), well over the engine's limit.
  for (let i = 0; i < 1024 && !c.closed; i++) {
    c.socket.write(`${chunk.length.toString(16)}\r\n`)
    c.socket.write(chunk)
    if (!c.socket.write('\r\n'))
      await new Promise<void>((resolve) => {
        c.socket.once('drain', resolve)
        c.socket.once('close', resolve)
      })
  }
  await eventually(() => c.closed)
  t.match(seen[0]?.error, /over/, 'the body reader refused it')
})

t.test('a chunked upload in many small writes', async (t) => {
  const { port, seen } = await server(t, {})
  const c = await raw(t, port)
  c.socket.write('POST /len HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n')
  let expected = ''
  for (let i = 0; i < 200; i++) {
    const piece = `p${i};`
    expected += piece
    c.socket.write(`${piece.length.toString(16)}\r\n${piece}\r\n`)
  }
  c.socket.write('0\r\n\r\n')
  await eventually(() => c.out.endsWith(expected))
  t.equal(seen[0]!.body, expected)
  t.match(c.out, new RegExp(`content-length: ${expected.length + 2}\r\n`))
})

t.test('handed to node:http: Expect: 100-continue and websocket upgrades', async (t) => {
  const { port, seen, log } = await server(t, {})
  const c = await raw(t, port)
  c.socket.write('GET /len HTTP/1.1\r\nHost: x\r\n\r\n')
  await eventually(() => c.out.endsWith('ok'))
  c.socket.write('POST /len HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\n')
  await eventually(() => c.out.includes('HTTP/1.1 100 Continue\r\n\r\n'))
  c.socket.write('zz')
  await eventually(() => c.out.endsWith('okzz'))
  t.same(
    seen.map((s) => s.kind),
    ['Http1ServerRequest', 'IncomingMessage'],
    'the first request on the codec, the one with Expect (and the connection) on node:http',
  )
  t.ok(log.records.some((r) => r.event === 'http1_hand_over' && r.reason === 'expect'))

  const ws = await raw(t, port)
  ws.socket.write('GET /len HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n')
  await eventually(() => ws.out.endsWith('ok'))
  t.equal(seen[2]!.kind, 'IncomingMessage', "an upgrade request is node:http's, served as it was before")
  t.equal(seen[2]!.headers.upgrade, 'websocket')
})
