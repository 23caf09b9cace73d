// The downstream side of an HTTP/1.1 hop on our own codec (./http1-codec.ts): the requests a
// connection carries (an HBONE tunnel's stream, a sidecar's captured or accepted socket), parsed as
// they arrive and answered in the shape node:http's server gives its answers. It replaces
// `http.createServer` + IncomingMessage + ServerResponse for what the proxy serves; ./http-serving.ts
// chooses it per connection.
//
// One request at a time: once a request is complete, bytes that follow (a pipelined request) are
// kept and the connection is paused until the response has been written; then the next is parsed.
// Answers are therefore in order, and a client that pipelines is slowed by backpressure, not buffered.
// A request body is a Readable: when its reader does not keep up, the connection is paused.
//
// What node:http does and this does alike (so the engine and clients see no difference):
// - request headers merged as IncomingMessage merges them; `method`, `url`, `headers`, `httpVersion`.
// - keep-alive: HTTP/1.1 unless `Connection: close`, HTTP/1.0 only with `Connection: keep-alive`;
//   idle connections closed after keepAliveTimeoutMs (node:http's keepAliveTimeout).
// - slow clients (node:http's headersTimeout and requestTimeout, at their defaults): a request's
//   head must be complete one keep-alive period (60 s) after its first byte, and the whole request
//   within requestTimeoutMs (300 s; checked once per keep-alive period), else `408 Request Timeout`
//   with `Connection: close` (when no response has begun; else the connection is destroyed), logged
//   as http1_request_timeout.
// - the response head: `HTTP/1.1 <status> <reason>`, the headers in the order given (one line per
//   value of a list), `Date`, `Connection: keep-alive` + `Keep-Alive: timeout=N` (or
//   `Connection: close`), then `Transfer-Encoding: chunked` when the response has a body and no
//   Content-Length (trailers then follow the last chunk), or `Content-Length` when `end(body)` is the
//   first call. No body for HEAD, 1xx, 204 and 304. The head goes out with the first body bytes, and a
//   response ended in one call is one write.
// - a response finished before its request's body was read: the rest of the body is read and dropped.
// - a request destroyed before its end (too large) destroys the connection, as IncomingMessage does.
// - the connection closing mid-request fails the request's body with `aborted` (ECONNRESET);
//   the response emits 'close'.
// Different on purpose: a malformed request is answered `400 Bad Request` (a head over 16 KiB
// `431 Request Header Fields Too Large`) with `Connection: close`, logged with its HTTP1_* code, and
// the connection ended; node:http's 'clientError' handler here destroyed the connection silently.
//
// Left to node:http (the connection is handed over, bytes not yet consumed put back, before the
// request is consumed; see Http1RequestHead.handOver): Upgrade (websocket) and CONNECT requests,
// requests with `Expect` (node:http answers 100-continue itself), and an HTTP/2 preface on a
// connection decided as HTTP/1 (h2c prior knowledge is sniffed before serving: ./http-serving.ts).
import { EventEmitter } from 'node:events'
import http from 'node:http'
import { Readable, type Duplex } from 'node:stream'
import { isAmbientError, errorMessage } from '../errors.js'
import { endedWithoutEndStream, isHttp2Stream } from '../net/pipe.js'
import { closeConnection } from '../net/tunnel-close.js'
import type { Logger } from '../observability/logger.js'
import {
  Http1ErrorCode,
  Http1RequestParser,
  isHeaderName,
  isHeaderValue,
  type Http1Headers,
  type Http1RequestHead,
  type Http1RequestSink,
} from './http1-codec.js'
import { StreamSocket } from './stream-socket.js'

export interface Http1DownstreamOptions {
  /** Called for each request, with the head read; the body streams into `req`. */
  onRequest(req: Http1ServerRequest, res: Http1ServerResponse): void
  /**
   * Takes a connection this codec does not serve (bytes put back, paused): node:http's server. A
   * tunnel's stream is handed over inside a StreamSocket (made then, with `remoteAddress`).
   */
  handOver(socket: Duplex, reason: NonNullable<Http1RequestHead['handOver']>): void
  /** The peer's address a handed-over tunnel's socket reports. */
  remoteAddress?: string
  keepAliveTimeoutMs: number
  /** A request must be complete this long after its first byte (node:http's requestTimeout); default 300 s. */
  requestTimeoutMs?: number
  logger: Logger
}

/** node:http's requestTimeout default. */
export const REQUEST_TIMEOUT_MS = 300_000

/** A request as the engine reads it: IncomingMessage's fields it uses, the body a Readable. */
export class Http1ServerRequest extends Readable {
  readonly method: string
  readonly url: string
  readonly headers: Http1Headers
  readonly httpVersion: string
  readonly httpVersionMajor = 1
  readonly httpVersionMinor: number
  complete = false
  /** The whole body, when it came with the head (in the same read): taken by `takeBody`, else pushed. */
  whole: Buffer | null = null

  constructor(
    head: Http1RequestHead,
    readonly socket: Duplex,
    private readonly wantMore: () => void,
    private readonly onDestroy: (req: Http1ServerRequest) => void,
  ) {
    super()
    this.method = head.method
    this.url = head.url
    this.headers = head.headers
    this.httpVersionMinor = head.minorVersion
    this.httpVersion = head.minorVersion === 1 ? '1.1' : '1.0'
  }

  override _read(): void {
    this.wantMore()
  }

  /**
   * Tells the connection at once (no listeners per request). An error nobody listens for is not
   * emitted: the connection fails a request's body whether or not anyone still reads it.
   */
  override _destroy(err: Error | null, callback: (err?: Error | null) => void): void {
    this.onDestroy(this)
    callback(err !== null && this.listenerCount('error') > 0 ? err : null)
  }

  /** The whole body when it arrived with the head; the stream then carries nothing. Else null. */
  takeBody(): Buffer | null {
    const body = this.whole
    this.whole = null
    return body
  }
}

let dateCache = ''
let dateCacheSecond = -1

/** The Date header's value, formatted once a second (node:http caches it alike). */
function httpDate(): string {
  const now = Date.now()
  const second = Math.floor(now / 1000)
  if (second !== dateCacheSecond) {
    dateCacheSecond = second
    dateCache = new Date(now).toUTCString()
  }
  return dateCache
}

const EMPTY = Buffer.alloc(0)
const LAST_CHUNK = '0\r\n'

/** A response as the engine writes it: ServerResponse's calls it uses. */
export class Http1ServerResponse extends EventEmitter {
  statusCode = 200
  headersSent = false
  writableEnded = false
  writableFinished = false
  destroyed = false
  /** Whether the connection ends after this response (HTTP/1.0 without a length, `Connection: close`). */
  last = false
  /** The head, kept until the first body bytes go out with it. */
  private head: string | null = null
  private chunked = false
  private hasBody: boolean
  private trailer = ''

  constructor(
    private readonly request: Http1RequestHead,
    readonly socket: Duplex,
    private readonly keepAliveTimeoutSeconds: number,
    private readonly onFinish: (res: Http1ServerResponse) => void,
    private readonly dropConnection: () => void,
  ) {
    super()
    this.hasBody = request.method !== 'HEAD'
  }

  /**
   * `validated`: headers our codec parsed from the upstream response (checked then); a header whose
   * value is the same as its entry there is written without checking it again.
   */
  writeHead(
    status: number,
    headers?: Record<string, string | string[] | number>,
    validated?: Readonly<Record<string, string | readonly string[]>>,
  ): this {
    this.storeHead(status, headers, undefined, validated)
    return this
  }

  addTrailers(trailers: Record<string, string>): void {
    for (const name in trailers) {
      const value = String(trailers[name])
      checkHeader(name, value)
      this.trailer += `${name}: ${value}\r\n`
    }
  }

  write(chunk: Buffer | string): boolean {
    if (this.writableEnded || this.destroyed) return false
    if (!this.headersSent) this.storeHead(this.statusCode, undefined, undefined)
    const body = typeof chunk === 'string' ? Buffer.from(chunk) : chunk
    if (!this.hasBody || body.length === 0) return this.flushHead()
    return this.socket.write(this.framed(body, ''))
  }

  end(chunk?: Buffer | string): this {
    if (this.writableEnded) return this
    this.writableEnded = true
    const body = chunk === undefined ? EMPTY : typeof chunk === 'string' ? Buffer.from(chunk) : chunk
    if (!this.headersSent) this.storeHead(this.statusCode, undefined, body.length)
    if (this.destroyed) return this
    const last = this.chunked ? `${LAST_CHUNK}${this.trailer}\r\n` : ''
    const out =
      this.hasBody && body.length > 0
        ? this.framed(body, last)
        : Buffer.from(this.head === null ? last : `${this.takeHead()}${last}`, 'latin1')
    this.socket.write(out, (err) => {
      // A failed write: the connection is going, its 'close' closes this response.
      if (err) return
      this.writableFinished = true
      this.emit('finish')
      this.close()
    })
    return this
  }

  /** Gives up the response: the connection is closed (END_STREAM on a tunnel, as a socket's close). */
  destroy(): void {
    this.dropConnection()
  }

  /** The connection closed: 'close' without 'finish' if the response was not written. */
  close(): void {
    if (this.destroyed) return
    this.destroyed = true
    this.emit('close')
    this.onFinish(this)
  }

  /**
   * The head (if not sent yet), then `body` as it goes on the wire (a chunk when chunked), then
   * `tail` (end's last chunk): one buffer, written in place (no buffer for the head, no concat).
   */
  private framed(body: Buffer, tail: string): Buffer {
    let prefix = this.head === null ? '' : this.takeHead()
    if (this.chunked) prefix += `${body.length.toString(16)}\r\n`
    const suffix = this.chunked ? `\r\n${tail}` : tail
    const out = Buffer.allocUnsafe(prefix.length + body.length + suffix.length)
    out.write(prefix, 0, 'latin1')
    body.copy(out, prefix.length)
    if (suffix !== '') out.write(suffix, prefix.length + body.length, 'latin1')
    return out
  }

  private flushHead(): boolean {
    if (this.head === null) return true
    return this.socket.write(Buffer.from(this.takeHead(), 'latin1'))
  }

  private takeHead(): string {
    const head = this.head!
    this.head = null
    return head
  }

  /** node:http's ServerResponse head; `knownLength` is end(body)'s length when end is the first call. */
  private storeHead(
    status: number,
    headers: Record<string, string | string[] | number> | undefined,
    knownLength: number | undefined,
    validated?: Readonly<Record<string, string | readonly string[]>>,
  ): void {
    if (this.headersSent) return
    if (!Number.isInteger(status) || status < 100 || status > 999) {
      const err = new RangeError(`Invalid status code: ${status}`)
      throw Object.assign(err, { code: 'ERR_HTTP_INVALID_STATUS_CODE' })
    }
    let head = `HTTP/1.1 ${status} ${http.STATUS_CODES[status] ?? 'unknown'}\r\n`
    let contentLength = false
    let te: string | undefined
    let connection: string | undefined
    let hasDate = false
    if (headers !== undefined)
      for (const name in headers) {
        const value = headers[name]!
        if (typeof value === 'string' && validated !== undefined && validated[name] === value) {
          // As parsed: a lower-case token name and a value without control characters. Only a
          // string: a list (set-cookie) may be the parsed array itself, and is written line by line.
          head += `${name}: ${value}\r\n`
          if (name === 'content-length') contentLength = true
          else if (name === 'transfer-encoding') te = value
          else if (name === 'connection') connection = value
          else if (name === 'date') hasDate = true
          continue
        }
        const lower = name.toLowerCase()
        if (Array.isArray(value)) for (const v of value) head += headerLine(name, v)
        else head += headerLine(name, String(value))
        if (lower === 'content-length') contentLength = true
        else if (lower === 'transfer-encoding') te = String(value)
        else if (lower === 'connection') connection = String(value)
        else if (lower === 'date') hasDate = true
      }
    this.statusCode = status
    if (status === 204 || status === 304 || status < 200) this.hasBody = false
    if (!hasDate) head += `Date: ${httpDate()}\r\n`
    const chunkedByDefault = this.request.minorVersion === 1 || hasTokenIn(this.request.headers.te, 'chunked')
    if (connection !== undefined) {
      if (hasTokenIn(connection, 'close')) this.last = true
    } else if (this.request.keepAlive && (contentLength || chunkedByDefault)) {
      head += `Connection: keep-alive\r\nKeep-Alive: timeout=${this.keepAliveTimeoutSeconds}\r\n`
    } else {
      this.last = true
      head += 'Connection: close\r\n'
    }
    if (te !== undefined) this.chunked = this.hasBody && hasTokenIn(te, 'chunked')
    else if (!contentLength && this.hasBody) {
      if (!chunkedByDefault) this.last = true
      else if (knownLength !== undefined) head += `Content-Length: ${knownLength}\r\n`
      else {
        head += 'Transfer-Encoding: chunked\r\n'
        this.chunked = true
      }
    }
    if (!this.request.keepAlive) this.last = true
    this.head = `${head}\r\n`
    this.headersSent = true
  }
}

function headerLine(name: string, value: string): string {
  checkHeader(name, value)
  return `${name}: ${value}\r\n`
}

/** Throws node:http's own errors (ERR_INVALID_HTTP_TOKEN, ERR_INVALID_CHAR) for what it refuses. */
function checkHeader(name: string, value: string): void {
  if (!isHeaderName(name)) http.validateHeaderName(name)
  if (!isHeaderValue(value)) http.validateHeaderValue(name, value)
}

function hasTokenIn(value: string | string[] | undefined, token: string): boolean {
  if (value === undefined) return false
  const s = Array.isArray(value) ? value.join(',') : value
  for (const t of s.split(',')) if (t.trim().toLowerCase() === token) return true
  return false
}

function aborted(): Error {
  return Object.assign(new Error('aborted'), { code: 'ECONNRESET' })
}

/**
 * Serves HTTP/1.x requests on `socket` (paused or flowing; bytes already put back are read first),
 * or on a tunnel's stream itself (`head`: the bytes already read from it).
 */
export function serveHttp1(socket: Duplex, options: Http1DownstreamOptions, head?: Buffer): void {
  new Http1DownstreamConnection(socket, options, head)
}

class Http1DownstreamConnection {
  private parser: Http1RequestParser | null = null
  private head: Http1RequestHead | null = null
  private req: Http1ServerRequest | null = null
  private res: Http1ServerResponse | null = null
  /** The current request's bytes from its first, until its head is parsed (put back on a hand-over). */
  private headChunks: Buffer[] = []
  /** Bytes read after the current request, waiting for its response to finish. */
  private stash: Buffer[] = []
  /** Stashed bytes being parsed now that the previous response is written. */
  private replay: Buffer[] = []
  private handOverReason: NonNullable<Http1RequestHead['handOver']> = 'upgrade'
  /** The client ended its side: no request after the current one. */
  private peerEnded = false
  /** The response finished before the request's body was read: the rest is dropped. */
  private dumping = false
  /** The request body's reader wants no more for now. */
  private bodyPaused = false
  private done = false
  /**
   * One timer per connection, armed lazily: a request's start and its end only note the time
   * (markedAt); the timer, when it fires, re-arms for what is left of the period counted from the
   * last mark. So a request moves no timer (node's refresh() re-inserts it in the timer list, twice
   * per request), and the connection still closes a whole period after it went idle.
   */
  private idle: NodeJS.Timeout
  /** When the current period started (Date.now()): the last request's start, or its end (idle). */
  private markedAt = Date.now()
  private readonly keepAliveTimeoutSeconds: number
  /** When the current request's first byte arrived (Date.now()). */
  private requestStartedAt = 0
  /** The current request went to onRequest (not before the read that brought its head is parsed). */
  private delivered = false
  /** Body bytes parsed before the request was delivered. */
  private early: Buffer[] = []
  /** An HBONE tunnel's stream, not a socket: closing it is END_STREAM, and 'close' waits for the peer. */
  private readonly tunnel: boolean

  constructor(
    private readonly socket: Duplex,
    private readonly options: Http1DownstreamOptions,
    head: Buffer | undefined,
  ) {
    this.tunnel = isHttp2Stream(socket)
    this.keepAliveTimeoutSeconds = Math.floor(options.keepAliveTimeoutMs / 1000)
    // Idle between requests; during one, the slow-client checks (onTimer).
    this.idle = setTimeout(this.onTimer, options.keepAliveTimeoutMs)
    this.idle.unref()
    socket.on('data', this.onData)
    socket.on('end', this.onEnd)
    socket.on('close', this.onClose)
    socket.on('drain', this.onDrain)
    socket.on('error', () => undefined)
    socket.resume()
    if (head !== undefined && head.length > 0) this.onData(head)
  }

  private readonly onData = (chunk: Buffer): void => {
    if (this.done) return
    if (this.parser !== null && this.parser.complete) {
      // A pipelined request: kept until the response to this one is written.
      this.stash.push(chunk)
      this.socket.pause()
      return
    }
    this.feed(chunk)
  }

  private feed(chunk: Buffer): void {
    let at = 0
    while (at < chunk.length && !this.done) {
      const rest = at === 0 ? chunk : chunk.subarray(at)
      if (this.parser === null) this.startRequest()
      const parser = this.parser!
      if (this.head === null) this.headChunks.push(rest)
      let used: number
      try {
        used = parser.execute(rest)
      } catch (err) {
        return this.fail(err)
      }
      if (parser.stopped) return this.handOver()
      if (this.head !== null) this.headChunks = []
      at += used
      if (this.req !== null && !this.delivered) this.deliver()
      if (parser.complete) {
        if (at < chunk.length) this.stash.push(chunk.subarray(at))
        // Answered before its body was read (and the rest dropped): on to the next request.
        if (this.res !== null && this.res.destroyed) this.next()
        else if (this.stash.length > 0) this.socket.pause()
        return
      }
    }
  }

  private readonly onTimer = (): void => {
    if (this.done) return
    const left = this.markedAt + this.options.keepAliveTimeoutMs - Date.now()
    if (left > 0) {
      this.idle = setTimeout(this.onTimer, left)
      this.idle.unref()
      return
    }
    const parser = this.parser
    if (parser === null) return this.destroy() // idle for a whole period
    const receiving = !parser.complete
    if (receiving && (this.head === null || Date.now() - this.requestStartedAt >= (this.options.requestTimeoutMs ?? REQUEST_TIMEOUT_MS))) {
      return this.timedOut()
    }
    this.idle.refresh()
  }

  /** The request did not arrive in time: 408 when nothing was answered yet, else the connection goes. */
  private timedOut(): void {
    const stage = this.head === null ? 'head' : 'body'
    this.options.logger.info({ event: 'http1_request_timeout', stage }, 'HTTP/1.1 request not received in time')
    this.done = true
    if (this.res === null || !this.res.headersSent) {
      this.req?.destroy(aborted())
      this.socket.end(Buffer.from('HTTP/1.1 408 Request Timeout\r\nConnection: close\r\n\r\n'))
      return
    }
    this.req?.destroy(aborted())
    this.destroy()
  }

  private startRequest(): void {
    this.requestStartedAt = this.markedAt = Date.now()
    this.head = null
    this.dumping = false
    this.delivered = false
    this.parser = new Http1RequestParser(this.sink)
  }

  /** What each request's parser calls: one object per connection, not three closures per request. */
  private readonly sink: Http1RequestSink = {
    head: (head) => this.onHead(head),
    data: (chunk) => {
      if (this.dumping || this.req === null) return
      if (this.delivered) this.pushBody(chunk)
      else this.early.push(chunk)
    },
    end: () => {
      const req = this.req!
      req.complete = true
      if (!this.dumping && this.delivered) req.push(null)
    },
  }

  private pushBody(chunk: Buffer): void {
    if (!this.req!.push(chunk)) {
      this.bodyPaused = true
      this.socket.pause()
    }
  }

  /**
   * The read that brought the request's head is parsed: to the engine. A body complete by then goes
   * whole (`takeBody`: no stream, one buffer); otherwise what arrived is streamed, and the rest after it.
   */
  private deliver(): void {
    this.delivered = true
    const req = this.req!
    const early = this.early
    this.early = []
    if (req.complete) req.whole = early.length === 0 ? EMPTY : early.length === 1 ? early[0]! : Buffer.concat(early)
    else for (const chunk of early) this.pushBody(chunk)
    this.options.onRequest(req, this.res!)
    // Not taken (a reader of the stream): the body goes the stream's way.
    const whole = req.takeBody()
    if (whole === null) return
    if (whole.length > 0) req.push(whole)
    req.push(null)
  }

  private onHead(head: Http1RequestHead): boolean {
    if (head.handOver !== undefined) {
      this.handOverReason = head.handOver
      return false
    }
    this.head = head
    const req = new Http1ServerRequest(head, this.socket, this.wantMore, this.requestDestroyed)
    const res = new Http1ServerResponse(head, this.socket, this.keepAliveTimeoutSeconds, this.onResponseDone, this.destroy)
    this.req = req
    this.res = res
    return true
  }

  /** Destroyed before its end (the engine refuses a body over its limit): as IncomingMessage, the connection goes with it. */
  private readonly requestDestroyed = (req: Http1ServerRequest): void => {
    if (!req.complete && !this.done) this.destroy()
  }

  private readonly wantMore = (): void => {
    if (!this.bodyPaused) return
    this.bodyPaused = false
    if (this.parser !== null && !this.parser.complete) this.socket.resume()
  }

  private readonly onResponseDone = (res: Http1ServerResponse): void => {
    if (res !== this.res || this.done) return
    if (res.last) {
      this.done = true
      this.socket.end()
      return
    }
    if (this.parser !== null && !this.parser.complete) {
      // The request's body is still arriving: read and drop it, then the next request.
      this.dumping = true
      this.bodyPaused = false
      this.socket.resume()
      return
    }
    this.next()
  }

  /** The request and its response are complete: on to the bytes that followed. */
  private next(): void {
    if (!this.head!.keepAlive || this.peerEnded) {
      this.done = true
      this.socket.end()
      return
    }
    this.parser = null
    this.head = null
    this.req = null
    this.res = null
    this.markedAt = Date.now()
    this.replay = this.stash
    this.stash = []
    while (this.replay.length > 0 && !this.done) {
      if (this.requestComplete()) {
        // Another complete request: the rest waits for its response.
        this.stash.push(...this.replay)
        this.replay = []
        return
      }
      this.feed(this.replay.shift()!)
    }
    if (!this.done && !this.requestComplete()) this.socket.resume()
  }

  private requestComplete(): boolean {
    return this.parser !== null && this.parser.complete
  }

  private fail(err: unknown): void {
    const code = isAmbientError(err) ? err.code : 'HTTP1_PARSE_ERROR'
    this.options.logger.info({ event: 'http1_bad_request', code, reason: errorMessage(err) }, 'bad HTTP/1.1 request')
    this.done = true
    if (this.head === null) {
      // No response started: say why, then close.
      const status = code === Http1ErrorCode.headTooLarge ? 431 : 400
      this.socket.end(Buffer.from(`HTTP/1.1 ${status} ${http.STATUS_CODES[status]}\r\nConnection: close\r\n\r\n`))
      return
    }
    // Mid-body: the request fails, the connection goes. Bad body bytes in the read that brought the
    // head fail it before it went to the engine: it goes now, so it is counted as when they come
    // in a later read (the engine's body read fails: 400 DPE).
    if (this.req !== null && !this.delivered) this.deliver()
    this.req?.destroy(err as Error)
    this.destroy()
  }

  private handOver(): void {
    this.done = true
    clearTimeout(this.idle)
    const socket = this.socket
    socket.off('data', this.onData)
    socket.off('end', this.onEnd)
    socket.off('close', this.onClose)
    socket.off('drain', this.onDrain)
    socket.pause()
    const parts = [...this.headChunks, ...this.stash, ...this.replay]
    this.headChunks = []
    this.stash = []
    this.replay = []
    const rest = parts.length === 1 ? parts[0]! : Buffer.concat(parts)
    if (!this.tunnel) {
      socket.unshift(rest)
      return this.options.handOver(socket, this.handOverReason)
    }
    // node:http needs a socket: the adapter, made now, with the bytes read put back in front.
    const remote = this.options.remoteAddress
    this.options.handOver(
      new StreamSocket(socket, { head: rest, ...(remote === undefined ? {} : { remoteAddress: remote }) }),
      this.handOverReason,
    )
  }

  /**
   * The connection goes (no error: as a socket's destroy). A tunnel's stream is ended (END_STREAM,
   * not a reset) and its 'close' waits for the peer, so what 'close' does here is done now.
   */
  private readonly destroy = (): void => {
    closeConnection(this.socket)
    if (this.tunnel) this.onClose()
  }

  private readonly onEnd = (): void => {
    if (this.done) return
    // A tunnel's stream ends on a reset too: that is a close, not the client's end.
    if (endedWithoutEndStream(this.socket)) return this.onClose()
    if (this.parser === null) {
      // Idle: the client is done.
      this.done = true
      this.socket.end()
      return
    }
    if (!this.parser.complete) {
      // Cut mid-request.
      this.done = true
      if (this.req !== null) this.req.destroy(aborted())
      this.destroy()
    }
    // Else the response in progress is written, then the connection ends.
    else this.peerEnded = true
  }

  private readonly onClose = (): void => {
    this.done = true
    clearTimeout(this.idle)
    const req = this.req
    if (req !== null && !req.complete) req.destroy(aborted())
    this.res?.close()
  }

  private readonly onDrain = (): void => {
    this.res?.emit('drain')
  }
}
