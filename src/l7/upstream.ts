// The waypoint's upstream side: HTTP connections to endpoints, each one an HBONE tunnel opened as the
// waypoint (`<endpoint IP>:15008`, `:authority <endpoint IP>:<target port>`, the endpoint's identity
// expected) or a plain TCP leg for endpoints outside the mesh (tunnelProtocol NONE).
//
// Invariants:
// 1. Connections are pooled per (cluster, endpoint address, target port, identity, HTTP version) and
//    reused: an HTTP/1.1 connection carries one request at a time (a one-socket keep-alive agent
//    over one tunnel), an HTTP/2 connection multiplexes. The tunnels themselves share HBONE
//    connections through the one HbonePool.
// 2. Circuit breaking is the cluster's engine (engines/circuit-breaker) and the queue is ours, not
//    node:http's: a request either attaches to a connection with room, or waits in the pool's
//    pending queue (http1MaxPendingRequests) while a connection is opened (maxConnections) or frees
//    up; over a limit it fails at once with `WAYPOINT_UPSTREAM_OVERFLOW` (503 UO). A queued request
//    takes a connection oldest first, the moment one has room (HTTP/1.1: when node:http hands the
//    socket back after the response), and then counts against http2MaxRequests (Envoy max_requests).
//    Earlier this queue lived inside node's Agent (maxSockets = maxConnections), which neither
//    counted a connection still being opened nor told the breaker when a queued request moved on,
//    so the data path's counters and the real queue disagreed and a held request could wait there
//    unseen; now the breaker's counters and the queue are one.
// 3. maxRequestsPerConnection: a connection that has carried that many requests takes no more and
//    closes after its last one; the next request opens a fresh one. idleTimeout closes idle ones.
// 4. A failure to open the tunnel is `WAYPOINT_UPSTREAM_CONNECT_FAILED` (Envoy UF), and fails the
//    requests queued for it when no other connection can serve them; a reset or close after the
//    request went out is `WAYPOINT_UPSTREAM_RESET` (UC); both keep the cause.
// 5. Aborting a try (timeout, retry, downstream gone) resets that exchange only (or leaves the
//    queue); the session or other keep-alive tunnels are untouched.
import http from 'node:http'
import http2 from 'node:http2'
import type { ClientHttp2Session, IncomingHttpHeaders as Http2IncomingHeaders, OutgoingHttpHeaders } from 'node:http2'
import type { Duplex, Readable } from 'node:stream'
import { AmbientError, errorMessage, isAmbientError } from '../errors.js'
import type { HbonePool } from '../hbone/pool.js'
import type { SpiffeId } from '../identity/spiffe-id.js'
import { SpiffeId as SpiffeIdClass } from '../identity/spiffe-id.js'
import type { Endpoint } from '../mesh/waypoint-config.js'
import { formatHostPort } from '../net/address.js'
import { connectTcp } from '../net/listen.js'
import type { Logger } from '../observability/logger.js'
import type { CircuitBreaker } from './engines/circuit-breaker.js'
import { L7ErrorCode } from './errors.js'
import { StreamSocket } from './stream-socket.js'

export type UpstreamHttpVersion = 'http1' | 'h2'

export interface UpstreamRequest {
  readonly method: string
  readonly path: string
  /** The Host / `:authority` the app sees (the service hostname or the caller's, possibly rewritten). */
  readonly authority: string
  /** Regular headers only (no pseudo-headers, no hop-by-hop). */
  readonly headers: Readonly<Record<string, string | readonly string[]>>
  readonly body: Buffer
}

export interface UpstreamResponse {
  readonly status: number
  readonly headers: Readonly<Record<string, string | readonly string[]>>
  readonly body: Readable
  /** Trailers, once `body` ended (empty when none). */
  trailers(): Readonly<Record<string, string | readonly string[]>>
  /** Drops the rest of the response (a retried or abandoned try). */
  discard(): void
}

export interface UpstreamOptions {
  /** Required unless `openTransport` is given. */
  readonly hbone?: HbonePool
  /**
   * Opens the leg to an endpoint instead of an HBONE tunnel (sidecar mode: mutual TLS straight to
   * `<address>:<targetPort>`, src/sidecar); the pooling and circuit breaking above it are the same.
   */
  readonly openTransport?: (endpoint: Endpoint) => Promise<Duplex>
  readonly source: () => SpiffeId
  readonly logger: Logger
  readonly connectTimeoutMs: () => number
}

/** The cluster a request is for, as the connection pool needs it. */
export interface PoolCluster {
  readonly name: string
  /** The cluster's circuit breaker (engines/circuit-breaker): every connection, queued and active request counts there. */
  readonly breaker: CircuitBreaker
  /** connectionPool idleTimeout: an idle connection is closed after it; null = kept. */
  readonly idleTimeoutMs: number | null
}

export interface UpstreamConnections {
  /**
   * One exchange with `endpoint`. Throws `WAYPOINT_UPSTREAM_OVERFLOW` (UO) when the circuit breaker
   * refuses it, `WAYPOINT_UPSTREAM_CONNECT_FAILED` (UF), `WAYPOINT_UPSTREAM_RESET` (UC), or the
   * signal's reason when aborted (also while queued).
   */
  send(cluster: PoolCluster, endpoint: Endpoint, version: UpstreamHttpVersion, request: UpstreamRequest, signal: AbortSignal): Promise<UpstreamResponse>
  /** A raw leg to the endpoint's app port, not pooled (TCP proxying). */
  openTransport(endpoint: Endpoint): Promise<Duplex>
  /** Open upstream connections per pool (`cluster|endpoint|version`), for tests and debugging. */
  connections(): Record<string, number>
  close(): Promise<void>
}

// Hop-by-hop headers (RFC 9110 §7.6.1) and the ones HTTP/2 forbids; never forwarded either way.
export const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'upgrade', 'host', 'http2-settings'])

interface Conn {
  readonly id: number
  /** The breaker its connection slot is counted in (null: opened under Envoy's "never strand" exception). */
  readonly countedIn: CircuitBreaker | null
  state: 'opening' | 'ready' | 'closed'
  /** Requests attached now (HTTP/1.1: 0 or 1). */
  busy: number
  /** Requests attached over its life (maxRequestsPerConnection). */
  served: number
  /** HTTP/1.1: node:http handed the socket back (response consumed): it can take the next request. */
  idle: boolean
  transport: Duplex | null
  agent: OneSocketAgent | null
  session: ClientHttp2Session | null
  idleTimer: NodeJS.Timeout | null
}

interface Waiter {
  readonly breaker: CircuitBreaker
  resolve(conn: Conn): void
  reject(err: unknown): void
  /** Unhooks the abort listener. */
  detach(): void
}

interface HostPool {
  readonly key: string
  readonly endpoint: Endpoint
  readonly version: UpstreamHttpVersion
  readonly cluster: PoolCluster
  readonly conns: Set<Conn>
  readonly waiting: Waiter[]
}

export function createUpstreamConnections(options: UpstreamOptions): UpstreamConnections {
  const log = options.logger
  const pools = new Map<string, HostPool>()
  // Pools replaced after their cluster's policy changed: their busy connections finish, then close.
  const retired = new Set<HostPool>()
  let nextId = 1
  let closed = false

  const endpointKey = (ep: Endpoint): string => `${formatHostPort(ep.address, ep.targetPort)}|${ep.identity}|${ep.tunnelProtocol}`

  // One tunnel (or TCP leg) to the endpoint's app port.
  const openTransport = async (ep: Endpoint): Promise<Duplex> => {
    const where = formatHostPort(ep.address, ep.targetPort)
    try {
      if (options.openTransport !== undefined) return await options.openTransport(ep)
      if (ep.tunnelProtocol === 'NONE') return await connectTcp({ host: ep.address, port: ep.targetPort, connectTimeoutMs: options.connectTimeoutMs() })
      if (options.hbone === undefined) throw new Error('no HBONE pool')
      const tunnel = await options.hbone.open({
        source: options.source(),
        destination: { host: ep.address, port: ep.hbonePort },
        expectedIdentities: [SpiffeIdClass.parse(ep.identity)],
        authority: { ip: ep.address, port: ep.targetPort },
      })
      tunnel.stream.on('error', () => undefined) // reported through the StreamSocket
      return new StreamSocket(tunnel.stream)
    } catch (err) {
      throw new AmbientError(L7ErrorCode.upstreamConnectFailed, `upstream connect to ${where} failed: ${errorMessage(err)}`, { side: 'upstream', cause: err })
    }
  }

  const overflow = (cluster: string, reason: string): AmbientError =>
    new AmbientError(L7ErrorCode.overflow, `circuit breaker on ${cluster}: ${reason}`, { side: 'upstream' })

  const live = (hp: HostPool): Conn[] => [...hp.conns].filter((c) => c.state !== 'closed')
  const spent = (hp: HostPool, c: Conn): boolean => hp.cluster.breaker.connectionSpent(c.served)
  const canTake = (hp: HostPool, c: Conn): boolean =>
    c.state === 'ready' && !spent(hp, c) && (hp.version === 'h2' || (c.busy === 0 && c.idle))

  const attach = (c: Conn): void => {
    c.busy++
    c.served++
    c.idle = false
    if (c.idleTimer !== null) {
      clearTimeout(c.idleTimer)
      c.idleTimer = null
    }
  }

  const closeConn = (hp: HostPool, c: Conn, why: string): void => {
    if (c.state === 'closed') return
    c.state = 'closed'
    hp.conns.delete(c)
    c.countedIn?.release('connection')
    if (c.idleTimer !== null) clearTimeout(c.idleTimer)
    c.agent?.destroy()
    if (c.session !== null && !c.session.destroyed) c.session.close()
    else if (c.session === null) c.transport?.destroy()
    log.debug({ event: 'upstream_connection_closed', pool: hp.key, connection: c.id, served: c.served, reason: why }, 'upstream connection closed')
  }

  const failWaiters = (hp: HostPool, err: unknown): void => {
    for (const w of hp.waiting.splice(0)) {
      w.detach()
      w.breaker.release('pending')
      w.reject(err)
    }
  }

  // Hands free connection capacity to queued requests, oldest first.
  const dispatch = (hp: HostPool): void => {
    while (hp.waiting.length > 0) {
      const conn = [...hp.conns].find((c) => canTake(hp, c))
      if (conn === undefined) break
      const w = hp.waiting.shift()!
      w.detach()
      const a = w.breaker.attachPending()
      if (a.kind === 'overflow') {
        w.reject(overflow(hp.cluster.name, a.reason))
        continue
      }
      attach(conn)
      w.resolve(conn)
    }
    // A queued request is never stranded: with no connection open or opening, open one (Envoy's
    // exception to maxConnections when the endpoint has none).
    if (hp.waiting.length > 0 && live(hp).length === 0 && !closed) {
      const counted = hp.cluster.breaker.tryAcquire('connection').kind === 'ok'
      openConn(hp, counted ? hp.cluster.breaker : null)
    }
  }

  const becameIdle = (hp: HostPool, c: Conn): void => {
    if (c.state !== 'ready' || c.busy > 0) return
    if (spent(hp, c)) return closeConn(hp, c, 'maxRequestsPerConnection reached')
    if (retired.has(hp)) {
      closeConn(hp, c, 'cluster policy changed')
      if (hp.conns.size === 0) retired.delete(hp)
      return
    }
    const idleMs = hp.cluster.idleTimeoutMs
    if (idleMs !== null && idleMs > 0 && c.idleTimer === null && hp.waiting.length === 0) {
      c.idleTimer = setTimeout(() => closeConn(hp, c, 'idle timeout'), idleMs)
      c.idleTimer.unref()
    }
  }

  const openConn = (hp: HostPool, countedIn: CircuitBreaker | null): void => {
    const c: Conn = { id: nextId++, countedIn, state: 'opening', busy: 0, served: 0, idle: false, transport: null, agent: null, session: null, idleTimer: null }
    hp.conns.add(c)
    log.debug({ event: 'upstream_connecting', pool: hp.key, connection: c.id }, 'opening upstream connection')
    openTransport(hp.endpoint).then((transport) => {
      if (c.state === 'closed' || closed) {
        transport.destroy()
        return
      }
      c.transport = transport
      // Errors reach the request using it (node:http, node:http2); an idle connection's only end here.
      transport.on('error', (err) => log.debug({ event: 'upstream_connection_error', pool: hp.key, connection: c.id, reason: errorMessage(err) }, 'upstream connection error'))
      transport.once('close', () => closeConn(hp, c, 'transport closed'))
      if (hp.version === 'http1') {
        // The server closing its side (an app's keep-alive timeout, Connection: close) ends this
        // connection: with half-open sockets nothing else would notice, and the next request
        // written to it would never be read.
        transport.once('end', () => closeConn(hp, c, 'peer closed the connection'))
        c.agent = new OneSocketAgent(transport)
        // node:http emits 'free' once the response was consumed and the socket can carry another.
        transport.on('free', () => {
          // (This listener runs before the agent's, while the socket still carries the request.)
          if (!isFinishedRelease(transport)) return
          c.idle = true
          setImmediate(() => {
            becameIdle(hp, c)
            dispatch(hp)
          })
        })
        c.idle = true
      } else {
        const session = http2.connect(`http://${formatHostPort(hp.endpoint.address, hp.endpoint.targetPort)}`, { createConnection: () => transport })
        c.session = session
        session.on('error', (err) => log.debug({ event: 'upstream_session_error', pool: hp.key, reason: errorMessage(err) }, 'upstream h2 session error'))
        session.on('goaway', () => closeConn(hp, c, 'GOAWAY'))
        session.on('close', () => closeConn(hp, c, 'session closed'))
      }
      c.state = 'ready'
      dispatch(hp)
      becameIdle(hp, c)
    }, (err: unknown) => {
      closeConn(hp, c, errorMessage(err))
      // Nothing else will serve the queue: fail it with the connect error (Envoy purges pending
      // requests when the connection they wait for fails).
      if (live(hp).length === 0) failWaiters(hp, err)
    })
  }

  const poolFor = (cluster: PoolCluster, ep: Endpoint, version: UpstreamHttpVersion): HostPool => {
    const key = `${cluster.name}|${endpointKey(ep)}|${version}`
    let hp = pools.get(key)
    // The cluster's runtime was rebuilt (new trafficPolicy): a new pool under the new breaker;
    // the old connections finish their requests and close.
    if (hp !== undefined && hp.cluster.breaker !== cluster.breaker) {
      const old = hp
      for (const c of [...old.conns]) if (c.busy === 0) closeConn(old, c, 'cluster policy changed')
      if (old.conns.size > 0) retired.add(old)
      hp = undefined
    }
    if (hp === undefined) {
      hp = { key, endpoint: ep, version, cluster, conns: new Set(), waiting: [] }
      pools.set(key, hp)
    }
    return hp
  }

  // A connection with a request slot for this request, or an error (overflow, connect failure, abort).
  const acquire = (hp: HostPool, signal: AbortSignal): Promise<Conn> => {
    const breaker = hp.cluster.breaker
    const ready = [...hp.conns].find((c) => canTake(hp, c))
    const admission = breaker.admit({ readyCapacity: ready !== undefined, endpointHasConnections: live(hp).length > 0 })
    if (admission.kind === 'overflow') return Promise.reject(overflow(hp.cluster.name, admission.reason))
    if (admission.kind === 'attach') {
      attach(ready!)
      return Promise.resolve(ready!)
    }
    if (admission.connect) {
      // HTTP/2 multiplexes: a session already opening will carry this request too.
      if (hp.version === 'h2' && live(hp).some((c) => c.state === 'opening')) breaker.release('connection')
      else openConn(hp, breaker)
    }
    log.debug({ event: 'upstream_pending', pool: hp.key, pending: hp.waiting.length + 1 }, 'request queued for an upstream connection')
    return new Promise<Conn>((resolve, reject) => {
      const onAbort = (): void => {
        const i = hp.waiting.indexOf(waiter)
        if (i >= 0) hp.waiting.splice(i, 1)
        breaker.release('pending')
        reject(abortReason(signal))
      }
      const waiter: Waiter = { breaker, resolve, reject, detach: () => signal.removeEventListener('abort', onAbort) }
      if (signal.aborted) return onAbort()
      signal.addEventListener('abort', onAbort, { once: true })
      hp.waiting.push(waiter)
      dispatch(hp)
    })
  }

  return {
    openTransport,
    async send(cluster, ep, version, request, signal) {
      if (closed) throw new AmbientError(L7ErrorCode.upstreamConnectFailed, 'waypoint closing', { side: 'internal' })
      if (signal.aborted) throw abortReason(signal)
      const hp = poolFor(cluster, ep, version)
      const conn = await acquire(hp, signal)
      let finished = false
      const done = (): void => {
        if (finished) return
        finished = true
        conn.busy--
        cluster.breaker.release('request')
        if (version === 'h2') {
          becameIdle(hp, conn)
          dispatch(hp)
        } else if (spent(hp, conn) || conn.state === 'closed') {
          closeConn(hp, conn, spent(hp, conn) ? 'maxRequestsPerConnection reached' : 'closed')
          dispatch(hp)
        }
        // HTTP/1.1 otherwise: the connection takes the next request on 'free'.
      }
      try {
        return version === 'h2'
          ? await sendH2(conn.session!, request, signal, done)
          : await sendHttp1(conn.agent!, ep, request, signal, done)
      } catch (err) {
        done()
        throw err
      }
    },
    connections() {
      const out: Record<string, number> = {}
      for (const [key, hp] of pools) {
        const n = live(hp).length
        if (n > 0) out[key] = n
      }
      return out
    },
    async close() {
      closed = true
      const sessions: ClientHttp2Session[] = []
      for (const hp of [...pools.values(), ...retired]) {
        failWaiters(hp, new AmbientError(L7ErrorCode.upstreamConnectFailed, 'waypoint closing', { side: 'internal' }))
        for (const c of [...hp.conns]) {
          if (c.session !== null) sessions.push(c.session)
          closeConn(hp, c, 'waypoint closing')
        }
      }
      pools.clear()
      retired.clear()
      for (const s of sessions) s.destroy()
    },
  }
}

/**
 * Whether a 'free' on an HTTP/1.1 socket hands it back after a finished exchange. node:http in Node
 * 20 sometimes releases a keep-alive socket twice (nodejs/node#60001, fixed upstream by
 * nodejs/node#61710): when a response ends after the request's bytes left the socket but before
 * the request's 'finish', both responseOnEnd and requestOnFinish release it. The first release
 * carries the finished request (its response complete); the second finds the socket already handed
 * back (no request) or carrying the next request (response not complete). Taking the second would
 * destroy the kept-alive socket (the agent's free list is full) or mark a busy connection idle, so
 * ~5 % of requests waited for a new tunnel in bench:waypoint (~50 tunnels/s at 1000 RPS, the
 * waypoint hop's p99 +17 ms).
 */
export function isFinishedRelease(socket: unknown): boolean {
  const req = (socket as { _httpMessage?: { res?: { complete?: boolean } | null } | null } | null)?._httpMessage
  return req?.res?.complete === true
}

/** node:http's keep-alive agent over exactly one transport: one upstream connection of the pool. */
class OneSocketAgent extends http.Agent {
  private socket: Duplex | null

  constructor(socket: Duplex) {
    super({ keepAlive: true, maxSockets: 1, maxFreeSockets: 1 })
    this.socket = socket
  }

  /** Drops node:http's duplicate release (see isFinishedRelease). */
  override emit(event: string | symbol, ...args: unknown[]): boolean {
    if (event === 'free' && !isFinishedRelease(args[0])) return false
    return super.emit(event, ...args)
  }

  override createConnection(_options: unknown, callback: (err: Error | null, socket?: Duplex) => void): undefined {
    const s = this.socket
    this.socket = null
    // The pool never asks twice: a second call means the one socket is gone.
    queueMicrotask(() => (s === null ? callback(new Error('upstream connection closed')) : callback(null, s)))
    return undefined
  }
}

function abortReason(signal: AbortSignal): Error {
  return signal.reason instanceof Error ? signal.reason : new Error('aborted')
}

function resetError(err: unknown): AmbientError {
  if (isAmbientError(err) && err.code === L7ErrorCode.upstreamConnectFailed) return err
  return new AmbientError(L7ErrorCode.upstreamReset, `upstream reset: ${errorMessage(err)}`, { side: 'upstream', cause: err })
}

function sendHttp1(agent: OneSocketAgent, ep: Endpoint, request: UpstreamRequest, signal: AbortSignal, done: () => void): Promise<UpstreamResponse> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) return reject(abortReason(signal))
    const headers: Record<string, string | string[]> = { ...toMutable(request.headers), host: request.authority }
    if (request.body.length > 0 || !['GET', 'HEAD', 'DELETE', 'OPTIONS'].includes(request.method)) headers['content-length'] = String(request.body.length)
    const req = http.request({ agent, host: ep.address, port: ep.targetPort, method: request.method, path: request.path, headers })
    const onAbort = (): void => {
      req.destroy(abortReason(signal))
    }
    signal.addEventListener('abort', onAbort, { once: true })
    req.on('error', (err) => {
      signal.removeEventListener('abort', onAbort)
      reject(signal.aborted ? abortReason(signal) : resetError(err))
    })
    req.on('response', (res) => {
      res.on('error', () => undefined) // an abort mid-body is the caller's (it aborted)
      res.once('end', done)
      res.once('close', done)
      signal.removeEventListener('abort', onAbort)
      const again = (): void => { res.destroy(abortReason(signal)) }
      signal.addEventListener('abort', again, { once: true })
      res.once('close', () => signal.removeEventListener('abort', again))
      resolve({
        status: res.statusCode ?? 502,
        headers: stripHopByHop(res.headers as Record<string, string | string[] | undefined>),
        body: res,
        trailers: () => res.trailers as Record<string, string>,
        discard: () => res.destroy(),
      })
    })
    req.end(request.body)
  })
}

function sendH2(session: ClientHttp2Session, request: UpstreamRequest, signal: AbortSignal, done: () => void): Promise<UpstreamResponse> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) return reject(abortReason(signal))
    const headers: OutgoingHttpHeaders = {
      ...toMutable(request.headers),
      ':method': request.method, ':path': request.path, ':authority': request.authority, ':scheme': 'http',
    }
    let stream: http2.ClientHttp2Stream
    try {
      stream = session.request(headers, { endStream: request.body.length === 0 })
    } catch (err) {
      return reject(resetError(err))
    }
    let trailers: Record<string, string | string[]> = {}
    stream.on('trailers', (t: Http2IncomingHeaders) => { trailers = stripPseudo(t) })
    const onAbort = (): void => {
      stream.close(http2.constants.NGHTTP2_CANCEL)
    }
    signal.addEventListener('abort', onAbort, { once: true })
    stream.once('close', () => {
      signal.removeEventListener('abort', onAbort)
      done()
    })
    let answered = false
    stream.on('error', (err) => {
      if (!answered) reject(signal.aborted ? abortReason(signal) : resetError(err))
    })
    stream.once('close', () => {
      if (!answered) reject(signal.aborted ? abortReason(signal) : resetError(new Error(`stream closed (code ${stream.rstCode ?? 0})`)))
    })
    stream.on('response', (h: Http2IncomingHeaders) => {
      answered = true
      resolve({
        status: Number(h[':status'] ?? 502),
        headers: stripHopByHop(stripPseudo(h)),
        body: stream,
        trailers: () => trailers,
        discard: () => stream.close(http2.constants.NGHTTP2_CANCEL),
      })
    })
    if (request.body.length > 0) stream.end(request.body)
  })
}

function toMutable(headers: Readonly<Record<string, string | readonly string[]>>): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {}
  for (const [k, v] of Object.entries(headers)) out[k] = typeof v === 'string' ? v : [...v]
  return out
}

export function stripPseudo(headers: Readonly<Record<string, string | string[] | number | undefined>>): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {}
  for (const [k, v] of Object.entries(headers)) {
    if (k.startsWith(':') || v === undefined) continue
    out[k] = typeof v === 'number' ? String(v) : v
  }
  return out
}

export function stripHopByHop(headers: Readonly<Record<string, string | string[] | undefined>>): Record<string, string | string[]> {
  const listed = new Set(String(headers.connection ?? '').split(',').map((s) => s.trim().toLowerCase()).filter(Boolean))
  const out: Record<string, string | string[]> = {}
  for (const [k, v] of Object.entries(headers)) {
    if (v === undefined || HOP_BY_HOP.has(k) || listed.has(k)) continue
    out[k] = v
  }
  return out
}
