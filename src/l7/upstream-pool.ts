// One connection pool: the upstream connections to one endpoint for one cluster and HTTP version,
// and the requests queued for them. It keeps the invariants of ./upstream.ts (2, 3, 4): every
// connection and every queued and active request is counted in the cluster's circuit breaker, a
// queued request takes a connection oldest first the moment one has room, a connection that carried
// maxRequestsPerConnection requests or sat idle for idleTimeout closes, and a connect failure fails
// the queue when no other connection can serve it.
import http2 from 'node:http2'
import type { ClientHttp2Session } from 'node:http2'
import type { Socket } from 'node:net'
import type { Duplex } from 'node:stream'
import { AmbientError, errorMessage } from '../errors.js'
import type { Endpoint } from '../mesh/waypoint-config.js'
import { formatHostPort } from '../net/address.js'
import { isHttp2Stream } from '../net/pipe.js'
import { closeConnection } from '../net/tunnel-close.js'
import type { Logger } from '../observability/logger.js'
import type { CircuitBreaker } from './engines/circuit-breaker.js'
import { L7ErrorCode } from './errors.js'
import { abortReason, notStarted } from './upstream-exchange.js'
import { Http1Upstream } from './http1-upstream.js'
import { StreamSocket } from './stream-socket.js'
import { canAbort, type TryCancel } from './try-signal.js'

export type UpstreamHttpVersion = 'http1' | 'h2'

/** The cluster a request is for, as the connection pool needs it. */
export interface PoolCluster {
  readonly name: string
  /** The cluster's circuit breaker (engines/circuit-breaker): every connection, queued and active request counts there. */
  readonly breaker: CircuitBreaker
  /** connectionPool idleTimeout: an idle connection is closed after it; null = kept. */
  readonly idleTimeoutMs: number | null
}

export interface Conn {
  readonly id: number
  /** The breaker its connection slot is counted in (null: opened under Envoy's "never strand" exception). */
  readonly countedIn: CircuitBreaker | null
  state: 'opening' | 'ready' | 'closed'
  /** Requests attached now (HTTP/1.1: 0 or 1). */
  busy: number
  /** Requests attached over its life (maxRequestsPerConnection). */
  served: number
  /** HTTP/1.1: the last response was consumed on a kept-alive connection: it can take the next request. */
  idle: boolean
  transport: Duplex | null
  /** HTTP/1.1: the codec's connection over `transport`. */
  http1: Http1Upstream | null
  session: ClientHttp2Session | null
  /**
   * The idle timeout's one timer, armed lazily: it stays armed while requests come and go, and
   * when it fires it closes the connection, re-arms for what is left, or (busy) disarms; a request
   * moves no timer. null: not armed.
   */
  idleTimer: NodeJS.Timeout | null
  /** When its current idle period began (Date.now()); -1 while it is not idle (attached since). */
  idleSince: number
}

interface Waiter {
  readonly breaker: CircuitBreaker
  resolve(conn: Conn): void
  reject(err: unknown): void
  /** Unhooks the abort listener. */
  detach(): void
}

/** What the pools of one UpstreamConnections share. */
export interface HostPoolContext {
  readonly log: Logger
  /** One tunnel (or TCP leg) to the endpoint's app port. */
  readonly openTransport: (ep: Endpoint) => Promise<Duplex>
  readonly nextConnectionId: () => number
  /** The owner is closing: a connection that opens now is dropped, and no new one is opened. */
  readonly closing: () => boolean
  /** Replaced after its cluster's policy changed: its busy connections finish, then close. */
  readonly isRetired: (pool: HostPool) => boolean
  /** A retired pool closed its last connection. */
  readonly drained: (pool: HostPool) => void
}

export function overflowError(cluster: string, reason: string): AmbientError {
  return new AmbientError(L7ErrorCode.overflow, `circuit breaker on ${cluster}: ${reason}`, { side: 'upstream' })
}

export class HostPool {
  readonly conns = new Set<Conn>()
  readonly waiting: Waiter[] = []

  constructor(
    readonly key: string,
    readonly endpoint: Endpoint,
    readonly version: UpstreamHttpVersion,
    readonly cluster: PoolCluster,
    private readonly ctx: HostPoolContext,
  ) {}

  live(): Conn[] {
    return [...this.conns].filter((c) => c.state !== 'closed')
  }

  spent(c: Conn): boolean {
    return this.cluster.breaker.connectionSpent(c.served)
  }

  /** The first connection with room for a request; scanned in place (no copy of the set per request). */
  private readyConn(): Conn | undefined {
    for (const c of this.conns) if (this.canTake(c)) return c
    return undefined
  }

  /** Whether a connection is open or opening (live().length > 0 without the copy). */
  private hasLive(): boolean {
    for (const c of this.conns) if (c.state !== 'closed') return true
    return false
  }

  private canTake(c: Conn): boolean {
    return c.state === 'ready' && !this.spent(c) && (this.version === 'h2' || (c.busy === 0 && c.idle))
  }

  closeConn(c: Conn, why: string): void {
    if (c.state === 'closed') return
    c.state = 'closed'
    this.conns.delete(c)
    c.countedIn?.release('connection')
    if (c.idleTimer !== null) clearTimeout(c.idleTimer)
    if (c.session !== null && !c.session.destroyed) c.session.close()
    else if (c.session === null && c.transport !== null) closeConnection(c.transport)
    this.ctx.log.debug(
      { event: 'upstream_connection_closed', pool: this.key, connection: c.id, served: c.served, reason: why },
      'upstream connection closed',
    )
  }

  failWaiters(err: unknown): void {
    for (const w of this.waiting.splice(0)) {
      w.detach()
      w.breaker.release('pending')
      w.reject(err)
    }
  }

  /** Hands free connection capacity to queued requests, oldest first. */
  dispatch(): void {
    while (this.waiting.length > 0) {
      const conn = this.readyConn()
      if (conn === undefined) break
      const w = this.waiting.shift()!
      w.detach()
      const a = w.breaker.attachPending()
      if (a.kind === 'overflow') {
        w.reject(overflowError(this.cluster.name, a.reason))
        continue
      }
      attach(conn)
      w.resolve(conn)
    }
    // A queued request is never stranded: with no connection open or opening, open one (Envoy's
    // exception to maxConnections when the endpoint has none).
    if (this.waiting.length > 0 && !this.hasLive() && !this.ctx.closing()) {
      const counted = this.cluster.breaker.tryAcquire('connection').kind === 'ok'
      this.openConn(counted ? this.cluster.breaker : null)
    }
  }

  becameIdle(c: Conn): void {
    if (c.state !== 'ready' || c.busy > 0) return
    if (this.spent(c)) return this.closeConn(c, 'maxRequestsPerConnection reached')
    if (this.ctx.isRetired(this)) {
      this.closeConn(c, 'cluster policy changed')
      if (this.conns.size === 0) this.ctx.drained(this)
      return
    }
    const idleMs = this.cluster.idleTimeoutMs
    if (idleMs !== null && idleMs > 0 && c.idleSince < 0 && this.waiting.length === 0) {
      c.idleSince = Date.now()
      if (c.idleTimer === null) this.armIdle(c, idleMs)
    }
  }

  private armIdle(c: Conn, ms: number): void {
    c.idleTimer = setTimeout(() => this.idleTimerFired(c), ms)
    c.idleTimer.unref()
  }

  /** Closes the connection a whole idleTimeout after it went idle, as a timer armed then would. */
  private idleTimerFired(c: Conn): void {
    c.idleTimer = null
    // Attached since (or closed): no idle period running; the next becameIdle arms it again.
    if (c.idleSince < 0 || c.state === 'closed') return
    const left = c.idleSince + (this.cluster.idleTimeoutMs ?? 0) - Date.now()
    if (left > 0) this.armIdle(c, left)
    else this.closeConn(c, 'idle timeout')
  }

  private openConn(countedIn: CircuitBreaker | null): void {
    const c: Conn = {
      id: this.ctx.nextConnectionId(),
      countedIn,
      state: 'opening',
      busy: 0,
      served: 0,
      idle: false,
      transport: null,
      http1: null,
      session: null,
      idleTimer: null,
      idleSince: -1,
    }
    this.conns.add(c)
    this.ctx.log.debug({ event: 'upstream_connecting', pool: this.key, connection: c.id }, 'opening upstream connection')
    this.ctx.openTransport(this.endpoint).then(
      (transport) => {
        if (c.state === 'closed' || this.ctx.closing()) {
          transport.destroy()
          return
        }
        this.connected(c, transport)
      },
      (err: unknown) => {
        this.closeConn(c, errorMessage(err))
        // Nothing else will serve the queue: fail it with the connect error (Envoy purges pending
        // requests when the connection they wait for fails).
        if (!this.hasLive()) this.failWaiters(err)
      },
    )
  }

  private connected(c: Conn, opened: Duplex): void {
    const log = this.ctx.log
    // Our HTTP/1.1 codec reads and writes a tunnel's stream itself; node:http2 needs a socket.
    const transport = this.version === 'h2' && isHttp2Stream(opened) ? new StreamSocket(opened) : opened
    c.transport = transport
    // First on the transport: its 'end' completes a body that runs to the connection's end before
    // the pool's 'end' below closes the connection.
    if (this.version === 'http1')
      c.http1 = new Http1Upstream(
        transport,
        () => this.http1Idle(c),
        () => this.closeConn(c, 'closed after its exchange'),
      )
    // Whatever openTransport made (TCP, mTLS, a tunnel stream): no Nagle wait on small writes
    // (tls.connect, for one, ignores a noDelay option).
    const nodelay = (transport as Partial<Pick<Socket, 'setNoDelay'>>).setNoDelay
    if (typeof nodelay === 'function') nodelay.call(transport, true)
    // Errors reach the request using it (./http1-upstream.ts, node:http2); an idle connection's only end here.
    transport.on('error', (err) =>
      log.debug(
        { event: 'upstream_connection_error', pool: this.key, connection: c.id, reason: errorMessage(err) },
        'upstream connection error',
      ),
    )
    transport.once('close', () => this.closeConn(c, 'transport closed'))
    if (this.version === 'http1') {
      // The server closing its side (an app's keep-alive timeout, Connection: close) ends this
      // connection: with half-open sockets nothing else would notice, and the next request
      // written to it would never be read.
      transport.once('end', () => this.closeConn(c, 'peer closed the connection'))
      c.idle = true
    } else {
      const session = http2.connect(`http://${formatHostPort(this.endpoint.address, this.endpoint.targetPort)}`, {
        createConnection: () => transport,
      })
      c.session = session
      session.on('error', (err) =>
        log.debug({ event: 'upstream_session_error', pool: this.key, reason: errorMessage(err) }, 'upstream h2 session error'),
      )
      session.on('goaway', () => this.closeConn(c, 'GOAWAY'))
      session.on('close', () => this.closeConn(c, 'session closed'))
    }
    c.state = 'ready'
    this.dispatch()
    this.becameIdle(c)
  }

  /**
   * A connection with room, attached now when the breaker admits it (most requests): no promise.
   * Null otherwise, and nothing counted: acquire decides then (queue, open, overflow).
   */
  attachReady(): Conn | null {
    const ready = this.readyConn()
    if (ready === undefined || this.cluster.breaker.admit(READY).kind !== 'attach') return null
    attach(ready)
    return ready
  }

  /** A connection with a request slot for this request, or an error (overflow, connect failure, abort). */
  acquire(signal: AbortSignal, cancel: TryCancel | null = null): Promise<Conn> {
    const breaker = this.cluster.breaker
    const ready = this.readyConn()
    const admission = breaker.admit({ readyCapacity: ready !== undefined, endpointHasConnections: ready !== undefined || this.hasLive() })
    if (admission.kind === 'overflow') return Promise.reject(overflowError(this.cluster.name, admission.reason))
    if (admission.kind === 'attach') {
      attach(ready!)
      return Promise.resolve(ready!)
    }
    if (admission.connect) {
      // HTTP/2 multiplexes: a session already opening will carry this request too.
      if (this.version === 'h2' && this.live().some((c) => c.state === 'opening')) breaker.release('connection')
      else this.openConn(breaker)
    }
    this.ctx.log.debug(
      { event: 'upstream_pending', pool: this.key, pending: this.waiting.length + 1 },
      'request queued for an upstream connection',
    )
    return new Promise<Conn>((resolve, reject) => {
      const onAbort = (): void => {
        detach()
        const i = this.waiting.indexOf(waiter)
        if (i >= 0) this.waiting.splice(i, 1)
        breaker.release('pending')
        reject(notStarted(signal, cancel) ?? abortReason(signal))
      }
      const abortable = canAbort(signal)
      const detach = (): void => {
        if (abortable) signal.removeEventListener('abort', onAbort)
        if (cancel !== null && cancel.resetTry === onAbort) cancel.resetTry = null
      }
      const waiter: Waiter = { breaker, resolve, reject, detach }
      if (signal.aborted) return onAbort()
      if (abortable) signal.addEventListener('abort', onAbort, { once: true })
      // The downstream going away leaves the queue as an abort does.
      if (cancel !== null) cancel.resetTry = onAbort
      this.waiting.push(waiter)
      this.dispatch()
    })
  }

  /** The exchange on `conn` no longer holds it (response consumed, or failed). */
  finished(conn: Conn): void {
    conn.busy--
    this.cluster.breaker.release('request')
    if (this.version === 'h2' || conn.idle) {
      this.becameIdle(conn)
      this.dispatch()
    } else if (this.spent(conn) || conn.state === 'closed') {
      this.closeConn(conn, this.spent(conn) ? 'maxRequestsPerConnection reached' : 'closed')
      this.dispatch()
    }
    // HTTP/1.1 otherwise: the connection takes the next request once it says it is idle (http1Idle).
  }

  /** An HTTP/1.1 connection can carry the next request (its response consumed, keep-alive). */
  private http1Idle(c: Conn): void {
    if (c.state === 'closed') return
    c.idle = true
    if (c.busy > 0) return
    this.becameIdle(c)
    this.dispatch()
  }
}

const READY = Object.freeze({ readyCapacity: true, endpointHasConnections: true })

function attach(c: Conn): void {
  c.busy++
  c.served++
  c.idle = false
  // Its idle timer stays armed (no timer moves per request): when it fires it sees no idle period.
  c.idleSince = -1
}
