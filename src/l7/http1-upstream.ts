// One upstream HTTP/1.1 connection of the L7 pool, spoken with our own codec (./http1-codec.ts)
// instead of node:http's client: one exchange at a time (no pipelining: the pool attaches a request
// only to an idle connection), the request written as one Buffer, the response parsed from the
// connection's 'data' and its body handed on as a Readable. node:http's ClientRequest and
// IncomingMessage per request, its parser pool, its 'free' hand-back (with its duplicate release,
// nodejs/node#60001) and the listeners it added and removed on the socket per request were a third
// of the waypoint's node:http time.
//
// The connection's listeners are set once. It tells the pool when it can carry the next request
// (`idle`: the response was read to its end and allowed keep-alive); anything else (Connection:
// close, a body delimited by the connection's end, an aborted or cut exchange, bytes nobody asked
// for) destroys the transport, whose 'close' the pool watches. As before: a reset or close before a
// complete response is `WAYPOINT_UPSTREAM_RESET` (UC) keeping the cause (a parse error's
// Http1ErrorCode among them), an abort (or the downstream going away) destroys the connection and
// rejects with the signal's reason, and `done` runs once the exchange no longer holds the
// connection. One difference from node:http: a response discarded after it was read completely (a
// retried try's 503) leaves the connection reusable, where node:http destroyed the socket.
//
// The transport is a socket (TCP, the sidecar's mTLS leg) or an HBONE tunnel's stream itself (the
// waypoint: no socket adapter between the codec and the Http2Stream). Closing it goes through
// closeConnection: END_STREAM on a tunnel (a reset only with an error), and since the tunnel's
// 'close' then waits for the peer, the pool hears of it at once (`gone`). A tunnel whose readable
// side ends without the peer's END_STREAM was reset: its 'close' fails the exchange, not 'end'.
//
// HTTP/2 upstreams stay on node:http2 (./upstream-exchange.ts, sendH2).
import { Readable, type Duplex } from 'node:stream'
import { AmbientError } from '../errors.js'
import { endedWithoutEndStream, isHttp2Stream } from '../net/pipe.js'
import { closeConnection } from '../net/tunnel-close.js'
import { HOP_BY_HOP, stripHopByHop } from './http-headers.js'
import { encodeRequest, Http1ErrorCode, Http1ResponseParser, type Http1Headers, type Http1ResponseHead } from './http1-codec.js'
import { abortReason, notStarted, resetError, type UpstreamExchange, type UpstreamResponse } from './upstream-exchange.js'
import { canAbort } from './try-signal.js'

const NO_TRAILERS: Http1Headers = {}

/** Whether a Connection header names headers beyond the hop-by-hop ones the codec already left out. */
function namesOthers(connection: string): boolean {
  // What servers send (node:http's every response): one hop-by-hop token, no list to split.
  if (connection === 'keep-alive' || connection === 'close') return false
  for (const t of connection.split(',')) {
    const name = t.trim().toLowerCase()
    if (name !== '' && name !== 'close' && !HOP_BY_HOP.has(name)) return true
  }
  return false
}

/** A response body: reading resumes the connection it comes from. */
class ResponseBody extends Readable {
  constructor(private readonly transport: Duplex) {
    super()
  }
  override _read(): void {
    this.transport.resume()
  }
}

/**
 * One request on the connection, from its write to the end (or failure) of its response. The body's
 * stream is made when first asked for, or after the read that brought the head when the response
 * is not complete by then (from there on the stream's backpressure pauses the connection). A
 * response complete in that read can be taken whole (`takeBody`): no stream at all.
 */
class Http1Exchange {
  readonly parser: Http1ResponseParser
  settled = false
  trailers: Http1Headers = NO_TRAILERS
  private stream: ResponseBody | null = null
  /** Body bytes read before the stream was made. */
  private early: Buffer[] = []
  private ended = false
  /** The body was taken whole, or dropped before a stream was made. */
  private released = false
  private readonly abortable: boolean

  constructor(
    private readonly conn: Http1Upstream,
    readonly x: UpstreamExchange,
    private readonly resolve: (r: UpstreamResponse) => void,
    private readonly reject: (err: Error) => void,
  ) {
    this.parser = new Http1ResponseParser(this, x.request.method === 'HEAD')
    this.abortable = canAbort(x.signal)
    if (this.abortable) x.signal.addEventListener('abort', this.onAbort, { once: true })
    // The downstream going away resets this exchange as an abort does (the connection goes).
    if (x.cancel !== null) x.cancel.resetTry = this.onAbort
  }

  readonly onAbort = (): void => {
    this.conn.fail(this, abortReason(this.x.signal))
  }

  head(h: Http1ResponseHead): void {
    this.settled = true
    const headers =
      h.connection === undefined || !namesOthers(h.connection) ? h.headers : stripHopByHop({ ...h.headers, connection: h.connection })
    this.resolve(new Http1Response(this, h.status, headers, h.headers))
  }

  data(chunk: Buffer): void {
    if (this.stream === null) this.early.push(chunk)
    else if (!this.stream.push(chunk)) this.conn.transport.pause()
  }

  end(trailers: Http1Headers): void {
    this.trailers = trailers
    this.ended = true
    this.stream?.push(null)
  }

  /** The read that brought the head is parsed: an incomplete response's body becomes a stream now. */
  afterRead(): void {
    if (this.settled && this.stream === null && !this.ended && !this.released) this.bodyStream()
  }

  bodyStream(): ResponseBody {
    if (this.stream !== null) return this.stream
    const body = new ResponseBody(this.conn.transport)
    this.stream = body
    body.on('error', () => undefined) // an abort mid-body is the caller's (it aborted)
    body.once('end', () => this.conn.consumed(this))
    body.once('close', () => this.conn.closed(this))
    for (const chunk of this.early) body.push(chunk)
    this.early = []
    if (this.ended || this.released) body.push(null)
    return body
  }

  takeBody(): Buffer | null {
    if (this.stream !== null || this.released || !this.ended) return null
    this.released = true
    const early = this.early
    this.early = []
    this.conn.consumed(this)
    return early.length === 1 ? early[0]! : Buffer.concat(early)
  }

  discard(): void {
    if (this.stream !== null) return void this.stream.destroy()
    if (this.released) return
    this.released = true
    this.early = []
    this.conn.closed(this)
  }

  detach(): void {
    if (this.abortable) this.x.signal.removeEventListener('abort', this.onAbort)
    const cancel = this.x.cancel
    if (cancel !== null && cancel.resetTry === this.onAbort) cancel.resetTry = null
  }

  /** The exchange failed: before its response (a rejection), or in its body (the body errors). */
  failed(err: Error): void {
    this.detach()
    if (!this.settled) {
      this.settled = true
      this.reject(this.x.signal.aborted ? abortReason(this.x.signal) : resetError(err))
    } else if (!this.released) {
      const body = this.bodyStream()
      if (!body.destroyed) body.destroy(err)
    }
  }
}

/** The response as the engine sees it; its body stream is made on first use (see Http1Exchange). */
class Http1Response implements UpstreamResponse {
  constructor(
    private readonly exchange: Http1Exchange,
    readonly status: number,
    readonly headers: Http1Headers,
    readonly validated: Http1Headers,
  ) {}
  get body(): Readable {
    return this.exchange.bodyStream()
  }
  trailers(): Http1Headers {
    return this.exchange.trailers
  }
  discard(): void {
    this.exchange.discard()
  }
  takeBody(): Buffer | null {
    return this.exchange.takeBody()
  }
}

export class Http1Upstream {
  private current: Http1Exchange | null = null
  private cause: Error | null = null
  /** We closed the connection (a tunnel's stream may still be open, waiting for the peer's end). */
  private closedHere = false
  private readonly tunnel: boolean

  constructor(
    readonly transport: Duplex,
    /** The connection can carry the next request. */
    private readonly idle: () => void,
    /** We closed a tunnel's stream: the pool drops the connection now, not at the stream's 'close'. */
    private readonly gone: () => void = () => undefined,
  ) {
    this.tunnel = isHttp2Stream(transport)
    transport.on('data', (chunk: Buffer) => this.onData(chunk))
    transport.on('end', () => this.onEnd())
    transport.on('error', (err: Error) => {
      this.cause = err
    })
    transport.on('close', () => {
      const x = this.current
      if (x !== null && !x.parser.complete) this.fail(x, this.cause ?? new Error('upstream connection closed'))
    })
  }

  /** One exchange; the pool gives an idle connection only. */
  send(x: UpstreamExchange): Promise<UpstreamResponse> {
    return new Promise((resolve, reject) => {
      const stop = notStarted(x.signal, x.cancel)
      if (stop !== null) {
        // Nothing was written: the connection stays usable (the pool attached it: it is told).
        reject(stop)
        queueMicrotask(this.idle)
        return
      }
      let bytes: Buffer
      try {
        bytes = encodeRequest(x.request)
      } catch (err) {
        // Nothing was written: the connection stays usable.
        reject(resetError(err))
        queueMicrotask(this.idle)
        return
      }
      if (this.closedHere || this.transport.destroyed || this.transport.writableEnded)
        return reject(resetError(this.cause ?? new Error('upstream connection closed')))
      this.current = new Http1Exchange(this, x, resolve, reject)
      // A previous body's backpressure may have left the connection paused.
      this.transport.resume()
      this.transport.write(bytes)
    })
  }

  private onData(chunk: Buffer): void {
    if (this.closedHere) return
    const x = this.current
    if (x === null || x.parser.complete) {
      // Nobody asked: the connection's framing cannot be trusted any more.
      this.close(new AmbientError(Http1ErrorCode.unsolicited, 'upstream sent bytes with no request waiting', { side: 'upstream' }))
      return
    }
    try {
      x.parser.execute(chunk)
    } catch (err) {
      this.fail(x, err as Error)
      return
    }
    x.afterRead()
  }

  private onEnd(): void {
    const x = this.current
    if (x === null || x.parser.complete) return
    // A reset, not the peer's END_STREAM: 'close' fails the exchange with the cause.
    if (endedWithoutEndStream(this.transport)) return
    try {
      x.parser.finish()
    } catch (err) {
      this.fail(x, err as Error)
    }
  }

  /** The exchange's response body was read to its end (or taken whole). */
  consumed(x: Http1Exchange): void {
    x.detach()
    x.x.done()
    if (this.current !== x) return
    this.current = null
    if (x.parser.keepAlive && this.open()) this.idle()
    else this.close()
  }

  /** The body closed: after its end (consumed), or destroyed or dropped (discard, abort, a failure). */
  closed(x: Http1Exchange): void {
    x.detach()
    x.x.done()
    if (this.current !== x) return
    this.current = null
    // A response read completely and dropped unread leaves the connection as it was.
    if (x.parser.complete && x.parser.keepAlive && this.open()) this.idle()
    else this.close()
  }

  fail(x: Http1Exchange, err: Error): void {
    // A complete response's body, destroyed by an abort: its 'close' (closed) decides the connection.
    if (x.parser.complete) return x.failed(err)
    if (this.current === x) this.current = null
    x.failed(err)
    this.close()
  }

  private open(): boolean {
    return !this.closedHere && !this.transport.destroyed
  }

  /** Closes the connection: END_STREAM on a tunnel (a reset with `err`), a socket destroyed. */
  private close(err?: Error): void {
    if (this.closedHere) return
    this.closedHere = true
    closeConnection(this.transport, err)
    if (this.tunnel) this.gone()
  }
}
