// Through the waypoint over real sockets (source HBONE pool → waypoint → HBONE → app), the upstream
// HTTP/1.1 leg on our codec (src/l7/http1-upstream.ts): a body arriving in pieces, a large body
// (backpressure), HEAD, multi-value headers, and a malformed response answered as a reset (503 UC).
import t from 'tap'
import { startReviewsHarness as harness } from '../../helpers/waypoint-harness.js'

t.test('bodies in pieces, large bodies, HEAD and multi-value headers arrive as the app sent them', async (t) => {
  const h = await harness(t)
  const big = Buffer.alloc(1024 * 1024, 'z')
  h.pods.get('reviews-v1')!.handler = (req, res) => {
    if (req.url === '/pieces') {
      // Chunked, each piece its own write: the waypoint streams what has arrived.
      res.writeHead(200, { 'set-cookie': ['a=1', 'b=2'], 'x-multi': ['1', '2'] })
      res.write('one ')
      setImmediate(() => {
        res.write('two ')
        setImmediate(() => res.end('three'))
      })
    } else if (req.url === '/big') {
      res.writeHead(200, { 'content-length': String(big.length) })
      res.end(big)
    } else {
      res.writeHead(200, { 'content-length': '1000', 'content-type': 'text/plain' })
      res.end(req.method === 'HEAD' ? undefined : 'x'.repeat(1000))
    }
  }
  const authority = `${h.vip(1)}:9080`
  const pieces = await h.request(authority, { path: '/pieces', host: 'reviews:9080' })
  t.equal(pieces.status, 200)
  t.equal(pieces.body, 'one two three')
  t.strictSame(pieces.headers['set-cookie'], ['a=1', 'b=2'], 'set-cookie stays a list')
  t.equal(pieces.headers['x-multi'], '1, 2')
  const large = await h.request(authority, { path: '/big', host: 'reviews:9080' })
  t.equal(large.status, 200)
  t.equal(large.body.length, big.length, '1 MiB through')
  t.ok(large.body === big.toString(), 'byte for byte')
  const head = await h.request(authority, { method: 'HEAD', path: '/head', host: 'reviews:9080' })
  t.equal(head.status, 200)
  t.equal(head.headers['content-length'], '1000', "HEAD keeps the GET's length")
  t.equal(head.body, '')
  const after = await h.request(authority, { path: '/plain', host: 'reviews:9080' })
  t.equal(after.body.length, 1000, 'the connection serves on after a HEAD')
})

t.test('a malformed upstream response is a reset: 503 UC, counted with its flag', async (t) => {
  const h = await harness(t)
  h.pods.get('reviews-v1')!.handler = (req, res) => {
    if (req.url === '/bad') res.socket!.write('HTTP/1.1 2x0 Broken\r\n\r\n')
    else {
      res.writeHead(200, { 'content-length': '2' })
      res.end('ok')
    }
  }
  const authority = `${h.vip(1)}:9080`
  const bad = await h.request(authority, { path: '/bad', host: 'reviews:9080' })
  t.equal(bad.status, 503)
  t.match(bad.body, /upstream connect error or disconnect\/reset before headers\. reset reason: connection termination/)
  const line = (await h.metrics.render())
    .split('\n')
    .find((l) => l.startsWith('istio_requests_total{') && l.includes('response_code="503"'))
  t.match(line, /response_flags="UC"/, 'counted as UC')
  const ok = await h.request(authority, { path: '/ok', host: 'reviews:9080' })
  t.equal(ok.status, 200, 'the next request is served on a new connection')
  t.equal(ok.body, 'ok')
})
