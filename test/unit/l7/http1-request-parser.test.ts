import t from 'tap'
import { isAmbientError } from '../../../src/errors.js'
import {
  Http1ErrorCode,
  Http1RequestParser,
  MAX_HEAD_BYTES,
  type Http1Headers,
  type Http1RequestHead,
} from '../../../src/l7/http1-codec.js'

interface Parsed {
  head: Http1RequestHead | null
  body: string
  trailers: Http1Headers | null
  complete: boolean
  /** Bytes of the input that belong to the request. */
  used: number
  stopped: boolean
}

/** Feeds `wire` whole (step 0) or in pieces of `step` bytes; `accept` false declines the head. */
function parse(wire: string, options: { step?: number; accept?: boolean } = {}): Parsed {
  const out: Parsed = { head: null, body: '', trailers: null, complete: false, used: 0, stopped: false }
  const p = new Http1RequestParser({
    head: (h) => {
      out.head = { ...h, headers: { ...h.headers } }
      return options.accept ?? true
    },
    data: (c) => void (out.body += c.toString('latin1')),
    end: (tr) => void (out.trailers = { ...tr }),
  })
  const bytes = Buffer.from(wire, 'latin1')
  const step = options.step ?? 0
  if (step === 0) out.used = p.execute(bytes)
  else for (let i = 0; i < bytes.length && !p.complete && !p.stopped; i += step) out.used += p.execute(bytes.subarray(i, i + step))
  out.complete = p.complete
  out.stopped = p.stopped
  return out
}

const STEPS = [0, 1, 3, 7]

t.test('requests parse alike whole and in pieces', async (t) => {
  const cases: Array<{ name: string; wire: string; head: Partial<Http1RequestHead>; body: string; trailers?: Http1Headers }> = [
    {
      name: 'GET without body',
      wire: 'GET /a?b=1 HTTP/1.1\r\nHost: h\r\nUser-Agent: x\r\n\r\n',
      head: { method: 'GET', url: '/a?b=1', minorVersion: 1, keepAlive: true, headers: { host: 'h', 'user-agent': 'x' } },
      body: '',
    },
    {
      name: 'Content-Length body',
      wire: 'POST / HTTP/1.1\r\nhost: h\r\ncontent-length: 5\r\n\r\nhello',
      head: { method: 'POST', headers: { host: 'h', 'content-length': '5' } },
      body: 'hello',
    },
    {
      name: 'chunked body with extension and trailers',
      wire: 'PUT /u HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n3;ext=1\r\nabc\r\n2\r\nde\r\n0\r\nx-sum: 9\r\n\r\n',
      head: { method: 'PUT', headers: { host: 'h', 'transfer-encoding': 'chunked' } },
      body: 'abcde',
      trailers: { 'x-sum': '9' },
    },
    {
      name: 'duplicates merged as node:http merges them',
      wire:
        'GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\nCookie: c=1\r\nCookie: d=2\r\n' +
        'Accept: x\r\nAccept: y\r\nContent-Type: t1\r\nContent-Type: t2\r\nSet-Cookie: s\r\n\r\n',
      head: { headers: { host: 'a', cookie: 'c=1; d=2', accept: 'x, y', 'content-type': 't1', 'set-cookie': ['s'] } },
      body: '',
    },
    {
      name: 'HTTP/1.1 with Connection: close',
      wire: 'GET / HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n',
      head: { keepAlive: false, headers: { host: 'h', connection: 'close' } },
      body: '',
    },
    { name: 'HTTP/1.0 without Host', wire: 'GET / HTTP/1.0\r\n\r\n', head: { minorVersion: 0, keepAlive: false, headers: {} }, body: '' },
    {
      name: 'HTTP/1.0 keep-alive',
      wire: 'GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n',
      head: { minorVersion: 0, keepAlive: true },
      body: '',
    },
    {
      name: 'websocket upgrade is handed over',
      wire: 'GET /ws HTTP/1.1\r\nHost: h\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n',
      head: { handOver: 'upgrade' },
      body: '',
    },
    {
      name: 'Upgrade without Connection: upgrade is a plain request',
      wire: 'GET /ws HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\n\r\n',
      head: { handOver: undefined },
      body: '',
    },
    {
      name: 'Expect is handed over',
      wire: 'POST / HTTP/1.1\r\nHost: h\r\nExpect: 100-continue\r\nContent-Length: 1\r\n\r\nx',
      head: { handOver: 'expect' },
      body: 'x',
    },
    { name: 'CONNECT is handed over', wire: 'CONNECT h:443 HTTP/1.1\r\nHost: h:443\r\n\r\n', head: { handOver: 'connect' }, body: '' },
  ]
  for (const c of cases)
    for (const step of STEPS) {
      const p = parse(c.wire, { step })
      t.ok(p.head, `${c.name} (step ${step}): head`)
      for (const [k, v] of Object.entries(c.head)) t.same(p.head?.[k as keyof Http1RequestHead], v, `${c.name} (step ${step}): ${k}`)
      t.equal(p.body, c.body, `${c.name} (step ${step}): body`)
      t.ok(p.complete, `${c.name} (step ${step}): complete`)
      t.same(p.trailers, c.trailers ?? {}, `${c.name} (step ${step}): trailers`)
    }
})

t.test('a pipelined request is left to the caller', async (t) => {
  const first = 'POST /1 HTTP/1.1\r\nHost: h\r\nContent-Length: 2\r\n\r\nab'
  const wire = `${first}GET /2 HTTP/1.1\r\nHost: h\r\n\r\n`
  for (const step of STEPS) {
    const p = parse(wire, { step })
    t.equal(p.head?.url, '/1')
    t.equal(p.body, 'ab')
    t.ok(p.complete)
    if (step === 0) t.equal(p.used, first.length, 'execute says where the next request starts')
    else t.ok(p.used >= first.length - step && p.used <= first.length, `step ${step}: stops within the last piece`)
  }
})

t.test('a declined head stops the parser before its body', async (t) => {
  for (const step of STEPS) {
    const p = parse('GET /ws HTTP/1.1\r\nHost: h\r\nConnection: upgrade\r\nUpgrade: websocket\r\n\r\nraw', { step, accept: false })
    t.equal(p.head?.handOver, 'upgrade')
    t.ok(p.stopped, `step ${step}: stopped`)
    t.notOk(p.complete)
    t.equal(p.body, '')
  }
  const h2 = parse('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', { accept: false })
  t.equal(h2.head?.handOver, 'h2-preface')
  t.ok(h2.stopped)
})

t.test('errors have stable codes, whole and in pieces', async (t) => {
  const cases: Array<[string, string, string]> = [
    ['bad request line', 'GET /\r\nHost: h\r\n\r\n', Http1ErrorCode.badRequestLine],
    ['HTTP/2.0 line', 'GET / HTTP/2.0\r\nHost: h\r\n\r\n', Http1ErrorCode.badRequestLine],
    ['space in target', 'GET /a b HTTP/1.1\r\nHost: h\r\n\r\n', Http1ErrorCode.badRequestLine],
    ['h2 preface accepted as HTTP/1', 'PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', Http1ErrorCode.badRequestLine],
    ['missing Host on 1.1', 'GET / HTTP/1.1\r\nAccept: x\r\n\r\n', Http1ErrorCode.missingHost],
    ['bad header name', 'GET / HTTP/1.1\r\nHost: h\r\nBad Name: x\r\n\r\n', Http1ErrorCode.badHeader],
    ['folded header', 'GET / HTTP/1.1\r\nHost: h\r\nX-A: 1\r\n  2\r\n\r\n', Http1ErrorCode.badHeader],
    ['control char in value', 'GET / HTTP/1.1\r\nHost: h\r\nX-A: a\x01b\r\n\r\n', Http1ErrorCode.badHeader],
    ['bad Content-Length', 'POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 1x\r\n\r\n', Http1ErrorCode.badContentLength],
    ['differing Content-Lengths', 'POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 1, 2\r\n\r\n', Http1ErrorCode.badContentLength],
    [
      'Content-Length with Transfer-Encoding',
      'POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n',
      Http1ErrorCode.badContentLength,
    ],
    ['Transfer-Encoding not chunked', 'POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: gzip\r\n\r\n', Http1ErrorCode.badTransferEncoding],
    ['bad chunk size', 'POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n', Http1ErrorCode.badChunk],
    ['missing CRLF after chunk', 'POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n1\r\naXY', Http1ErrorCode.badChunk],
    ['head too large', `GET / HTTP/1.1\r\nHost: h\r\nX-Big: ${'a'.repeat(MAX_HEAD_BYTES)}\r\n\r\n`, Http1ErrorCode.headTooLarge],
    ['head too large without its end', `GET / HTTP/1.1\r\nX-Big: ${'a'.repeat(MAX_HEAD_BYTES + 10)}`, Http1ErrorCode.headTooLarge],
  ]
  for (const [name, wire, code] of cases)
    for (const step of name.startsWith('head too large') ? [0, 1024] : STEPS) {
      let thrown: unknown
      try {
        parse(wire, { step })
      } catch (err) {
        thrown = err
      }
      t.ok(isAmbientError(thrown, code), `${name} (step ${step}): ${code}, got ${String(thrown)}`)
      if (isAmbientError(thrown)) t.equal(thrown.side, 'downstream', `${name}: the downstream's fault`)
    }
})

t.test('the connection ending mid-request is HTTP1_INCOMPLETE_RESPONSE on the downstream side', async (t) => {
  const p = new Http1RequestParser({ head: () => true, data: () => undefined, end: () => undefined })
  p.execute(Buffer.from('POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\n\r\nab'))
  t.throws(() => p.finish(), { code: Http1ErrorCode.incomplete })
})
