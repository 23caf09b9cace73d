// The HTTP/1.1 message codec of an L7 proxy's upstream side (RFC 9112), without node:http: a
// request encoded into one Buffer (head and body, so it leaves in one write: one DATA frame and one
// TLS record on an HBONE tunnel), and a response parsed incrementally from the Buffers the
// connection reads. Pure: no sockets, no timers; the connection (./http1-upstream.ts) feeds bytes in
// and gets the response's head, body chunks and end through a sink. Requests pipelined on one
// connection are not a case here: the pool sends the next request only after a complete response.
//
// What it does as node:http's client did, so that users see the same messages:
// - request: `METHOD PATH HTTP/1.1`, the headers in the order given, one line per value of a
//   multi-value header (cookie values joined with `; `), header names and values validated as
//   node:http validates them (a token name; no CR, LF, NUL or other control character in a value).
// - response headers merged as node:http's IncomingMessage merges them: names lower-cased, a
//   duplicate of a single-valued header (content-type, content-length, host, …) dropped,
//   set-cookie always a list, cookie values joined with `; `, any other duplicate joined with `, `.
//   Trailers alike.
// - framing: no body for HEAD, 1xx, 204 and 304; Transfer-Encoding ending in chunked; else
//   Content-Length; else the body runs to the end of the connection. Informational responses
//   (100 Continue, 103) are skipped; 101 is refused (this proxy forwards no upgrade: Upgrade and
//   Connection are hop-by-hop and never sent upstream).
// - limits: a head (or the trailers) over 16 KiB, node:http's default maxHeaderSize, is an error.
// Stricter than llhttp's lenient modes, as llhttp's defaults are: Content-Length together with
// Transfer-Encoding, differing Content-Lengths, obsolete line folding and bare LF line ends are errors.
// Every error is an AmbientError with a stable Http1ErrorCode; the connection turns it into a reset
// of the exchange (503 UC), as node:http's parse errors were.
import { AmbientError } from '../errors.js'
import { HOP_BY_HOP } from './http-headers.js'

export const Http1ErrorCode = {
  /** The response head (status line and headers) or its trailers are over MAX_HEAD_BYTES. */
  headTooLarge: 'HTTP1_HEAD_TOO_LARGE',
  /** The status line is not `HTTP/1.x NNN reason`. */
  badStatusLine: 'HTTP1_BAD_STATUS_LINE',
  /** A header line is not `token: value` (or folds onto the previous one). */
  badHeader: 'HTTP1_BAD_HEADER',
  /** Content-Length is not a number, appears with different values, or comes with Transfer-Encoding. */
  badContentLength: 'HTTP1_BAD_CONTENT_LENGTH',
  /** A chunk-size line or the CRLF after a chunk is malformed. */
  badChunk: 'HTTP1_BAD_CHUNK',
  /** The upstream answered 101 Switching Protocols: no upgrade is forwarded. */
  upgradeRefused: 'HTTP1_UPGRADE_REFUSED',
  /** The connection ended before the response was complete. */
  incomplete: 'HTTP1_INCOMPLETE_RESPONSE',
  /** Bytes arrived after the response was complete (no request was waiting for them). */
  unsolicited: 'HTTP1_UNSOLICITED_DATA',
  /** A request line is not `METHOD target HTTP/1.x`. */
  badRequestLine: 'HTTP1_BAD_REQUEST_LINE',
  /** An HTTP/1.1 request has no Host header. */
  missingHost: 'HTTP1_MISSING_HOST',
  /** A request's Transfer-Encoding does not end in chunked. */
  badTransferEncoding: 'HTTP1_BAD_TRANSFER_ENCODING',
  /** A request's method, path, header name or value cannot be written as HTTP/1.1. */
  invalidRequest: 'HTTP1_INVALID_REQUEST',
} as const

/** node:http's default maxHeaderSize. */
export const MAX_HEAD_BYTES = 16 * 1024
/** A chunk-size line (hex size and extensions) longer than this is refused. */
const MAX_CHUNK_LINE_BYTES = 1024

export type Http1Headers = Record<string, string | string[]>

export interface Http1ResponseHead {
  readonly status: number
  /** 0 for HTTP/1.0, 1 for HTTP/1.1. */
  readonly minorVersion: 0 | 1
  /**
   * The headers a proxy passes on: without the hop-by-hop ones (./http-headers.ts HOP_BY_HOP), so
   * the exchange needs no second copy. Headers named in `connection` are still here.
   */
  readonly headers: Http1Headers
  /** Connection and Transfer-Encoding, merged as node:http merges them; undefined when absent. */
  readonly connection: string | undefined
  readonly transferEncoding: string | undefined
}

function parseError(code: string, message: string, side: 'upstream' | 'downstream' = 'upstream'): AmbientError {
  return new AmbientError(code, message, { side })
}

const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/
const INVALID_VALUE_CHAR = /[^\t\x20-\x7e\x80-\xff]/

// Header names seen before, checked (a token) and lower-cased: the same few names come in every
// message, so each is checked once. Bounded, so names never seen again cannot grow it.
const checkedNames = new Map<string, string>()
const MAX_CHECKED_NAMES = 512

/** The name lower-cased if it is a token (checked once per name), else undefined. */
function checkedName(name: string): string | undefined {
  let lower = checkedNames.get(name)
  if (lower === undefined && TOKEN.test(name)) {
    lower = name.toLowerCase()
    if (checkedNames.size < MAX_CHECKED_NAMES) checkedNames.set(name, lower)
  }
  return lower
}

/** Whether node:http would write this header name (a token). */
export function isHeaderName(name: string): boolean {
  return checkedName(name) !== undefined
}

/** Whether node:http would write this header value (no CR, LF, NUL or other control character). */
export function isHeaderValue(value: string): boolean {
  return !INVALID_VALUE_CHAR.test(value)
}
const INVALID_PATH_CHAR = /[^\x21-\xff]/

/** Methods sent without `content-length` when their body is empty. */
const BODYLESS_METHODS = new Set(['GET', 'HEAD', 'DELETE', 'OPTIONS'])

export interface Http1Request {
  readonly method: string
  readonly path: string
  readonly authority: string
  /** Regular headers, no hop-by-hop ones (host, connection, transfer-encoding are this codec's). */
  readonly headers: Readonly<Record<string, string | readonly string[]>>
  readonly body: Buffer
  /**
   * The headers this codec parsed from the downstream request (so checked once already): a header
   * whose value is the same as its entry there is written without checking it again. The bytes are
   * those of the full check.
   */
  readonly validated?: Readonly<Record<string, string | readonly string[] | undefined>> | undefined
}

/**
 * The request as one Buffer: head (`host` after the given headers, then `content-length` when there
 * is a body or the method is not a bodyless one, then `connection: keep-alive`) and body.
 * Throws HTTP1_INVALID_REQUEST for what cannot be written.
 */
export function encodeRequest(request: Http1Request): Buffer {
  const { method, path, body } = request
  if (!TOKEN.test(method)) throw parseError(Http1ErrorCode.invalidRequest, `invalid method ${JSON.stringify(method)}`)
  if (path.length === 0 || INVALID_PATH_CHAR.test(path))
    throw parseError(Http1ErrorCode.invalidRequest, `invalid request path ${JSON.stringify(path)}`)
  let head = `${method} ${path} HTTP/1.1\r\n`
  const headers = request.headers
  const known = request.validated
  for (const name in headers) {
    if (name === 'host' || name === 'content-length' || name === 'connection') continue
    const value = headers[name]!
    // Unchanged since the parse (an own entry: only a string equals a string): a token name and a
    // value without control characters, as the parse checked.
    if (typeof value === 'string') head += known !== undefined && known[name] === value ? `${name}: ${value}\r\n` : headerLine(name, value)
    else if (name === 'cookie' && value.length > 1) head += headerLine(name, value.join('; '))
    else for (const v of value) head += headerLine(name, v)
  }
  head += headerLine('host', request.authority)
  if (body.length > 0 || !BODYLESS_METHODS.has(method)) head += `content-length: ${body.length}\r\n`
  head += 'connection: keep-alive\r\n\r\n'
  const headLength = Buffer.byteLength(head, 'latin1')
  const out = Buffer.allocUnsafe(headLength + body.length)
  out.write(head, 0, headLength, 'latin1')
  body.copy(out, headLength)
  return out
}

function headerLine(name: string, value: string): string {
  if (checkedName(name) === undefined) throw parseError(Http1ErrorCode.invalidRequest, `invalid header name ${JSON.stringify(name)}`)
  if (INVALID_VALUE_CHAR.test(value)) throw parseError(Http1ErrorCode.invalidRequest, `invalid character in header ${name}`)
  return `${name}: ${value}\r\n`
}

/** Headers of which node:http keeps the first and drops duplicates. */
const SINGLE_VALUED = new Set([
  'age',
  'authorization',
  'content-length',
  'content-type',
  'etag',
  'expires',
  'from',
  'host',
  'if-modified-since',
  'if-unmodified-since',
  'last-modified',
  'location',
  'max-forwards',
  'proxy-authorization',
  'referer',
  'retry-after',
  'server',
  'user-agent',
])

function addHeader(headers: Http1Headers, name: string, value: string): void {
  // A plain object (a null-prototype one is a slow dictionary for every copy after): what a name
  // like `constructor` finds is inherited, not a header. (`__proto__` cannot be set to a string: such
  // a header is dropped.)
  const own = headers[name]
  const had = typeof own === 'string' || Array.isArray(own) ? own : undefined
  if (name === 'set-cookie') {
    if (had === undefined) headers[name] = [value]
    else (had as string[]).push(value)
  } else if (had === undefined) headers[name] = value
  else if (!SINGLE_VALUED.has(name)) headers[name] = `${had as string}${name === 'cookie' ? '; ' : ', '}${value}`
}

/**
 * Parses `name: value` lines (lines[from..]) into headers; throws HTTP1_BAD_HEADER. With `hop`, the
 * hop-by-hop headers go there (connection and transfer-encoding kept, the others dropped).
 */
function parseHeaderLines(lines: string[], from: number, side: 'upstream' | 'downstream', hop?: Http1Headers): Http1Headers {
  const headers: Http1Headers = {}
  for (let i = from; i < lines.length; i++) {
    const line = lines[i]!
    const colon = line.indexOf(':')
    const name = colon > 0 ? line.slice(0, colon) : ''
    const lower = checkedName(name)
    if (lower === undefined) throw parseError(Http1ErrorCode.badHeader, `bad header line ${JSON.stringify(line.slice(0, 64))}`, side)
    const value = line.slice(colon + 1).trim()
    if (INVALID_VALUE_CHAR.test(value)) throw parseError(Http1ErrorCode.badHeader, `invalid character in header ${name}`, side)
    if (hop === undefined || !HOP_BY_HOP.has(lower)) addHeader(headers, lower, value)
    else if (lower === 'connection' || lower === 'transfer-encoding') addHeader(hop, lower, value)
  }
  return headers
}

const STATUS_LINE = /^HTTP\/1\.([01]) ([0-9]{3})(?: [^\r\n]*)?$/

type Framing = { kind: 'none' } | { kind: 'length'; left: number } | { kind: 'chunked' } | { kind: 'eof' }

function framing(status: number, te: string | undefined, headers: Http1Headers, headRequest: boolean): Framing {
  if (headRequest || status === 204 || status === 304) return { kind: 'none' }
  const cl = headers['content-length']
  if (te !== undefined) {
    if (cl !== undefined) throw parseError(Http1ErrorCode.badContentLength, 'both Content-Length and Transfer-Encoding')
    const codings = te.split(',')
    return codings[codings.length - 1]!.trim().toLowerCase() === 'chunked' ? { kind: 'chunked' } : { kind: 'eof' }
  }
  if (cl !== undefined) return { kind: 'length', left: contentLength(cl as string) }
  return { kind: 'eof' }
}

const DIGITS = /^[0-9]{1,15}$/

function contentLength(value: string, side: 'upstream' | 'downstream' = 'upstream'): number {
  // One number (every response of a length): no list to split.
  if (DIGITS.test(value)) return Number(value)
  // node:http keeps the first of duplicate lines; a comma list must repeat one value.
  const parts = value.split(',')
  const first = parts[0]!.trim()
  if (!DIGITS.test(first) || parts.some((p) => p.trim() !== first))
    throw parseError(Http1ErrorCode.badContentLength, `bad Content-Length ${JSON.stringify(value)}`, side)
  return Number(first)
}

function hasToken(value: string | undefined, token: string): boolean {
  if (value === undefined) return false
  // One token (`keep-alive`, `close`): no list to split.
  if (value.indexOf(',') === -1) return value.trim().toLowerCase() === token
  for (const t of value.split(',')) if (t.trim().toLowerCase() === token) return true
  return false
}

const CRLF_CRLF = Buffer.from('\r\n\r\n')

type State = 'head' | 'length' | 'chunk-size' | 'chunk-data' | 'chunk-crlf' | 'trailers' | 'eof' | 'done'

/** The body sink of a message parser: chunks of the body, then its end (with trailers; empty when none). */
export interface Http1BodySink {
  data(chunk: Buffer): void
  end(trailers: Http1Headers): void
}

/**
 * What a request and a response parser share: collecting the head (and the trailers) up to its empty
 * line, and the body by Content-Length, chunks or to the connection's end. The subclass reads the
 * head's text and says how its body is framed (`startBody`).
 */
abstract class Http1MessageParser {
  protected state: State = 'head'
  /** Bytes of an unfinished head, trailer section or chunk-size line. */
  private pending: Buffer | null = null
  private left = 0
  /** The body ran to the connection's end: nothing can follow on it. */
  protected toEnd = false
  /** Bytes fed after the message was complete. */
  extra = 0
  /** The head was declined (Http1RequestSink.head): nothing more is parsed. */
  stopped = false

  constructor(
    protected readonly sink: Http1BodySink,
    /** Who sent the message: errors name that side; 'response' or 'request' in messages. */
    private readonly side: 'upstream' | 'downstream',
  ) {}

  get complete(): boolean {
    return this.state === 'done'
  }

  protected error(code: string, message: string): AmbientError {
    return parseError(code, message, this.side)
  }

  private get noun(): string {
    return this.side === 'upstream' ? 'response' : 'request'
  }

  /**
   * Parses the bytes in order; returns how many of `chunk` belong to this message (all of them but
   * for what follows its end, counted in `extra`).
   */
  execute(chunk: Buffer): number {
    let at = 0
    while (at < chunk.length && !this.stopped) {
      switch (this.state) {
        case 'head':
        case 'trailers':
          at = this.section(chunk, at)
          break
        case 'length': {
          const n = Math.min(this.left, chunk.length - at)
          this.sink.data(at === 0 && n === chunk.length ? chunk : chunk.subarray(at, at + n))
          at += n
          this.left -= n
          if (this.left === 0) this.done({})
          break
        }
        case 'eof':
          this.sink.data(at === 0 ? chunk : chunk.subarray(at))
          at = chunk.length
          break
        case 'chunk-size':
          at = this.chunkSize(chunk, at)
          break
        case 'chunk-data': {
          const n = Math.min(this.left, chunk.length - at)
          this.sink.data(chunk.subarray(at, at + n))
          at += n
          this.left -= n
          if (this.left === 0) {
            this.state = 'chunk-crlf'
            this.left = 2
          }
          break
        }
        case 'chunk-crlf': {
          const expected = this.left === 2 ? 0x0d : 0x0a
          if (chunk[at] !== expected) throw this.error(Http1ErrorCode.badChunk, 'missing CRLF after chunk data')
          at++
          if (--this.left === 0) this.state = 'chunk-size'
          break
        }
        case 'done':
          this.extra += chunk.length - at
          return at
      }
    }
    return at
  }

  /** The connection ended: completes a body that runs to the end, else throws HTTP1_INCOMPLETE_RESPONSE. */
  finish(): void {
    if (this.state === 'eof') return this.done({})
    if (this.state !== 'done') throw this.error(Http1ErrorCode.incomplete, `connection ended in the ${this.noun}'s ${this.state}`)
  }

  /** The head's text (start line and header lines, without the empty line): calls startBody, or leaves the state 'head' to stop. */
  protected abstract onHead(text: string): void

  protected startBody(f: Framing): void {
    if (f.kind === 'none' || (f.kind === 'length' && f.left === 0)) this.done({})
    else if (f.kind === 'length') {
      this.state = 'length'
      this.left = f.left
    } else if (f.kind === 'chunked') this.state = 'chunk-size'
    else {
      this.state = 'eof'
      this.toEnd = true
    }
  }

  /** Collects a head or trailer section up to its empty line; returns where the bytes after it start in `chunk`. */
  private section(chunk: Buffer, at: number): number {
    const prior = this.pending === null ? 0 : this.pending.length
    // The section's bytes so far, from `from` in `buf`.
    const buf = prior === 0 ? chunk : Buffer.concat([this.pending!, chunk.subarray(at)])
    const from = prior === 0 ? at : 0
    let textEnd: number
    let next: number
    if (this.state === 'trailers' && buf.length - from >= 2 && buf[from] === 0x0d && buf[from + 1] === 0x0a) {
      // No trailers: the section is its terminating CRLF.
      textEnd = from
      next = from + 2
    } else {
      textEnd = buf.indexOf(CRLF_CRLF, Math.max(from, prior - 3))
      next = textEnd + 4
    }
    if (textEnd === -1) {
      if (buf.length - from > MAX_HEAD_BYTES)
        throw this.error(Http1ErrorCode.headTooLarge, `${this.noun} ${this.state} over ${MAX_HEAD_BYTES} bytes`)
      this.pending = prior === 0 ? Buffer.from(buf.subarray(from)) : buf
      return chunk.length
    }
    if (next - from > MAX_HEAD_BYTES)
      throw this.error(Http1ErrorCode.headTooLarge, `${this.noun} ${this.state} over ${MAX_HEAD_BYTES} bytes`)
    const text = buf.toString('latin1', from, textEnd)
    this.pending = null
    const end = prior === 0 ? next : at + next - prior
    if (this.state === 'head') {
      this.onHead(text)
      // Stopped at the head (a request handed elsewhere): the caller keeps the bytes.
      if (this.stopped) return chunk.length
    } else this.done(text === '' ? {} : parseHeaderLines(text.split('\r\n'), 0, this.side))
    return end
  }

  private chunkSize(chunk: Buffer, at: number): number {
    const prior = this.pending === null ? 0 : this.pending.length
    const lf = chunk.indexOf(0x0a, at)
    if (lf === -1) {
      if (prior + chunk.length - at > MAX_CHUNK_LINE_BYTES) throw this.error(Http1ErrorCode.badChunk, 'chunk-size line too long')
      const rest = chunk.subarray(at)
      this.pending = prior === 0 ? Buffer.from(rest) : Buffer.concat([this.pending!, rest])
      return chunk.length
    }
    const line = prior === 0 ? chunk.toString('latin1', at, lf) : this.pending!.toString('latin1') + chunk.toString('latin1', at, lf)
    this.pending = null
    if (line.length > MAX_CHUNK_LINE_BYTES || !line.endsWith('\r')) throw this.error(Http1ErrorCode.badChunk, 'malformed chunk-size line')
    const semi = line.indexOf(';')
    const hex = (semi === -1 ? line.slice(0, -1) : line.slice(0, semi)).trim()
    if (!/^[0-9a-fA-F]{1,12}$/.test(hex)) throw this.error(Http1ErrorCode.badChunk, `bad chunk size ${JSON.stringify(hex.slice(0, 16))}`)
    const size = parseInt(hex, 16)
    if (size === 0) this.state = 'trailers'
    else {
      this.state = 'chunk-data'
      this.left = size
    }
    return lf + 1
  }

  private done(trailers: Http1Headers): void {
    this.state = 'done'
    this.sink.end(trailers)
  }
}

export interface Http1ResponseSink extends Http1BodySink {
  head(head: Http1ResponseHead): void
}

/**
 * One response, parsed from the bytes fed to `execute`, in order; `finish` at the connection's end.
 * Both throw an AmbientError with an Http1ErrorCode on a malformed or cut response.
 */
export class Http1ResponseParser extends Http1MessageParser {
  private final: Http1ResponseHead | null = null

  constructor(
    private readonly responseSink: Http1ResponseSink,
    private readonly headRequest: boolean,
  ) {
    super(responseSink, 'upstream')
  }

  /** Whether the connection can carry another request once this response is complete. */
  get keepAlive(): boolean {
    const h = this.final
    if (h === null || this.state !== 'done' || this.extra > 0 || this.toEnd) return false
    return h.minorVersion === 1 ? !hasToken(h.connection, 'close') : hasToken(h.connection, 'keep-alive')
  }

  protected onHead(text: string): void {
    const lines = text.split('\r\n')
    // A bare LF or a folded line (leading whitespace) fails the header line's token or value check.
    const m = STATUS_LINE.exec(lines[0]!)
    if (m === null) throw this.error(Http1ErrorCode.badStatusLine, `bad status line ${JSON.stringify(lines[0]!.slice(0, 64))}`)
    const status = Number(m[2])
    const hop: Record<string, string> = {}
    const headers = parseHeaderLines(lines, 1, 'upstream', hop)
    if (status === 101) throw this.error(Http1ErrorCode.upgradeRefused, 'upstream answered 101 Switching Protocols')
    // Informational: the final response follows (the state stays 'head' for it).
    if (status < 200) return
    const te = hop['transfer-encoding']
    const head: Http1ResponseHead = {
      status,
      minorVersion: m[1] === '0' ? 0 : 1,
      headers,
      connection: hop.connection,
      transferEncoding: te,
    }
    const f = framing(status, te, headers, this.headRequest)
    this.final = head
    this.responseSink.head(head)
    this.startBody(f)
  }
}

/** A request's head as node:http's IncomingMessage gives it. */
export interface Http1RequestHead {
  readonly method: string
  /** The request target as sent (node:http's `req.url`). */
  readonly url: string
  /** 0 for HTTP/1.0, 1 for HTTP/1.1. */
  readonly minorVersion: 0 | 1
  /** All headers (hop-by-hop ones too), merged as node:http merges them. */
  readonly headers: Http1Headers
  /** Whether the connection may carry another request after this one (version and Connection). */
  readonly keepAlive: boolean
  /**
   * What this codec leaves to node:http (the connection is handed over before the request is
   * consumed): an Upgrade (websocket) or CONNECT request, `Expect` (100-continue), an h2 preface.
   */
  readonly handOver: 'upgrade' | 'connect' | 'expect' | 'h2-preface' | undefined
}

export interface Http1RequestSink extends Http1BodySink {
  /** The head; returning false stops the parser before it (the caller hands the bytes elsewhere). */
  head(head: Http1RequestHead): boolean
}

const REQUEST_LINE = /^([!#$%&'*+\-.^_`|~0-9A-Za-z]+) ([\x21-\x7e\x80-\xff]+) HTTP\/1\.([01])$/

/**
 * One request, parsed from the bytes a downstream connection reads (node:http's server side):
 * `execute` returns how many bytes of a chunk belong to it; the rest belongs to the next request.
 * Framing as llhttp's defaults: Transfer-Encoding must end in chunked and comes without
 * Content-Length; else Content-Length; else no body. An HTTP/1.1 request without Host is refused,
 * as node:http's server does (`requireHostHeader`). Errors are AmbientErrors with an
 * Http1ErrorCode, on the downstream side; HTTP1_HEAD_TOO_LARGE answers 431, the others 400.
 */
export class Http1RequestParser extends Http1MessageParser {
  constructor(private readonly requestSink: Http1RequestSink) {
    super(requestSink, 'downstream')
  }

  protected onHead(text: string): void {
    const lines = text.split('\r\n')
    const first = lines[0]!
    if (first === 'PRI * HTTP/2.0') {
      if (!this.requestSink.head({ method: 'PRI', url: '*', minorVersion: 1, headers: {}, keepAlive: false, handOver: 'h2-preface' }))
        return void (this.stopped = true)
      throw this.error(Http1ErrorCode.badRequestLine, 'HTTP/2 preface on an HTTP/1.1 connection')
    }
    const m = REQUEST_LINE.exec(first)
    if (m === null) throw this.error(Http1ErrorCode.badRequestLine, `bad request line ${JSON.stringify(first.slice(0, 64))}`)
    const method = m[1]!
    const minorVersion = m[3] === '0' ? 0 : 1
    const headers = parseHeaderLines(lines, 1, 'downstream')
    if (minorVersion === 1 && headers.host === undefined) throw this.error(Http1ErrorCode.missingHost, 'HTTP/1.1 request without Host')
    const te = headers['transfer-encoding'] as string | undefined
    const connection = headers.connection as string | undefined
    let f: Framing
    if (te !== undefined) {
      if (headers['content-length'] !== undefined)
        throw this.error(Http1ErrorCode.badContentLength, 'both Content-Length and Transfer-Encoding')
      const codings = te.split(',')
      if (codings[codings.length - 1]!.trim().toLowerCase() !== 'chunked')
        throw this.error(
          Http1ErrorCode.badTransferEncoding,
          `request Transfer-Encoding ${JSON.stringify(te.slice(0, 64))} does not end in chunked`,
        )
      f = { kind: 'chunked' }
    } else {
      const cl = headers['content-length'] as string | undefined
      f = { kind: 'length', left: cl === undefined ? 0 : contentLength(cl, 'downstream') }
    }
    const handOver =
      method === 'CONNECT'
        ? 'connect'
        : headers.upgrade !== undefined && hasToken(connection, 'upgrade')
          ? 'upgrade'
          : headers.expect !== undefined
            ? 'expect'
            : undefined
    const keepAlive = minorVersion === 1 ? !hasToken(connection, 'close') : hasToken(connection, 'keep-alive')
    if (!this.requestSink.head({ method, url: m[2]!, minorVersion, headers, keepAlive, handOver })) return void (this.stopped = true)
    this.startBody(f)
  }
}
