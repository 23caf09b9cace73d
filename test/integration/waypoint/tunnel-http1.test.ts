// HTTP/1.1 on an HBONE tunnel's stream as the waypoint serves it (our codec reading and writing the
// Http2Stream itself, no socket adapter), through the whole path (source HBONE → waypoint → HBONE →
// app), with raw bytes on the client's tunnel: what the waypoint's close of a connection means on
// the tunnel (END_STREAM, not a reset), a client reset aborting its request (counted 0 DC), a slow
// client bounding what is read from the app, the hand-overs to node:http (Expect: 100-continue,
// Upgrade), and request bodies arriving byte for byte whether or not they came with their head.
import t from 'tap'
import type { Test } from 'tap'
import http2 from 'node:http2'
import { createHash } from 'node:crypto'
import type { ClientHttp2Stream } from 'node:http2'
import { peerEndedStream } from '../../../src/net/end-stream.js'
import { startReviewsHarness as harness, type WaypointHarness } from '../../helpers/waypoint-harness.js'
import { eventually } from '../../helpers/eventually.js'
import { writeBounded, type BoundedWriter } from '../../helpers/bounded-writer.js'

/** A raw tunnel to the service via the waypoint: what came back, and how it ended. */
async function rawTunnel(t: Test, h: WaypointHarness) {
  const tunnel = await h.tunnel(`${h.vip(1)}:9080`)
  const stream: ClientHttp2Stream = tunnel.stream
  const state = { out: Buffer.alloc(0), ended: false, closed: false, stream }
  stream.on('data', (d: Buffer) => (state.out = Buffer.concat([state.out, d])))
  stream.on('end', () => (state.ended = true))
  stream.on('close', () => (state.closed = true))
  stream.on('error', () => undefined)
  t.teardown(() => {
    if (!stream.destroyed) stream.close()
  })
  return state
}

const text = (b: Buffer): string => b.toString('latin1')

/** Answers by path: a digest and length of the body read, or what the test sets. */
function digestApp(h: WaypointHarness): void {
  h.pods.get('reviews-v1')!.handler = (req, res) => {
    const hash = createHash('sha256')
    let length = 0
    req.on('data', (d: Buffer) => {
      hash.update(d)
      length += d.length
    })
    req.on('end', () => {
      const body = `${length} ${hash.digest('hex')}`
      res.writeHead(200, { 'content-length': String(body.length) })
      res.end(body)
    })
  }
}

t.test('a connection the waypoint closes ends its tunnel with END_STREAM, not a reset', async (t) => {
  const h = await harness(t)
  digestApp(h)
  // Connection: close: the response, then the codec ends the connection.
  const a = await rawTunnel(t, h)
  a.stream.write(`GET /x HTTP/1.1\r\nHost: reviews:9080\r\nConnection: close\r\n\r\n`)
  await eventually(() => a.ended)
  t.match(text(a.out), /^HTTP\/1\.1 200 OK\r\n[\s\S]*Connection: close\r\n(?:[^\r]+\r\n)*\r\n0 e3b0c442/)
  t.equal(peerEndedStream(a.stream), true, 'Connection: close → END_STREAM')
  // A malformed body: the request fails mid-body and the connection goes (the codec's destroy).
  const b = await rawTunnel(t, h)
  b.stream.write(`POST /x HTTP/1.1\r\nHost: reviews:9080\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n`)
  await eventually(() => b.ended)
  t.equal(peerEndedStream(b.stream), true, 'a connection given up mid-request → END_STREAM')
  t.equal(text(b.out), '', 'and nothing answered (a response had not begun)')
  b.stream.end()
  await eventually(() => b.closed)
  t.equal(b.stream.rstCode, http2.constants.NGHTTP2_NO_ERROR)
  t.ok(
    h.log.records.some((r) => r.event === 'http1_bad_request' && r.code === 'HTTP1_BAD_CHUNK'),
    'logged with its code',
  )
})

t.test('a client resetting its tunnel mid-request aborts the request: 0 DC (as Envoy: no response), nothing sent upstream', async (t) => {
  const h = await harness(t)
  digestApp(h)
  const c = await rawTunnel(t, h)
  c.stream.write(`POST /cut HTTP/1.1\r\nHost: reviews:9080\r\nContent-Length: 100\r\n\r\nabc`)
  // A PING answered after those bytes: the waypoint read them (frames are handled in order), so the
  // engine is reading the body when the reset comes.
  await new Promise<void>((resolve, reject) => c.stream.session!.ping((err) => (err ? reject(err) : resolve())))
  c.stream.close(http2.constants.NGHTTP2_CANCEL)
  const line = await eventually(
    async () =>
      (await h.metrics.render()).split('\n').find((l) => l.startsWith('istio_requests_total{') && l.includes('response_code="0"')) ?? null,
  )
  t.match(line, /response_flags="DC"/, 'counted as a downstream connection termination')
  t.equal(h.pods.get('reviews-v1')!.seen.length, 0, 'the app never saw it')
})

// A malformed body counts the same whether its bytes came in the read that brought the head or later.
for (const c of [
  { name: 'with the head, in one write', chunked: 'zz\r\n' },
  { name: 'after the head, in a second write', chunked: 'zz\r\n', split: true },
  { name: 'with the head, a chunk longer than declared', chunked: '2\r\nabcd\r\n' },
  { name: 'after the head, a chunk longer than declared', chunked: '2\r\nabcd\r\n', split: true },
]) {
  t.test(`a malformed chunked body ${c.name}: refused, counted 400 DPE, nothing sent upstream`, async (t) => {
    const h = await harness(t)
    digestApp(h)
    const b = await rawTunnel(t, h)
    const head = `POST /bad HTTP/1.1\r\nHost: reviews:9080\r\nTransfer-Encoding: chunked\r\n\r\n`
    if (c.split === true) {
      b.stream.write(head)
      // A PING answered after the head: the waypoint read it (and the engine is reading the body).
      await new Promise<void>((resolve, reject) => b.stream.session!.ping((err) => (err ? reject(err) : resolve())))
      b.stream.write(c.chunked)
    } else b.stream.write(head + c.chunked)
    await eventually(() => b.ended)
    t.equal(text(b.out), '', 'nothing answered')
    const lines = await eventually(async () => {
      const found = (await h.metrics.render()).split('\n').filter((l) => l.startsWith('istio_requests_total{'))
      return found.length > 0 ? found : null
    })
    t.equal(lines.length, 1, 'one series')
    t.match(lines[0], /response_code="400"/)
    t.match(lines[0], /response_flags="DPE"/, "Envoy's downstream protocol error")
    t.match(lines[0], / 1$/, 'counted once')
    t.ok(
      h.log.records.some((r) => r.event === 'http1_bad_request' && r.code === 'HTTP1_BAD_CHUNK'),
      'logged with its code',
    )
    t.equal(h.pods.get('reviews-v1')!.seen.length, 0, 'the app never saw it')
  })
}

t.test('a slow client: the waypoint reads a bounded amount of the response from the app', async (t) => {
  const h = await harness(t)
  const TOTAL = 48 * 1024 * 1024
  let writer: BoundedWriter | null = null
  h.pods.get('reviews-v1')!.handler = (_req, res) => {
    res.writeHead(200, { 'content-length': String(TOTAL) })
    writer = writeBounded(res, TOTAL, () => res.end())
  }
  const tunnel = await h.tunnel(`${h.vip(1)}:9080`)
  const stream = tunnel.stream
  stream.on('error', () => undefined)
  t.teardown(() => {
    if (!stream.destroyed) stream.close()
  })
  stream.pause()
  stream.write(`GET /big HTTP/1.1\r\nHost: reviews:9080\r\n\r\n`)
  const w = await eventually(() => writer)
  // The app blocks once every window and buffer on the way is full (or, unbounded, writes it all).
  await eventually(w.stalled(), { intervalMs: 20, timeoutMs: 30_000 })
  t.notOk(w.finished, 'the app could not write the whole response')
  t.ok(w.written < TOTAL / 2, `written while the client read nothing: ${(w.written / 1024 / 1024).toFixed(1)} MiB of 48`)
  let read = 0
  stream.on('data', (d: Buffer) => (read += d.length))
  stream.resume()
  await eventually(() => read >= TOTAL, { timeoutMs: 60_000 })
  t.ok(read > TOTAL, 'the whole response (head and 48 MiB) once the client reads')
})

t.test('hand-overs to node:http through the waypoint: Expect: 100-continue, Upgrade', async (t) => {
  const h = await harness(t)
  digestApp(h)
  const c = await rawTunnel(t, h)
  // A request on the codec first, then one it hands over on the same tunnel.
  c.stream.write(`GET /first HTTP/1.1\r\nHost: reviews:9080\r\n\r\n`)
  await eventually(() => text(c.out).endsWith(' e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855'))
  c.out = Buffer.alloc(0)
  c.stream.write(`POST /expect HTTP/1.1\r\nHost: reviews:9080\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\n`)
  await eventually(() => text(c.out).startsWith('HTTP/1.1 100 Continue\r\n\r\n'))
  c.stream.write('hello')
  const digest = createHash('sha256').update('hello').digest('hex')
  await eventually(() => text(c.out).endsWith(`5 ${digest}`))
  t.match(text(c.out), /\r\n\r\nHTTP\/1\.1 200 OK\r\n/, 'then the answer')
  t.ok(h.log.records.some((r) => r.event === 'http1_hand_over' && r.reason === 'expect'))
  // The tunnel, now node:http's, serves on.
  c.out = Buffer.alloc(0)
  c.stream.write(`POST /again HTTP/1.1\r\nHost: reviews:9080\r\nContent-Length: 5\r\n\r\nhello`)
  await eventually(() => text(c.out).endsWith(`5 ${digest}`))
  t.pass('the handed-over connection serves the next request')

  const u = await rawTunnel(t, h)
  u.stream.write(`GET /up HTTP/1.1\r\nHost: reviews:9080\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n`)
  await eventually(() => text(u.out).includes(' e3b0c442'))
  t.match(text(u.out), /^HTTP\/1\.1 200 OK\r\n/, 'an Upgrade request is answered by node:http as before')
  t.ok(h.log.records.some((r) => r.event === 'http1_hand_over' && r.reason === 'upgrade'))
})

t.test('request bodies arrive byte for byte: with the head in one write, after it, chunked', async (t) => {
  const h = await harness(t)
  digestApp(h)
  const body = Buffer.alloc(3000)
  for (let i = 0; i < body.length; i++) body[i] = (i * 7 + 3) & 0xff
  const digest = createHash('sha256').update(body).digest('hex')
  const expected = `${body.length} ${digest}`
  const c = await rawTunnel(t, h)
  const head = (path: string, framing: string): Buffer =>
    Buffer.from(`POST ${path} HTTP/1.1\r\nHost: reviews:9080\r\ncontent-type: application/octet-stream\r\n${framing}\r\n`, 'latin1')
  const answered = async (n: number): Promise<void> => {
    await eventually(() => text(c.out).split(expected).length - 1 === n)
  }
  // Head and body in one write: one DATA frame, one read on the waypoint.
  c.stream.write(Buffer.concat([head('/whole', `Content-Length: ${body.length}\r\n`), body]))
  await answered(1)
  // The body after the head, in two writes.
  c.stream.write(head('/split', `Content-Length: ${body.length}\r\n`))
  c.stream.write(body.subarray(0, 1000))
  await eventually(() => h.pods.get('reviews-v1')!.seen.length === 1)
  c.stream.write(body.subarray(1000))
  await answered(2)
  // Chunked, whole in the head's write.
  const chunked = Buffer.concat([
    head('/chunked', 'Transfer-Encoding: chunked\r\n'),
    Buffer.from('400\r\n'),
    body.subarray(0, 1024),
    Buffer.from(`\r\n${(body.length - 1024).toString(16)}\r\n`),
    body.subarray(1024),
    Buffer.from('\r\n0\r\n\r\n'),
  ])
  c.stream.write(chunked)
  await answered(3)
  t.equal(text(c.out).split(expected).length - 1, 3, 'the app read the same bytes three times')
  t.same(
    h.pods.get('reviews-v1')!.seen.map((s) => s.url),
    ['/whole', '/split', '/chunked'],
  )
})
