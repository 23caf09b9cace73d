// The reference L7 hop's head scanning (src/bench/workers/l7-reference-head.ts) as a table: framing
// (Content-Length, HEAD, 1xx, 204/304), keep-alive vs close, and the plain refusals.
import t from 'tap'
import { scanRequestHead, scanResponseHead } from '../../../src/bench/workers/l7-reference-head.js'

const head = (...lines: string[]): string => lines.join('\r\n')

t.test('request heads', async (t) => {
  const cases: [string, string, Record<string, unknown>][] = [
    ['GET, no body', head('GET / HTTP/1.1', 'host: a'), { ok: true, bodyBytes: 0, close: false, isHead: false }],
    ['POST with a length', head('POST /x HTTP/1.1', 'Content-Length: 12'), { ok: true, bodyBytes: 12, close: false, isHead: false }],
    [
      'the same length twice',
      head('PUT / HTTP/1.1', 'content-length: 3', 'content-length: 3'),
      { ok: true, bodyBytes: 3, close: false, isHead: false },
    ],
    ['HEAD', head('HEAD / HTTP/1.1'), { ok: true, bodyBytes: 0, close: false, isHead: true }],
    ['connection: close', head('GET / HTTP/1.1', 'Connection: keep-alive, Close'), { ok: true, bodyBytes: 0, close: true, isHead: false }],
    ['HTTP/1.0 closes', head('GET / HTTP/1.0'), { ok: true, bodyBytes: 0, close: true, isHead: false }],
    ['HTTP/1.0 keep-alive', head('GET / HTTP/1.0', 'connection: keep-alive'), { ok: true, bodyBytes: 0, close: false, isHead: false }],
    ['chunked', head('POST / HTTP/1.1', 'transfer-encoding: chunked'), { ok: false, status: 501, reason: /chunked/ }],
    ['upgrade header', head('GET / HTTP/1.1', 'upgrade: websocket'), { ok: false, status: 501, reason: /upgrade/ }],
    ['connection: upgrade', head('GET / HTTP/1.1', 'connection: Upgrade'), { ok: false, status: 501, reason: /upgrade/ }],
    ['CONNECT', head('CONNECT a:1 HTTP/1.1'), { ok: false, status: 501, reason: /CONNECT/ }],
    [
      'two lengths',
      head('POST / HTTP/1.1', 'content-length: 3', 'content-length: 4'),
      { ok: false, status: 400, reason: /content-length/ },
    ],
    ['a signed length', head('POST / HTTP/1.1', 'content-length: -1'), { ok: false, status: 400, reason: /content-length/ }],
    ['no version', head('GET /'), { ok: false, status: 400, reason: /request line/ }],
    ['HTTP/2 text', head('GET / HTTP/2.0'), { ok: false, status: 400, reason: /request line/ }],
    ['a line without a colon', head('GET / HTTP/1.1', 'nonsense'), { ok: false, status: 400, reason: /header line/ }],
  ]
  for (const [name, text, want] of cases) t.match(scanRequestHead(text), want, name)
})

t.test('response heads', async (t) => {
  const cases: [string, string, boolean, Record<string, unknown>][] = [
    [
      '200 with a length',
      head('HTTP/1.1 200 OK', 'content-length: 1024'),
      false,
      { ok: true, status: 200, bodyBytes: 1024, close: false, interim: false },
    ],
    [
      'no reason phrase',
      head('HTTP/1.1 200', 'content-length: 0'),
      false,
      { ok: true, status: 200, bodyBytes: 0, close: false, interim: false },
    ],
    [
      'to a HEAD',
      head('HTTP/1.1 200 OK', 'content-length: 1024'),
      true,
      { ok: true, status: 200, bodyBytes: 0, close: false, interim: false },
    ],
    ['204', head('HTTP/1.1 204 No Content'), false, { ok: true, status: 204, bodyBytes: 0, close: false, interim: false }],
    ['304', head('HTTP/1.1 304 Not Modified'), false, { ok: true, status: 304, bodyBytes: 0, close: false, interim: false }],
    ['100 continue', head('HTTP/1.1 100 Continue'), false, { ok: true, status: 100, bodyBytes: 0, close: false, interim: true }],
    [
      'close',
      head('HTTP/1.1 200 OK', 'content-length: 2', 'connection: close'),
      false,
      { ok: true, status: 200, bodyBytes: 2, close: true, interim: false },
    ],
    ['HTTP/1.0', head('HTTP/1.0 200 OK', 'content-length: 2'), false, { ok: true, status: 200, bodyBytes: 2, close: true, interim: false }],
    ['chunked', head('HTTP/1.1 200 OK', 'transfer-encoding: chunked'), false, { ok: false, reason: /chunked/ }],
    ['no length', head('HTTP/1.1 200 OK'), false, { ok: false, reason: /Content-Length/ }],
    ['101', head('HTTP/1.1 101 Switching Protocols', 'upgrade: websocket'), false, { ok: false, reason: /upgrade/ }],
    ['not HTTP', head('SSH-2.0-x'), false, { ok: false, reason: /status line/ }],
  ]
  for (const [name, text, wasHead, want] of cases) t.match(scanResponseHead(text, wasHead), want, name)
})
