// The reference L7 hop of `bench:waypoint` (issue 14): the least a Node process can do to be an
// HTTP/1.1 L7 proxy between two HBONE tunnels, written with node:net, node:tls and node:http2 only
// (none of the project's HBONE, pipe or L7 code), so that our waypoint ÷ reference on the same load
// says what our waypoint spends beyond being an L7 hop at all.
//
// - downstream: h2 over TLS 1.3 (client certificate required); every CONNECT to `target` is a
//   tunnel whose bytes are HTTP/1.1 requests on a keep-alive connection;
// - each request's head is scanned (end of head, Content-Length; chunked bodies, upgrades and
//   CONNECT are refused with a plain status, l7-reference-head.ts), then the head and body bytes go
//   unchanged onto an upstream stream: a keep-alive CONNECT stream to `target` on ONE shared TLS 1.3
//   + h2 session to the upstream HBONE server, taken from a small pool (one request in flight per
//   stream, as an L7 proxy's upstream connection pool); more requests than streams wait in order;
// - the response head is scanned the same way (Content-Length), the response written back to the
//   tunnel, and the stream returned to the pool.
//
// No policy, routing, header rewriting, metrics, logs or timers. Nagle off, 4 MiB windows
// (reference-h2.ts). A client pipelining requests waits: its next request is read once the
// response to the previous one is complete.
import type http2 from 'node:http2'
import type { HostPort, SerializedCertificate } from './hbone-config.js'
import type { RunningWorker } from './ipc.js'
import { closeServer, connectH2Session, listenOn, secureH2Server } from './reference-h2.js'
import { scanRequestHead, scanResponseHead } from './l7-reference-head.js'

export interface L7ReferenceConfig {
  host: string
  certificate: SerializedCertificate
  /** The upstream HBONE server (the reference pair's server role) and the SPIFFE URI it must present. */
  upstream: HostPort
  upstreamUri: string
  /** The one tunnel :authority accepted downstream (others get 403), and the CONNECT authority upstream. */
  target: HostPort
  /** Upstream streams at most (default 16); requests beyond wait for one to be free. */
  maxUpstreamStreams?: number
}

const END_OF_HEAD = Buffer.from('\r\n\r\n')
const MAX_HEAD_BYTES = 64 * 1024
const STATUS_TEXT: Record<number, string> = {
  400: 'Bad Request',
  431: 'Request Header Fields Too Large',
  501: 'Not Implemented',
  502: 'Bad Gateway',
}

const concat = (a: Buffer | undefined, b: Buffer): Buffer => (a === undefined || a.length === 0 ? b : Buffer.concat([a, b]))

/** One keep-alive CONNECT stream to the target; carries one request/response at a time. */
class Upstream {
  owner: Tunnel | undefined
  private pending: Buffer | undefined
  private bodyLeft = -1
  private closeAfter = false
  private dead = false
  private draining = false

  constructor(
    readonly stream: http2.ClientHttp2Stream,
    private readonly pool: UpstreamPool,
  ) {
    stream.once('response', (headers) => {
      if (headers[':status'] !== 200) this.fail()
    })
    stream.on('data', (chunk: Buffer) => this.onData(chunk))
    stream.on('end', () => this.fail())
    stream.on('close', () => this.fail())
    stream.on('error', () => this.fail())
  }

  write(bytes: Buffer, down: http2.ServerHttp2Stream): void {
    if (!this.stream.write(bytes) && !this.draining) {
      this.draining = true
      down.pause()
      this.stream.once('drain', () => {
        this.draining = false
        down.resume()
      })
    }
  }

  private onData(chunk: Buffer): void {
    const t = this.owner
    if (t === undefined) return this.fail() // bytes nobody asked for
    let buf = concat(this.pending, chunk)
    this.pending = undefined
    while (buf.length > 0) {
      if (this.bodyLeft < 0) {
        const end = buf.indexOf(END_OF_HEAD)
        if (end < 0) {
          if (buf.length > MAX_HEAD_BYTES) return this.fail()
          this.pending = buf
          return
        }
        const r = scanResponseHead(buf.toString('latin1', 0, end), t.isHead)
        if (!r.ok) return this.fail(r.reason)
        const headBytes = end + 4
        if (r.interim) {
          t.send(buf.subarray(0, headBytes), this)
          buf = buf.subarray(headBytes)
          continue
        }
        this.closeAfter = r.close
        this.bodyLeft = r.bodyBytes + headBytes
      }
      const n = Math.min(this.bodyLeft, buf.length)
      t.send(n === buf.length ? buf : buf.subarray(0, n), this)
      this.bodyLeft -= n
      buf = buf.subarray(n)
      if (this.bodyLeft === 0) {
        if (buf.length > 0) return this.fail() // bytes after the response
        return this.done(t)
      }
    }
  }

  private done(t: Tunnel): void {
    this.bodyLeft = -1
    this.owner = undefined
    const reusable = !this.closeAfter && !t.stillSending()
    if (reusable) this.pool.release(this)
    else this.retire()
    t.responseDone()
  }

  /** Out of the pool without reuse (the response said close, or the request was cut short). */
  private retire(): void {
    if (this.dead) return
    this.dead = true
    this.pool.dropped(this)
    if (!this.stream.destroyed) this.stream.close()
  }

  fail(reason = 'the upstream stream failed'): void {
    if (this.dead) return
    this.dead = true
    this.pool.dropped(this)
    if (!this.stream.destroyed) this.stream.destroy()
    const t = this.owner
    this.owner = undefined
    t?.upstreamFailed(reason)
  }
}

class UpstreamPool {
  private session: http2.ClientHttp2Session | undefined
  private readonly idle: Upstream[] = []
  private readonly waiters: Tunnel[] = []
  private open = 0

  constructor(
    private readonly config: L7ReferenceConfig,
    private readonly max: number,
  ) {}

  /** An idle or new stream, or undefined: `t` is then granted one when it frees up. */
  acquire(t: Tunnel): Upstream | undefined {
    const idle = this.idle.pop()
    if (idle !== undefined) return idle
    if (this.open < this.max) return this.create()
    this.waiters.push(t)
    return undefined
  }

  release(u: Upstream): void {
    const w = this.waiters.shift()
    if (w !== undefined) w.granted(u)
    else this.idle.push(u)
  }

  dropped(u: Upstream): void {
    this.open--
    const i = this.idle.indexOf(u)
    if (i >= 0) this.idle.splice(i, 1)
    const w = this.waiters.shift()
    if (w !== undefined) w.granted(this.create())
  }

  forget(t: Tunnel): void {
    const i = this.waiters.indexOf(t)
    if (i >= 0) this.waiters.splice(i, 1)
  }

  close(): void {
    this.session?.destroy()
  }

  private create(): Upstream {
    const { upstream, upstreamUri, certificate, target } = this.config
    if (this.session === undefined || this.session.closed || this.session.destroyed)
      this.session = connectH2Session(upstream, upstreamUri, certificate)
    this.open++
    const stream = this.session.request({ ':method': 'CONNECT', ':authority': `${target.host}:${target.port}` }, { endStream: false })
    return new Upstream(stream, this)
  }
}

/** One downstream tunnel: an HTTP/1.1 keep-alive connection, one request at a time. */
class Tunnel {
  isHead = false
  private pending: Buffer | undefined
  /** 'head': reading a request head; 'queued': waiting for an upstream stream; 'request': forwarding; 'response': waiting for it. */
  private state: 'head' | 'queued' | 'request' | 'response' | 'closed' = 'head'
  private left = 0
  private closeAfter = false
  private responseStarted = false
  private ended = false
  private draining = false
  private up: Upstream | undefined

  constructor(
    private readonly down: http2.ServerHttp2Stream,
    private readonly pool: UpstreamPool,
  ) {
    down.on('data', (chunk: Buffer) => {
      this.pending = concat(this.pending, chunk)
      this.drive()
    })
    down.on('end', () => {
      this.ended = true
      // Every complete head was read as it came: what is left in 'head' is none, or a cut one.
      if (this.state === 'head') this.finish()
    })
    down.on('close', () => this.abort())
    down.on('error', () => this.abort())
  }

  stillSending(): boolean {
    return this.state === 'request'
  }

  private drive(): void {
    while (this.pending !== undefined) {
      const buf = this.pending
      if (this.state === 'request') {
        const n = Math.min(this.left, buf.length)
        this.up!.write(n === buf.length ? buf : buf.subarray(0, n), this.down)
        this.left -= n
        this.pending = n === buf.length ? undefined : buf.subarray(n)
        if (this.left === 0) this.state = 'response'
        continue
      }
      if (this.state !== 'head') {
        // A pipelined request (or bytes after a refusal) waits for the response in flight.
        if (this.state !== 'closed') this.down.pause()
        return
      }
      const end = buf.indexOf(END_OF_HEAD)
      if (end < 0) {
        if (buf.length > MAX_HEAD_BYTES) this.refuse(431, 'request head too large')
        return
      }
      const r = scanRequestHead(buf.toString('latin1', 0, end))
      if (!r.ok) return this.refuse(r.status, r.reason)
      this.left = end + 4 + r.bodyBytes
      this.closeAfter = r.close
      this.isHead = r.isHead
      this.responseStarted = false
      this.state = 'queued'
      const u = this.pool.acquire(this)
      if (u === undefined) {
        this.down.pause()
        return
      }
      this.take(u)
    }
  }

  private take(u: Upstream): void {
    this.up = u
    u.owner = this
    this.state = 'request'
  }

  granted(u: Upstream): void {
    if (this.state !== 'queued') return this.pool.release(u)
    this.take(u)
    this.down.resume()
    this.drive()
  }

  /** Response bytes for the client. */
  send(bytes: Buffer, from: Upstream): void {
    this.responseStarted = true
    if (!this.down.write(bytes) && !this.draining) {
      this.draining = true
      from.stream.pause()
      this.down.once('drain', () => {
        this.draining = false
        from.stream.resume()
      })
    }
  }

  /** The response is complete; a request still being sent (an early response) ends the tunnel too. */
  responseDone(): void {
    const cut = this.state === 'request'
    this.up = undefined
    if (this.closeAfter || cut) return this.finish()
    this.state = 'head'
    if (this.pending !== undefined) {
      this.down.resume()
      this.drive()
    }
    if (this.ended && this.state === 'head') this.finish()
  }

  upstreamFailed(reason: string): void {
    this.up = undefined
    if (this.responseStarted) {
      this.state = 'closed'
      if (!this.down.destroyed) this.down.destroy()
      return
    }
    this.refuse(502, reason)
  }

  private refuse(status: number, reason: string): void {
    if (this.down.destroyed || this.state === 'closed') return
    const body = `${reason}\n`
    this.down.write(
      `HTTP/1.1 ${status} ${STATUS_TEXT[status] ?? 'Error'}\r\ncontent-type: text/plain\r\ncontent-length: ${Buffer.byteLength(body)}\r\n` +
        `connection: close\r\n\r\n${body}`,
    )
    this.finish()
  }

  private finish(): void {
    this.state = 'closed'
    this.pending = undefined
    if (!this.down.destroyed) this.down.end()
  }

  private abort(): void {
    if (this.state === 'queued') this.pool.forget(this)
    const up = this.up
    this.up = undefined
    this.state = 'closed'
    // A stream in the middle of an exchange cannot carry the next one.
    if (up !== undefined) {
      up.owner = undefined
      up.fail()
    }
  }
}

/** Starts the reference L7 hop on `config.host`, port 0; resolves with its port. */
export async function startL7Reference(config: L7ReferenceConfig): Promise<RunningWorker> {
  const pool = new UpstreamPool(config, config.maxUpstreamStreams ?? 16)
  const authority = `${config.target.host}:${config.target.port}`
  const server = secureH2Server(config.certificate)
  server.on('stream', (stream, headers) => {
    stream.on('error', () => undefined)
    if (headers[':method'] !== 'CONNECT' || headers[':authority'] !== authority) {
      stream.respond({ ':status': 403 }, { endStream: true })
      return
    }
    stream.respond({ ':status': 200 })
    new Tunnel(stream, pool)
  })
  const port = await listenOn(server, config.host)
  return {
    ports: [port],
    async close() {
      pool.close()
      await closeServer(server)
    },
  }
}
