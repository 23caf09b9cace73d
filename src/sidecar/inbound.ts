// Inbound: one listener per app port on the pod IP (the app itself binds the pod-local address);
// in-pod capture: one listener on 15006 for every port, the app on the pod IP reached from 127.0.0.6.
// A connection is mutual TLS from a peer sidecar (first byte a TLS ClientHello) or plaintext
// (PERMISSIVE only). Then, as Istio's sidecar inbound does:
//  1. PeerAuthentication: istiod's converted policies (STRICT = DENY without a peer identity) on
//     the connection (src/authz, ztunnel's L4 evaluation); a refused connection is closed before
//     any byte reaches the app;
//  2. HTTP: L7 authorization per request on the SOURCE pod's identity (the peer certificate; unlike
//     ambient with a waypoint, where the destination sees the waypoint), then the app on its
//     pod-local address through a keep-alive pool (l7/upstream.ts, plain TCP legs);
//     TCP: the same policies' L4 part (l7/l4-authz.ts), then the one pipe to the app.
// Metrics: reporter="destination", connection_security_policy mutual_tls or unknown (plaintext); a
// request refused by L7 policy is 403 with response_flags="RBAC", as Envoy (and our waypoint) marks it.
import net from 'node:net'
import tls from 'node:tls'
import type { Duplex } from 'node:stream'
import { authorize } from '../authz/rbac.js'
import { AmbientError, errorMessage } from '../errors.js'
import type { WorkloadCertificate } from '../identity/certificate.js'
import { SpiffeId } from '../identity/spiffe-id.js'
import { checkClientPeer, type PeerCertificate } from '../hbone/tls.js'
import type { SidecarConfig } from '../mesh/sidecar-config.js'
import type { Endpoint, PortProtocol } from '../mesh/waypoint-config.js'
import { unlimitedConnectionPool } from '../mesh/waypoint-config.js'
import { formatHostPort } from '../net/address.js'
import { closeServer, connectTcp, listen } from '../net/listen.js'
import { isProxyPort } from '../net/ports.js'
import { pipe, reset } from '../net/pipe.js'
import { openFlow } from '../observability/flow-record.js'
import type { Logger } from '../observability/logger.js'
import { recordRequest, type Metrics } from '../observability/metrics.js'
import type { FlowPeer, HttpResponseFlag } from '../observability/traffic-labels.js'
import { createCircuitBreaker } from '../l7/engines/circuit-breaker.js'
import {
  DOWNSTREAM_GONE_FLAGS,
  DOWNSTREAM_GONE_STATUS,
  readRequestBody,
  streamResponse,
  wholeRequestBody,
  type DownstreamResponse,
} from '../l7/http-proxy.js'
import { authorizeConnection, authorizeRequestVerdict } from '../l7/engines.js'
import type { L4Facts } from '../l7/l4-authz.js'
import { createUpstreamConnections } from '../l7/upstream.js'
import type { UpstreamResponse } from '../l7/upstream-exchange.js'
import type { PoolCluster } from '../l7/upstream-pool.js'
import { stripHopByHop } from '../l7/http-headers.js'
import { DownstreamCancel } from '../l7/try-signal.js'
import { createHttpServing, decideProtocol } from '../l7/http-serving.js'
import { SidecarErrorCode, isTlsClientHello, resetAsDestroy, serverContextOptions } from './mtls.js'
import { appHeaders, selfPeer, sourceMetadata } from './metadata-exchange.js'
import { createAppExchangeBound } from './app-exchange-bound.js'

export interface InboundContext {
  readonly port: number
  readonly peer: PeerCertificate | null
  readonly sourceIp: string
  readonly sourcePort: number
}

/** What a policy reads of an inbound connection: the peer's identity and both ends' addresses. */
function connectionFacts(c: SidecarConfig, ctx: InboundContext): L4Facts {
  const identity = ctx.peer?.identity
  return {
    sourcePrincipal: identity?.principal ?? null,
    sourceNamespace: identity?.namespace ?? null,
    sourceIp: ctx.sourceIp,
    destinationIp: c.sidecar.pod.podIp,
    destinationPort: ctx.port,
  }
}

export interface InboundDeps {
  config(): SidecarConfig
  certificate(): WorkloadCertificate
  readonly metrics: Metrics
  readonly logger: Logger
  readonly now: () => number
  readonly sniffTimeoutMs?: number
  /** Listen on this port instead of the app port (tests); default: the app port. */
  readonly listenPort?: (appPort: number) => number
  /** How long a request may wait on the app, response body included (tests); default 10 minutes. */
  readonly appExchangeTimeoutMs?: number
  /**
   * In-pod capture (sidecar-inpod.rules): one listener on 0.0.0.0:<port> (15006) receives every
   * inbound connection REDIRECT'd there; `appPort` gives the port the caller dialled (SO_ORIGINAL_DST).
   * The app is then reached on the pod IP from `appSource` (127.0.0.6, which the rules never capture).
   */
  readonly redirect?: {
    readonly port: number
    readonly appPort: (socket: net.Socket) => number
    readonly appSource: string
  }
}

export interface Inbound {
  /** Binds the listeners for the config's app ports; returns app port → bound port. */
  start(): Promise<ReadonlyMap<number, number>>
  /**
   * Re-checks live connections against the current config (call after a config change): those
   * PeerAuthentication now refuses, and TCP flows the L4 policy now denies, are closed at once
   * (`connection closed due to policy change`); HTTP requests are checked one by one anyway.
   */
  recheck(): void
  /**
   * Follows the config's app ports: binds a listener for each new one and stops accepting on each
   * removed one (its live connections carry on until they end), as Envoy adds and drains inbound
   * listeners. A port that cannot be bound is logged (`inbound_listen_failed`) and retried on the
   * next config; the other ports keep serving.
   */
  syncListeners(): Promise<void>
  /** New TLS handshakes present `cert`; established connections keep theirs. */
  updateCertificate(cert: WorkloadCertificate): void
  close(): Promise<void>
}

/** How long an inbound request may wait on the app, response body included. */
const APP_EXCHANGE_TIMEOUT_MS = 600_000

// A config's identity, parsed once per config (every inbound request reports it).
const identities = new WeakMap<SidecarConfig, SpiffeId>()
function identityOf(c: SidecarConfig): SpiffeId {
  let id = identities.get(c)
  if (id === undefined) identities.set(c, (id = SpiffeId.parse(c.identity)))
  return id
}

export function createInbound(deps: InboundDeps): Inbound {
  const log = deps.logger
  const servers = new Map<number, net.Server>()
  const sockets = new Set<net.Socket>()
  const app = createUpstreamConnections({
    logger: log,
    source: () => {
      throw new Error('unused')
    },
    connectTimeoutMs: () => deps.config().defaults.connectTimeoutMs,
    openTransport: (ep) => connectApp(ep.address, ep.targetPort),
  })
  // Socks mode: the app on its pod-local address. In-pod: on the pod IP, from the passthrough source.
  const appAddress = (c: SidecarConfig): string => (deps.redirect === undefined ? c.sidecar.pod.podLocalAddress : c.sidecar.pod.podIp)
  const connectApp = (host: string, port: number): Promise<net.Socket> =>
    connectTcp({
      host,
      port,
      connectTimeoutMs: deps.config().defaults.connectTimeoutMs,
      ...(deps.redirect === undefined ? {} : { localAddress: deps.redirect.appSource }),
    })
  // One pool per app port; the app is ours alone, so no limits (Istio's inbound defaults).
  const pools = new Map<number, PoolCluster>()
  const poolFor = (port: number): PoolCluster => {
    let p = pools.get(port)
    if (p === undefined) {
      p = {
        name: `inbound|${port}||`,
        idleTimeoutMs: null,
        breaker: createCircuitBreaker(unlimitedConnectionPool(10_000, null)),
      }
      pools.set(port, p)
    }
    return p
  }
  // The app as an endpoint, one object per config and port: the pool finds its key per endpoint
  // object, so a new object per request would rebuild the key (and a weak entry) every time.
  const appEndpoints = new WeakMap<SidecarConfig, Map<number, Endpoint>>()
  const appEndpoint = (c: SidecarConfig, port: number): Endpoint => {
    let byPort = appEndpoints.get(c)
    if (byPort === undefined) appEndpoints.set(c, (byPort = new Map()))
    let ep = byPort.get(port)
    if (ep === undefined)
      byPort.set(
        port,
        (ep = {
          uid: c.sidecar.pod.uid,
          name: c.name,
          namespace: c.namespace,
          address: appAddress(c),
          targetPort: port,
          identity: c.identity,
          hbonePort: 0,
          tunnelProtocol: 'NONE',
          healthy: true,
          weight: 1,
          node: c.sidecar.pod.node,
        }),
      )
    return ep
  }
  // The app exchanges' bound: a signal and timer shared per slot of time, not one per request.
  const bound = createAppExchangeBound(deps.appExchangeTimeoutMs ?? APP_EXCHANGE_TIMEOUT_MS)
  // A connection's two ends, made once per connection and config: every request on it reports the
  // same peer objects (the request metrics key them once per object; metadata-exchange completes
  // the source once per header value).
  const ends = new WeakMap<InboundContext, { readonly config: SidecarConfig; readonly src: FlowPeer; readonly dst: FlowPeer }>()
  const peers = (c: SidecarConfig, ctx: InboundContext): { src: FlowPeer; dst: FlowPeer } => {
    const known = ends.get(ctx)
    if (known !== undefined && known.config === c) return known
    const made = {
      config: c,
      src: {
        addr: formatHostPort(ctx.sourceIp, ctx.sourcePort),
        ...(ctx.peer ? { identity: ctx.peer.identity, namespace: ctx.peer.identity.namespace } : {}),
      },
      dst: selfPeer(c, formatHostPort(c.sidecar.pod.podIp, ctx.port), identityOf(c)),
    }
    ends.set(ctx, made)
    return made
  }

  const http = createHttpServing<InboundContext>(async (ctx, version, req, res) => {
    const started = deps.now()
    const c = deps.config()
    const headers = req.headers as Record<string, string | string[] | undefined>
    const method = req.method ?? 'GET'
    const path = (version === 'h2' ? (headers[':path'] as string | undefined) : req.url) ?? '/'
    const authority = (version === 'h2' ? (headers[':authority'] as string | undefined) : (headers.host as string | undefined)) ?? ''
    let status: number
    // Envoy's flags for a reply the sidecar gives itself: `RBAC` for a policy denial (as the waypoint).
    let responseFlags: readonly HttpResponseFlag[] = []
    let requestBytes = 0
    let responseBytes = 0
    const { src: certified, dst } = peers(c, ctx)
    // The caller's metadata headers complete its labels and are not passed to the app.
    const src = sourceMetadata(headers, certified)
    try {
      // A body that came whole with its head needs no promise (nor the microtask of an await).
      const body = wholeRequestBody(req, 'SIDECAR_REQUEST_TOO_LARGE') ?? (await readRequestBody(req, 'SIDECAR_REQUEST_TOO_LARGE'))
      requestBytes = body.length
      const identity = ctx.peer?.identity
      // connectionFacts' fields written out: one object per request, not two.
      const decision = authorizeRequestVerdict(c.authorization, {
        method,
        path,
        host: authority,
        headers,
        sourcePrincipal: identity?.principal ?? null,
        sourceNamespace: identity?.namespace ?? null,
        sourceIp: ctx.sourceIp,
        destinationIp: c.sidecar.pod.podIp,
        destinationPort: ctx.port,
      })
      if (decision.kind === 'deny') {
        log.debug(
          { event: 'inbound_denied', path, method, reason: decision.reason, 'src.identity': identity?.toString() },
          'request denied by policy',
        )
        status = decision.reply.status
        responseFlags = [decision.reply.responseFlag]
        responseBytes = Buffer.byteLength(decision.reply.body)
        res.writeHead(status, { 'content-type': 'text/plain', 'content-length': String(responseBytes) })
        res.end(decision.reply.body)
      } else {
        // The app exchange is bounded (10 minutes); the hold ends once the response is written.
        const held = bound.begin()
        // The caller going away before the answer resets the exchange (as the waypoint's tries).
        const cancel = new DownstreamCancel()
        res.on('close', cancel.downstreamClosed)
        try {
          const response = await app.send(
            poolFor(ctx.port),
            appEndpoint(c, ctx.port),
            version,
            { method, path, authority, headers: appHeaders(headers), body },
            held.signal,
            cancel,
          )
          if (cancel.downstreamGone) {
            response.discard()
            status = DOWNSTREAM_GONE_STATUS
            responseFlags = DOWNSTREAM_GONE_FLAGS
          } else {
            status = response.status
            responseBytes = await writeResponse(version, response, res)
          }
        } catch (err) {
          if (!cancel.downstreamGone) throw err
          // Counted as Envoy (and the waypoint) count it: 0 DC, no response.
          status = DOWNSTREAM_GONE_STATUS
          responseFlags = DOWNSTREAM_GONE_FLAGS
        } finally {
          cancel.answered()
          held.end()
        }
      }
    } catch (err) {
      status = 503
      log.debug({ event: 'inbound_app_failed', reason: errorMessage(err) }, 'app unreachable')
      if (!res.headersSent) res.writeHead(503, { 'content-type': 'text/plain' })
      res.end('upstream connect error or disconnect/reset before headers')
    }
    recordRequest(deps.metrics, {
      reporter: 'destination',
      src,
      dst,
      securityPolicy: ctx.peer ? 'mutual_tls' : 'unknown',
      requestProtocol: 'http',
      responseCode: status,
      responseFlags,
      durationMs: deps.now() - started,
      requestBytes,
      responseBytes,
    })
  }, log)

  const proxyTcp = async (c: SidecarConfig, ctx: InboundContext, socket: Duplex): Promise<void> => {
    const { src, dst } = peers(c, ctx)
    const flow = openFlow({
      reporter: 'destination',
      direction: 'inbound',
      src,
      dst,
      securityPolicy: ctx.peer ? 'mutual_tls' : 'unknown',
      logger: log,
      metrics: deps.metrics,
      now: deps.now,
    })
    const decision = authorizeConnection(c.authorization, connectionFacts(c, ctx))
    if (decision.kind === 'deny') {
      reset(socket)
      flow.close({
        error: new AmbientError('AUTHZ_DENIED', `connection closed due to policy rejection: ${decision.reason}`, { side: 'downstream' }),
      })
      return
    }
    let upstream: Duplex
    try {
      upstream = await connectApp(appAddress(c), ctx.port)
    } catch (err) {
      reset(socket)
      flow.close({ error: err })
      return
    }
    const p = pipe(socket, upstream)
    // Left paused by the protocol decision: resume once piped.
    socket.resume()
    const result = await p.done
    flow.addReceived(result.bytesReceived)
    flow.addSent(result.bytesSent)
    flow.close(result.error === undefined ? {} : { error: result.error })
  }

  // Live connections past admission, for recheck(): `tcp` ones carry an L4 flow.
  const live = new Map<Duplex, { ctx: InboundContext; tcp: boolean }>()
  const track = (socket: Duplex, ctx: InboundContext, tcp: boolean): void => {
    live.set(socket, { ctx, tcp })
    socket.once('close', () => live.delete(socket))
  }

  const serveConnection = async (socket: Duplex, port: number, protocol: PortProtocol, ctx: InboundContext): Promise<void> => {
    const c = deps.config()
    // PeerAuthentication first: istiod's converted policies deny connections without an identity.
    const pa = authorize(
      { srcIdentity: ctx.peer?.identity, srcIp: ctx.sourceIp, dstIp: c.sidecar.pod.podIp, dstPort: port },
      c.sidecar.peerAuthentication,
    )
    if (!pa.allowed) {
      log.info(
        {
          event: 'inbound_refused',
          code: SidecarErrorCode.plaintextRefused,
          port,
          'src.addr': formatHostPort(ctx.sourceIp, ctx.sourcePort),
          reason: pa.reason,
        },
        'inbound connection refused by PeerAuthentication',
      )
      return reset(socket)
    }
    const p = await decideProtocol(socket, protocol, deps.sniffTimeoutMs)
    track(socket, ctx, p === 'tcp')
    if (p === 'tcp') return proxyTcp(c, ctx, socket)
    http.serve(socket, p, ctx)
  }

  const onConnection =
    (port: number) =>
    (socket: net.Socket): void => {
      // Also for the mTLS socket made over it: a TLSSocket's records go out on this socket.
      socket.setNoDelay(true)
      sockets.add(socket)
      socket.once('close', () => sockets.delete(socket))
      socket.on('error', () => undefined)
      const protocol = deps.config().sidecar.ports.find((p) => p.port === port)?.protocol ?? 'UNKNOWN'
      const base = { port, sourceIp: socket.remoteAddress ?? '', sourcePort: socket.remotePort ?? 0 }
      socket.once('data', (first: Buffer) => {
        socket.pause()
        socket.unshift(first)
        if (!isTlsClientHello(first)) {
          void serveConnection(socket, port, protocol, { ...base, peer: null })
          return
        }
        // Through a tls.Server so that Node verifies the client chain and sets `authorized`.
        tlsServerFor(port).emit('connection', socket)
      })
    }

  const tlsServers = new Map<number, tls.Server>()
  const tlsServerFor = (port: number): tls.Server => {
    let server = tlsServers.get(port)
    if (server === undefined) {
      server = tls.createServer(serverContextOptions(deps.certificate()))
      server.on('tlsClientError', (err) => log.debug({ event: 'inbound_tls_error', port, reason: err.message }, 'inbound TLS failed'))
      server.on('secureConnection', (secure: tls.TLSSocket) => {
        resetAsDestroy(secure)
        secure.on('error', () => undefined)
        const checked = checkClientPeer(secure, deps.config().trustDomain)
        if (!checked.ok) {
          log.info(
            { event: 'inbound_refused', code: SidecarErrorCode.peerRefused, port, reason: checked.reason },
            'inbound mTLS peer refused',
          )
          secure.destroy()
          return
        }
        const protocol = deps.config().sidecar.ports.find((p) => p.port === port)?.protocol ?? 'UNKNOWN'
        void serveConnection(secure, port, protocol, {
          port,
          sourceIp: secure.remoteAddress ?? '',
          sourcePort: secure.remotePort ?? 0,
          peer: checked.peer,
        })
      })
      tlsServers.set(port, server)
    }
    return server
  }

  // In-pod: the one redirect listener; each connection is served as if accepted on its original port.
  const bindRedirect = async (r: NonNullable<InboundDeps['redirect']>): Promise<number> => {
    const server = net.createServer({ pauseOnConnect: false }, (socket) => {
      socket.on('error', () => undefined)
      let port: number
      try {
        port = r.appPort(socket)
      } catch (err) {
        log.warn({ event: 'inbound_no_original_dst', reason: errorMessage(err) }, 'inbound connection without an original destination')
        return reset(socket)
      }
      // The proxy's own ports would loop back into this listener (the app leg is never captured).
      if (isProxyPort(port)) {
        log.info({ event: 'inbound_refused', port, reason: 'proxy port' }, 'inbound connection to a proxy port refused')
        return reset(socket)
      }
      onConnection(port)(socket)
    })
    const addr = await listen(server, { host: '0.0.0.0', port: r.port })
    servers.set(r.port, server)
    return addr.port
  }
  const bind = async (port: number): Promise<number> => {
    const server = net.createServer({ pauseOnConnect: false }, onConnection(port))
    const addr = await listen(server, { host: deps.config().sidecar.pod.podIp, port: deps.listenPort?.(port) ?? port })
    servers.set(port, server)
    return addr.port
  }
  let syncing: Promise<void> = Promise.resolve()
  let closed = false
  const sync = async (): Promise<void> => {
    if (closed || deps.redirect !== undefined) return
    const want = new Set(deps.config().sidecar.ports.map((p) => p.port))
    for (const port of want) {
      if (servers.has(port)) continue
      try {
        const bound = await bind(port)
        log.info({ event: 'inbound_listening', port, bound }, 'inbound listener added')
      } catch (err) {
        log.error(
          {
            event: 'inbound_listen_failed',
            port,
            code: err instanceof AmbientError ? err.code : 'SIDECAR_LISTEN_FAILED',
            err: errorMessage(err),
          },
          'inbound listener could not be added',
        )
      }
    }
    for (const [port, server] of servers) {
      if (want.has(port)) continue
      servers.delete(port)
      void closeServer(server)
      log.info({ event: 'inbound_listener_removed', port }, 'inbound listener removed; live connections carry on')
    }
  }

  return {
    async start() {
      const bound = new Map<number, number>()
      if (deps.redirect !== undefined) {
        // Every port is captured: the app ports all arrive on the one listener.
        const at = await bindRedirect(deps.redirect)
        for (const { port } of deps.config().sidecar.ports) bound.set(port, at)
        return bound
      }
      for (const { port } of deps.config().sidecar.ports) bound.set(port, await bind(port))
      return bound
    },
    syncListeners() {
      syncing = syncing.then(sync)
      return syncing
    },
    recheck() {
      const c = deps.config()
      for (const [socket, { ctx, tcp }] of live) {
        const identity = ctx.peer?.identity
        const pa = authorize(
          { srcIdentity: identity, srcIp: ctx.sourceIp, dstIp: c.sidecar.pod.podIp, dstPort: ctx.port },
          c.sidecar.peerAuthentication,
        )
        const l4 = tcp
          ? authorizeConnection(c.authorization, {
              sourcePrincipal: identity?.principal ?? null,
              sourceNamespace: identity?.namespace ?? null,
              sourceIp: ctx.sourceIp,
              destinationIp: c.sidecar.pod.podIp,
              destinationPort: ctx.port,
            })
          : undefined
        if (pa.allowed && l4?.kind !== 'deny') continue
        log.info(
          {
            event: 'inbound_closed',
            port: ctx.port,
            'src.addr': formatHostPort(ctx.sourceIp, ctx.sourcePort),
            'src.identity': identity?.toString(),
            reason: pa.allowed ? l4?.reason : pa.reason,
          },
          'connection closed due to policy change',
        )
        live.delete(socket)
        reset(socket)
      }
    },
    updateCertificate(cert) {
      for (const server of tlsServers.values()) server.setSecureContext(serverContextOptions(cert))
    },
    async close() {
      closed = true
      await syncing
      http.close()
      for (const s of sockets) s.destroy()
      await Promise.all([...servers.values()].map((s) => closeServer(s)))
      servers.clear()
      await app.close()
      bound.close()
    },
  }
}

/** Streams the app's response back; resolves with the body bytes once ended (or the client left). */
function writeResponse(version: 'http1' | 'h2', response: UpstreamResponse, res: DownstreamResponse): Promise<number> {
  const headers =
    version === 'h2'
      ? stripHopByHop(response.headers as Record<string, string | string[]>)
      : (response.headers as Record<string, string | string[]>)
  return streamResponse(response.status, headers, response, res)
}
