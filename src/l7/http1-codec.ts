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

export interface Http1ResponseSink {
  head(head: Http1ResponseHead): void
  data(chunk: Buffer): void
  /** The response is complete; trailers (of a chunked body) are empty when none. */
  end(trailers: Http1Headers): void
}

function parseError(code: string, message: string): AmbientError {
  return new AmbientError(code, message, { side: 'upstream' })
}

const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/
const INVALID_VALUE_CHAR = /[^\t\x20-\x7e\x80-\xff]/
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
  for (const name in headers) {
    if (name === 'host' || name === 'content-length' || name === 'connection') continue
    const value = headers[name]!
    if (typeof value === 'string') head += headerLine(name, value)
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
  if (!TOKEN.test(name)) throw parseError(Http1ErrorCode.invalidRequest, `invalid header name ${JSON.stringify(name)}`)
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
function parseHeaderLines(lines: string[], from: number, hop?: Http1Headers): Http1Headers {
  const headers: Http1Headers = {}
  for (let i = from; i < lines.length; i++) {
    const line = lines[i]!
    const colon = line.indexOf(':')
    const name = colon > 0 ? line.slice(0, colon) : ''
    if (!TOKEN.test(name)) throw parseError(Http1ErrorCode.badHeader, `bad header line ${JSON.stringify(line.slice(0, 64))}`)
    const value = line.slice(colon + 1).trim()
    if (INVALID_VALUE_CHAR.test(value)) throw parseError(Http1ErrorCode.badHeader, `invalid character in header ${name}`)
    const lower = name.toLowerCase()
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

function contentLength(value: string): number {
  // node:http keeps the first of duplicate lines; a comma list must repeat one value.
  const parts = value.split(',')
  const first = parts[0]!.trim()
  if (!/^[0-9]{1,15}$/.test(first) || parts.some((p) => p.trim() !== first))
    throw parseError(Http1ErrorCode.badContentLength, `bad Content-Length ${JSON.stringify(value)}`)
  return Number(first)
}

function hasToken(value: string | undefined, token: string): boolean {
  if (value === undefined) return false
  for (const t of value.split(',')) if (t.trim().toLowerCase() === token) return true
  return false
}

const CRLF_CRLF = Buffer.from('\r\n\r\n')

type State = 'head' | 'length' | 'chunk-size' | 'chunk-data' | 'chunk-crlf' | 'trailers' | 'eof' | 'done'

/**
 * One response, parsed from the bytes fed to `execute`, in order; `finish` at the connection's end.
 * Both throw an AmbientError with an Http1ErrorCode on a malformed or cut response.
 */
export class Http1ResponseParser {
  private state: State = 'head'
  /** Bytes of an unfinished head, trailer section or chunk-size line. */
  private pending: Buffer | null = null
  private left = 0
  private final: Http1ResponseHead | null = null
  /** The body ran to the connection's end: nothing can follow on it. */
  private toEnd = false
  /** Bytes fed after the response was complete. */
  extra = 0

  constructor(
    private readonly sink: Http1ResponseSink,
    private readonly headRequest: boolean,
  ) {}

  get complete(): boolean {
    return this.state === 'done'
  }

  /** Whether the connection can carry another request once this response is complete. */
  get keepAlive(): boolean {
    const h = this.final
    if (h === null || this.state !== 'done' || this.extra > 0 || this.toEnd) return false
    return h.minorVersion === 1 ? !hasToken(h.connection, 'close') : hasToken(h.connection, 'keep-alive')
  }

  execute(chunk: Buffer): void {
    let at = 0
    while (at < chunk.length) {
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
          if (chunk[at] !== expected) throw parseError(Http1ErrorCode.badChunk, 'missing CRLF after chunk data')
          at++
          if (--this.left === 0) this.state = 'chunk-size'
          break
        }
        case 'done':
          this.extra += chunk.length - at
          return
      }
    }
  }

  /** The connection ended: completes a body that runs to the end, else throws HTTP1_INCOMPLETE_RESPONSE. */
  finish(): void {
    if (this.state === 'eof') return this.done({})
    if (this.state !== 'done') throw parseError(Http1ErrorCode.incomplete, `connection ended in the response's ${this.state}`)
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
        throw parseError(Http1ErrorCode.headTooLarge, `response ${this.state} over ${MAX_HEAD_BYTES} bytes`)
      this.pending = prior === 0 ? Buffer.from(buf.subarray(from)) : buf
      return chunk.length
    }
    if (next - from > MAX_HEAD_BYTES) throw parseError(Http1ErrorCode.headTooLarge, `response ${this.state} over ${MAX_HEAD_BYTES} bytes`)
    const text = buf.toString('latin1', from, textEnd)
    this.pending = null
    if (this.state === 'head') this.onHead(text)
    else this.done(text === '' ? {} : parseHeaderLines(text.split('\r\n'), 0))
    return prior === 0 ? next : at + next - prior
  }

  private onHead(text: string): void {
    const lines = text.split('\r\n')
    // A bare LF or a folded line (leading whitespace) fails the header line's token or value check.
    const m = STATUS_LINE.exec(lines[0]!)
    if (m === null) throw parseError(Http1ErrorCode.badStatusLine, `bad status line ${JSON.stringify(lines[0]!.slice(0, 64))}`)
    const status = Number(m[2])
    const hop: Record<string, string> = {}
    const headers = parseHeaderLines(lines, 1, hop)
    if (status === 101) throw parseError(Http1ErrorCode.upgradeRefused, 'upstream answered 101 Switching Protocols')
    // Informational: the final response follows.
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
    this.sink.head(head)
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

  private chunkSize(chunk: Buffer, at: number): number {
    const prior = this.pending === null ? 0 : this.pending.length
    const lf = chunk.indexOf(0x0a, at)
    if (lf === -1) {
      if (prior + chunk.length - at > MAX_CHUNK_LINE_BYTES) throw parseError(Http1ErrorCode.badChunk, 'chunk-size line too long')
      const rest = chunk.subarray(at)
      this.pending = prior === 0 ? Buffer.from(rest) : Buffer.concat([this.pending!, rest])
      return chunk.length
    }
    const line = prior === 0 ? chunk.toString('latin1', at, lf) : this.pending!.toString('latin1') + chunk.toString('latin1', at, lf)
    this.pending = null
    if (line.length > MAX_CHUNK_LINE_BYTES || !line.endsWith('\r')) throw parseError(Http1ErrorCode.badChunk, 'malformed chunk-size line')
    const semi = line.indexOf(';')
    const hex = (semi === -1 ? line.slice(0, -1) : line.slice(0, semi)).trim()
    if (!/^[0-9a-fA-F]{1,12}$/.test(hex)) throw parseError(Http1ErrorCode.badChunk, `bad chunk size ${JSON.stringify(hex.slice(0, 16))}`)
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
