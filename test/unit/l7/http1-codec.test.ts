import t from 'tap'
import { isAmbientError } from '../../../src/errors.js'
import {
  encodeRequest,
  Http1ErrorCode,
  Http1ResponseParser,
  MAX_HEAD_BYTES,
  type Http1Headers,
  type Http1Request,
  type Http1ResponseHead,
} from '../../../src/l7/http1-codec.js'

interface Parsed {
  heads: Http1ResponseHead[]
  body: string
  trailers: Http1Headers | null
  complete: boolean
  keepAlive: boolean
  extra: number
}

/** Feeds `wire` in pieces of `step` bytes (0: all at once), then `finish` when `eof`. */
function parse(wire: string, options: { head?: boolean; step?: number; eof?: boolean } = {}): Parsed {
  const out: Parsed = { heads: [], body: '', trailers: null, complete: false, keepAlive: false, extra: 0 }
  const p = new Http1ResponseParser(
    {
      head: (h) => void out.heads.push({ ...h, headers: { ...h.headers } }),
      data: (c) => void (out.body += c.toString('latin1')),
      end: (tr) => void (out.trailers = { ...tr }),
    },
    options.head === true,
  )
  const bytes = Buffer.from(wire, 'latin1')
  const step = options.step ?? 0
  if (step === 0) p.execute(bytes)
  else for (let i = 0; i < bytes.length; i += step) p.execute(bytes.subarray(i, i + step))
  if (options.eof === true) p.finish()
  out.complete = p.complete
  out.keepAlive = p.keepAlive
  out.extra = p.extra
  return out
}

const CRLF = '\r\n'
const msg = (...lines: string[]): string => lines.join(CRLF)

t.test('response parse cases: each fed at once, in 1-, 2- and 7-byte pieces, with the same result', (t) => {
  const cases: {
    name: string
    wire: string
    head?: boolean
    eof?: boolean
    status: number
    headers?: Http1Headers
    body: string
    trailers?: Http1Headers
    keepAlive: boolean
    heads?: number
    extra?: number
    /** Connection and Transfer-Encoding, left out of `headers`. */
    hop?: { connection?: string; transferEncoding?: string }
  }[] = [
    {
      name: 'Content-Length body',
      wire: msg('HTTP/1.1 200 OK', 'Content-Length: 5', 'Content-Type: text/plain', '', 'hello'),
      status: 200,
      headers: { 'content-length': '5', 'content-type': 'text/plain' },
      body: 'hello',
      keepAlive: true,
    },
    { name: 'no reason phrase', wire: msg('HTTP/1.1 204', '', ''), status: 204, headers: {}, body: '', keepAlive: true },
    {
      name: 'empty reason phrase, OWS around values',
      wire: msg('HTTP/1.1 200 ', 'X-A: \t v \t', 'content-length:0', '', ''),
      status: 200,
      headers: { 'x-a': 'v', 'content-length': '0' },
      body: '',
      keepAlive: true,
    },
    {
      name: 'chunked with extensions and trailers',
      wire: msg(
        'HTTP/1.1 200 OK',
        'Transfer-Encoding: chunked',
        '',
        '5;ext=1',
        'hello',
        'a',
        '0123456789',
        '0',
        'Grpc-Status: 0',
        'X-T: 1',
        '',
        '',
      ),
      status: 200,
      headers: {},
      hop: { transferEncoding: 'chunked' },
      body: 'hello0123456789',
      trailers: { 'grpc-status': '0', 'x-t': '1' },
      keepAlive: true,
    },
    {
      name: 'chunked without trailers, upper-case hex',
      wire: msg('HTTP/1.1 200 OK', 'Transfer-Encoding: gzip', 'transfer-encoding: Chunked', '', 'B', 'hello world', '0', '', ''),
      status: 200,
      hop: { transferEncoding: 'gzip, Chunked' },
      body: 'hello world',
      trailers: {},
      keepAlive: true,
    },
    {
      name: 'HEAD: Content-Length says the GET size, no body follows',
      wire: msg('HTTP/1.1 200 OK', 'Content-Length: 1000', '', ''),
      head: true,
      status: 200,
      body: '',
      keepAlive: true,
    },
    { name: '304 has no body', wire: msg('HTTP/1.1 304 Not Modified', 'ETag: "x"', '', ''), status: 304, body: '', keepAlive: true },
    {
      name: '100 Continue and 103 Early Hints are skipped',
      wire: msg(
        'HTTP/1.1 100 Continue',
        '',
        'HTTP/1.1 103 Early Hints',
        'Link: </a>',
        '',
        'HTTP/1.1 201 Created',
        'Content-Length: 2',
        '',
        'ok',
      ),
      status: 201,
      body: 'ok',
      keepAlive: true,
      heads: 1,
    },
    {
      name: 'Connection: close',
      wire: msg('HTTP/1.1 200 OK', 'Connection: keep-alive, Close', 'Keep-Alive: timeout=5', 'Upgrade: h2c', 'Content-Length: 2', '', 'ok'),
      status: 200,
      headers: { 'content-length': '2' },
      hop: { connection: 'keep-alive, Close' },
      body: 'ok',
      keepAlive: false,
    },
    {
      name: 'HTTP/1.0 without keep-alive',
      wire: msg('HTTP/1.0 200 OK', 'Content-Length: 2', '', 'ok'),
      status: 200,
      body: 'ok',
      keepAlive: false,
    },
    {
      name: 'HTTP/1.0 with keep-alive',
      wire: msg('HTTP/1.0 200 OK', 'Connection: Keep-Alive', 'Content-Length: 2', '', 'ok'),
      status: 200,
      hop: { connection: 'Keep-Alive' },
      body: 'ok',
      keepAlive: true,
    },
    {
      name: 'no length: the body runs to the end of the connection',
      wire: msg('HTTP/1.1 200 OK', '', 'all of it\r\n\r\nand more'),
      eof: true,
      status: 200,
      body: 'all of it\r\n\r\nand more',
      keepAlive: false,
    },
    {
      name: 'Transfer-Encoding not ending in chunked: to the end of the connection',
      wire: msg('HTTP/1.1 200 OK', 'Transfer-Encoding: gzip', '', 'zz'),
      eof: true,
      status: 200,
      hop: { transferEncoding: 'gzip' },
      body: 'zz',
      keepAlive: false,
    },
    {
      name: 'duplicates merged as node:http merges them',
      wire: msg(
        'HTTP/1.1 200 OK',
        'Set-Cookie: a=1',
        'Content-Type: text/plain',
        'X-A: 1',
        'set-cookie: b=2',
        'content-type: text/html',
        'x-a: 2',
        'Cookie: c=1',
        'cookie: d=2',
        'Content-Length: 0',
        'Content-Length: 0',
        '',
        '',
      ),
      status: 200,
      headers: { 'set-cookie': ['a=1', 'b=2'], 'content-type': 'text/plain', 'x-a': '1, 2', cookie: 'c=1; d=2', 'content-length': '0' },
      body: '',
      keepAlive: true,
    },
    {
      name: 'a Content-Length list repeating one value',
      wire: msg('HTTP/1.1 200 OK', 'Content-Length: 2, 2', '', 'ok'),
      status: 200,
      body: 'ok',
      keepAlive: true,
    },
    {
      name: 'bytes after the response: complete, not kept alive',
      wire: msg('HTTP/1.1 200 OK', 'Content-Length: 2', '', 'okHTTP/1.1 200 OK'),
      status: 200,
      body: 'ok',
      keepAlive: false,
      extra: 15,
    },
    {
      name: "header names that are Object.prototype's",
      wire: msg('HTTP/1.1 200 OK', 'Constructor: a', 'toString: b', 'tostring: c', 'Content-Length: 0', '', ''),
      status: 200,
      headers: { constructor: 'a', tostring: 'b, c', 'content-length': '0' },
      body: '',
      keepAlive: true,
    },
    {
      name: 'latin1 value bytes pass through',
      wire: msg('HTTP/1.1 200 OK', 'X-L: caf\xe9', 'Content-Length: 0', '', ''),
      status: 200,
      headers: { 'x-l': 'caf\xe9', 'content-length': '0' },
      body: '',
      keepAlive: true,
    },
  ]
  for (const c of cases) {
    for (const step of [0, 1, 2, 7]) {
      const name = `${c.name} (${step === 0 ? 'at once' : `${step}-byte pieces`})`
      const r = parse(c.wire, { step, ...(c.head === undefined ? {} : { head: c.head }), ...(c.eof === undefined ? {} : { eof: c.eof }) })
      t.equal(r.heads.length, c.heads ?? 1, `${name}: one final head`)
      t.equal(r.heads[0]?.status, c.status, `${name}: status`)
      if (c.headers !== undefined) t.strictSame(r.heads[0]?.headers, c.headers, `${name}: headers`)
      t.equal(r.heads[0]?.connection, c.hop?.connection, `${name}: Connection`)
      t.equal(r.heads[0]?.transferEncoding, c.hop?.transferEncoding, `${name}: Transfer-Encoding`)
      t.equal(r.body, c.body, `${name}: body`)
      t.ok(r.complete, `${name}: complete`)
      t.strictSame(r.trailers, c.trailers ?? {}, `${name}: trailers`)
      t.equal(r.keepAlive, c.keepAlive, `${name}: keep-alive`)
      if (step === 0) t.equal(r.extra, c.extra ?? 0, `${name}: extra bytes`)
    }
  }
  t.end()
})

t.test('a response cut short is incomplete until its end, then an error; one to the end completes at finish', (t) => {
  const r = parse(msg('HTTP/1.1 200 OK', 'Content-Length: 10', '', 'hello'))
  t.equal(r.body, 'hello')
  t.notOk(r.complete)
  t.notOk(r.keepAlive)
  const eofBody = parse(msg('HTTP/1.1 200 OK', '', 'abc'))
  t.notOk(eofBody.complete, 'a body to the end is open until finish')
  t.end()
})

t.test('parse errors carry a stable code', (t) => {
  const big = 'x'.repeat(MAX_HEAD_BYTES)
  const cases: { name: string; wire: string; code: string; eof?: boolean }[] = [
    { name: 'not HTTP/1.x', wire: msg('HTTP/2.0 200 OK', '', ''), code: Http1ErrorCode.badStatusLine },
    { name: 'two-digit status', wire: msg('HTTP/1.1 20 OK', '', ''), code: Http1ErrorCode.badStatusLine },
    { name: 'garbage', wire: msg('hello there', '', ''), code: Http1ErrorCode.badStatusLine },
    { name: 'header without a colon', wire: msg('HTTP/1.1 200 OK', 'X-A', '', ''), code: Http1ErrorCode.badHeader },
    { name: 'space before the colon', wire: msg('HTTP/1.1 200 OK', 'X-A : 1', '', ''), code: Http1ErrorCode.badHeader },
    { name: 'obsolete line folding', wire: msg('HTTP/1.1 200 OK', 'X-A: 1', ' 2', '', ''), code: Http1ErrorCode.badHeader },
    { name: 'control character in a value', wire: msg('HTTP/1.1 200 OK', 'X-A: a\x01b', '', ''), code: Http1ErrorCode.badHeader },
    { name: 'bare LF in the head', wire: 'HTTP/1.1 200 OK\r\nX-A: 1\nX-B: 2\r\n\r\n', code: Http1ErrorCode.badHeader },
    { name: 'head over the limit', wire: msg('HTTP/1.1 200 OK', `X-Big: ${big}`, '', ''), code: Http1ErrorCode.headTooLarge },
    { name: 'head over the limit, unterminated', wire: msg('HTTP/1.1 200 OK', `X-Big: ${big}`), code: Http1ErrorCode.headTooLarge },
    {
      name: 'Content-Length with Transfer-Encoding',
      wire: msg('HTTP/1.1 200 OK', 'Content-Length: 2', 'Transfer-Encoding: chunked', '', ''),
      code: Http1ErrorCode.badContentLength,
    },
    {
      name: 'Content-Length not a number',
      wire: msg('HTTP/1.1 200 OK', 'Content-Length: 1e3', '', ''),
      code: Http1ErrorCode.badContentLength,
    },
    {
      name: 'Content-Length list that differs',
      wire: msg('HTTP/1.1 200 OK', 'Content-Length: 2, 3', '', ''),
      code: Http1ErrorCode.badContentLength,
    },
    { name: 'chunk size not hex', wire: msg('HTTP/1.1 200 OK', 'Transfer-Encoding: chunked', '', 'zz', ''), code: Http1ErrorCode.badChunk },
    {
      name: 'no CRLF after chunk data',
      wire: msg('HTTP/1.1 200 OK', 'Transfer-Encoding: chunked', '', '2', 'okX'),
      code: Http1ErrorCode.badChunk,
    },
    {
      name: 'chunk-size line with a bare LF',
      wire: 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\nok\r\n',
      code: Http1ErrorCode.badChunk,
    },
    {
      name: 'chunk-size line too long',
      wire: msg('HTTP/1.1 200 OK', 'Transfer-Encoding: chunked', '', `2;${'e'.repeat(2000)}`),
      code: Http1ErrorCode.badChunk,
    },
    {
      name: 'trailers over the limit',
      wire: msg('HTTP/1.1 200 OK', 'Transfer-Encoding: chunked', '', '0', `X-Big: ${big}`, '', ''),
      code: Http1ErrorCode.headTooLarge,
    },
    {
      name: '101 Switching Protocols',
      wire: msg('HTTP/1.1 101 Switching Protocols', 'Upgrade: websocket', '', ''),
      code: Http1ErrorCode.upgradeRefused,
    },
    { name: 'cut in the head', wire: 'HTTP/1.1 200 OK\r\nContent-Le', eof: true, code: Http1ErrorCode.incomplete },
    {
      name: 'cut in a Content-Length body',
      wire: msg('HTTP/1.1 200 OK', 'Content-Length: 9', '', 'abc'),
      eof: true,
      code: Http1ErrorCode.incomplete,
    },
    {
      name: 'cut in a chunk',
      wire: msg('HTTP/1.1 200 OK', 'Transfer-Encoding: chunked', '', '9', 'abc'),
      eof: true,
      code: Http1ErrorCode.incomplete,
    },
    { name: 'nothing at all', wire: '', eof: true, code: Http1ErrorCode.incomplete },
  ]
  for (const c of cases)
    for (const step of [0, 3]) {
      let caught: unknown = null
      try {
        parse(c.wire, { step, ...(c.eof === undefined ? {} : { eof: c.eof }) })
      } catch (err) {
        caught = err
      }
      t.ok(isAmbientError(caught, c.code), `${c.name} (${step === 0 ? 'at once' : 'in pieces'}): ${c.code}, got ${String(caught)}`)
    }
  t.end()
})

t.test('encodeRequest: the head as node:http wrote it, the body after it, in one Buffer', (t) => {
  const req = (over: Partial<Http1Request>): Http1Request => ({
    method: 'GET',
    path: '/p?q=1',
    authority: 'app.default:80',
    headers: {},
    body: Buffer.alloc(0),
    ...over,
  })
  const cases: { name: string; request: Http1Request; wire: string }[] = [
    {
      name: 'GET without body: no content-length',
      request: req({ headers: { 'x-b': '1', accept: '*/*' } }),
      wire: msg('GET /p?q=1 HTTP/1.1', 'x-b: 1', 'accept: */*', 'host: app.default:80', 'connection: keep-alive', '', ''),
    },
    {
      name: 'POST with a body',
      request: req({ method: 'POST', body: Buffer.from('hello') }),
      wire: msg('POST /p?q=1 HTTP/1.1', 'host: app.default:80', 'content-length: 5', 'connection: keep-alive', '', 'hello'),
    },
    {
      name: 'POST with an empty body: content-length 0',
      request: req({ method: 'POST' }),
      wire: msg('POST /p?q=1 HTTP/1.1', 'host: app.default:80', 'content-length: 0', 'connection: keep-alive', '', ''),
    },
    {
      name: 'multi-value headers: a line each; cookies joined',
      request: req({ headers: { 'x-m': ['1', '2'], cookie: ['a=1', 'b=2'], 'set-cookie': ['s'] } }),
      wire: msg(
        'GET /p?q=1 HTTP/1.1',
        'x-m: 1',
        'x-m: 2',
        'cookie: a=1; b=2',
        'set-cookie: s',
        'host: app.default:80',
        'connection: keep-alive',
        '',
        '',
      ),
    },
    {
      name: "host, connection and content-length are the codec's",
      request: req({ method: 'DELETE', headers: { host: 'other', connection: 'close', 'content-length': '9', 'x-k': 'v' } }),
      wire: msg('DELETE /p?q=1 HTTP/1.1', 'x-k: v', 'host: app.default:80', 'connection: keep-alive', '', ''),
    },
    {
      name: 'latin1 values as bytes',
      request: req({ headers: { 'x-l': 'caf\xe9' } }),
      wire: msg('GET /p?q=1 HTTP/1.1', 'x-l: caf\xe9', 'host: app.default:80', 'connection: keep-alive', '', ''),
    },
  ]
  for (const c of cases) t.equal(encodeRequest(c.request).toString('latin1'), c.wire, c.name)
  t.end()
})

t.test('encodeRequest refuses what HTTP/1.1 cannot carry, with HTTP1_INVALID_REQUEST', (t) => {
  const base: Http1Request = { method: 'GET', path: '/', authority: 'a', headers: {}, body: Buffer.alloc(0) }
  const cases: { name: string; request: Http1Request }[] = [
    { name: 'method with a space', request: { ...base, method: 'G T' } },
    { name: 'empty method', request: { ...base, method: '' } },
    { name: 'path with a space', request: { ...base, path: '/a b' } },
    { name: 'empty path', request: { ...base, path: '' } },
    { name: 'header name with a space', request: { ...base, headers: { 'x a': '1' } } },
    { name: 'CRLF in a value', request: { ...base, headers: { 'x-a': '1\r\nx-b: 2' } } },
    { name: 'a character beyond latin1', request: { ...base, headers: { 'x-a': '\u20ac' } } },
    { name: 'CRLF in the authority', request: { ...base, authority: 'a\r\nx: 1' } },
    { name: 'CR in one value of a list', request: { ...base, headers: { 'x-a': ['ok', 'b\r'] } } },
  ]
  for (const c of cases) {
    let caught: unknown = null
    try {
      encodeRequest(c.request)
    } catch (err) {
      caught = err
    }
    t.ok(isAmbientError(caught, Http1ErrorCode.invalidRequest), `${c.name}: got ${String(caught)}`)
  }
  t.end()
})
