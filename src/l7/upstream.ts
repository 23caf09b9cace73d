// An L7 proxy's upstream side: HTTP connections to endpoints, each one an HBONE tunnel opened as the
// waypoint (`<endpoint IP>:15008`, `:authority <endpoint IP>:<target port>`, the endpoint's identity
// expected), a plain TCP leg for endpoints outside the mesh (tunnelProtocol NONE), or the leg the
// sidecar opens itself (`openTransport`). The pool per endpoint is ./upstream-pool.ts, one exchange
// on a connection ./upstream-exchange.ts; this module keeps the pools and opens the legs.
//
// Invariants:
// 1. Connections are pooled per (cluster, endpoint address, target port, identity, HTTP version) and
//    reused: an HTTP/1.1 connection carries one request at a time (our codec on the tunnel,
//    ./http1-upstream.ts), an HTTP/2 connection multiplexes. The tunnels themselves share HBONE
//    connections through the one HbonePool.
// 2. Circuit breaking is the cluster's engine (engines/circuit-breaker) and the queue is ours, not
//    node:http's: a request either attaches to a connection with room, or waits in the pool's
//    pending queue (http1MaxPendingRequests) while a connection is opened (maxConnections) or frees
//    up; over a limit it fails at once with `WAYPOINT_UPSTREAM_OVERFLOW` (503 UO). A queued request
//    takes a connection oldest first, the moment one has room (HTTP/1.1: when the response was
//    read to its end on a kept-alive connection), and then counts against http2MaxRequests (Envoy max_requests).
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
import type { ClientHttp2Session } from 'node:http2'
import type { Duplex } from 'node:stream'
import { AmbientError, errorMessage } from '../errors.js'
import type { HbonePool } from '../hbone/pool.js'
import type { SpiffeId } from '../identity/spiffe-id.js'
import { SpiffeId as SpiffeIdClass } from '../identity/spiffe-id.js'
import type { Endpoint } from '../mesh/waypoint-config.js'
import { formatHostPort } from '../net/address.js'
import { connectTcp } from '../net/listen.js'
import { isHttp2Stream } from '../net/pipe.js'
import type { Logger } from '../observability/logger.js'
import { L7ErrorCode } from './errors.js'
import { StreamSocket } from './stream-socket.js'
import { abortReason, sendH2, type UpstreamRequest, type UpstreamResponse } from './upstream-exchange.js'
import { HostPool, type PoolCluster, type UpstreamHttpVersion } from './upstream-pool.js'
import type { TryCancel } from './try-signal.js'

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

export interface UpstreamConnections {
  /**
   * One exchange with `endpoint`. Throws `WAYPOINT_UPSTREAM_OVERFLOW` (UO) when the circuit breaker
   * refuses it, `WAYPOINT_UPSTREAM_CONNECT_FAILED` (UF), `WAYPOINT_UPSTREAM_RESET` (UC), or the
   * signal's reason when aborted (also while queued).
   */
  send(
    cluster: PoolCluster,
    endpoint: Endpoint,
    version: UpstreamHttpVersion,
    request: UpstreamRequest,
    signal: AbortSignal,
    /** The request's downstream side (its going away resets the exchange, or leaves the queue); none for a mirror. */
    cancel?: TryCancel | null,
  ): Promise<UpstreamResponse>
  /** A raw leg to the endpoint's app port, not pooled (TCP proxying). */
  openTransport(endpoint: Endpoint): Promise<Duplex>
  /** Open upstream connections per pool (`cluster|endpoint|version`), for tests and debugging. */
  connections(): Record<string, number>
  close(): Promise<void>
}

export function createUpstreamConnections(options: UpstreamOptions): UpstreamConnections {
  const pools = new Map<string, HostPool>()
  // Pools replaced after their cluster's policy changed: their busy connections finish, then close.
  const retired = new Set<HostPool>()
  let nextId = 1
  let closed = false
  const openTransport = transportOpener(options)
  const ctx = {
    log: options.logger,
    openTransport,
    nextConnectionId: () => nextId++,
    closing: () => closed,
    isRetired: (pool: HostPool) => retired.has(pool),
    drained: (pool: HostPool) => retired.delete(pool),
  }

  // Each pool's key per endpoint object (config objects are never changed in place): built once,
  // not per request.
  const keys = new WeakMap<Endpoint, Map<string, Partial<Record<UpstreamHttpVersion, string>>>>()
  const poolKey = (cluster: PoolCluster, ep: Endpoint, version: UpstreamHttpVersion): string => {
    let byCluster = keys.get(ep)
    if (byCluster === undefined) keys.set(ep, (byCluster = new Map()))
    let byVersion = byCluster.get(cluster.name)
    if (byVersion === undefined) byCluster.set(cluster.name, (byVersion = {}))
    return (byVersion[version] ??=
      `${cluster.name}|${formatHostPort(ep.address, ep.targetPort)}|${ep.identity}|${ep.tunnelProtocol}|${version}`)
  }

  const poolFor = (cluster: PoolCluster, ep: Endpoint, version: UpstreamHttpVersion): HostPool => {
    const key = poolKey(cluster, ep, version)
    let hp = pools.get(key)
    // The cluster's runtime was rebuilt (new trafficPolicy): a new pool under the new breaker;
    // the old connections finish their requests and close.
    if (hp !== undefined && hp.cluster.breaker !== cluster.breaker) {
      const old = hp
      for (const c of [...old.conns]) if (c.busy === 0) old.closeConn(c, 'cluster policy changed')
      if (old.conns.size > 0) retired.add(old)
      hp = undefined
    }
    if (hp === undefined) {
      hp = new HostPool(key, ep, version, cluster, ctx)
      pools.set(key, hp)
    }
    return hp
  }

  return {
    // The TCP proxy gets a tunnel inside the socket adapter; the pool's HTTP/1.1 codec takes the stream itself.
    async openTransport(ep) {
      const transport = await openTransport(ep)
      return isHttp2Stream(transport) ? new StreamSocket(transport) : transport
    },
    async send(cluster, ep, version, request, signal, cancel = null) {
      if (closed) throw new AmbientError(L7ErrorCode.upstreamConnectFailed, 'waypoint closing', { side: 'internal' })
      if (signal.aborted) throw abortReason(signal)
      const hp = poolFor(cluster, ep, version)
      // A ready connection needs no await (nor its microtask); else wait in the pool's queue.
      const conn = hp.attachReady() ?? (await hp.acquire(signal, cancel))
      let finished = false
      const done = (): void => {
        if (finished) return
        finished = true
        hp.finished(conn)
      }
      const x = { request, signal, done, cancel }
      try {
        return version === 'h2' ? await sendH2(conn.session!, x) : await conn.http1!.send(x)
      } catch (err) {
        done()
        throw err
      }
    },
    connections() {
      const out: Record<string, number> = {}
      for (const [key, hp] of pools) {
        const n = hp.live().length
        if (n > 0) out[key] = n
      }
      return out
    },
    async close() {
      closed = true
      const sessions: ClientHttp2Session[] = []
      for (const hp of [...pools.values(), ...retired]) {
        hp.failWaiters(new AmbientError(L7ErrorCode.upstreamConnectFailed, 'waypoint closing', { side: 'internal' }))
        for (const c of [...hp.conns]) {
          if (c.session !== null) sessions.push(c.session)
          hp.closeConn(c, 'waypoint closing')
        }
      }
      pools.clear()
      retired.clear()
      for (const s of sessions) s.destroy()
    },
  }
}

/** One tunnel (or TCP leg) to the endpoint's app port; any failure is `WAYPOINT_UPSTREAM_CONNECT_FAILED`. */
function transportOpener(options: UpstreamOptions): (ep: Endpoint) => Promise<Duplex> {
  return async (ep) => {
    const where = formatHostPort(ep.address, ep.targetPort)
    try {
      if (options.openTransport !== undefined) return await options.openTransport(ep)
      if (ep.tunnelProtocol === 'NONE')
        return await connectTcp({ host: ep.address, port: ep.targetPort, connectTimeoutMs: options.connectTimeoutMs() })
      if (options.hbone === undefined) throw new Error('no HBONE pool')
      const tunnel = await options.hbone.open({
        source: options.source(),
        destination: { host: ep.address, port: ep.hbonePort },
        expectedIdentities: [SpiffeIdClass.parse(ep.identity)],
        authority: { ip: ep.address, port: ep.targetPort },
      })
      tunnel.stream.on('error', () => undefined) // reported to whoever reads it (the codec, a StreamSocket)
      return tunnel.stream
    } catch (err) {
      throw new AmbientError(L7ErrorCode.upstreamConnectFailed, `upstream connect to ${where} failed: ${errorMessage(err)}`, {
        side: 'upstream',
        cause: err,
      })
    }
  }
}
