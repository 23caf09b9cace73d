// The HBONE server (port 15008): mutual TLS 1.3, then HTTP/2 CONNECT streams, each one a tunnel.
//
// Checks, in Istio's order: the TLS handshake (client certificate required, chained to the mesh
// root, TLS 1.3, ALPN h2), the peer's trust domain (after the handshake: the session is destroyed and
// the reason logged), then per stream the method and the `:authority`. Everything after that (is the
// workload ours, is the port known, does policy allow it, can the app be reached) is the callback's
// decision, returned as a ConnectOutcome and written to the wire by statusForOutcome alone; an
// accepted tunnel is then handed to the caller, whose stream it is from then on.
import http2 from 'node:http2'
import type { Http2Session, IncomingHttpHeaders, ServerHttp2Session, ServerHttp2Stream } from 'node:http2'
import type { AddressInfo, Socket } from 'node:net'
import type { Duplex } from 'node:stream'
import type { TLSSocket } from 'node:tls'
import { AmbientError, errorCode, errorMessage } from '../errors.js'
import type { WorkloadCertificate } from '../identity/certificate.js'
import { formatHostPort } from '../net/address.js'
import { listen } from '../net/listen.js'
import { trackEndStream } from '../net/end-stream.js'
import { pipe, reset, type PipeResult } from '../net/pipe.js'
import { HBONE_PORT } from '../net/ports.js'
import type { Logger } from '../observability/logger.js'
import { limitedWarn } from '../observability/log-limiter.js'
import type { Authority } from '../net/authority.js'
import { parseAuthority } from '../net/authority.js'
import type { ConnectOutcome } from './status.js'
import { statusForOutcome } from './status.js'
import type { HboneTuning } from './settings.js'
import { DEFAULT_HANDSHAKE_TIMEOUT_MS, DEFAULT_KEEPALIVE, DEFAULT_TUNING, h2Settings } from './settings.js'
import type { PeerCertificate } from './tls.js'
import { checkClientPeer, serverTlsOptions } from './tls.js'
import { HboneErrorCode } from './errors.js'

const { NGHTTP2_CANCEL, NGHTTP2_NO_ERROR, NGHTTP2_REFUSED_STREAM } = http2.constants

export interface ConnectRequest {
  /** The client's verified certificate (same trust domain as ours). */
  readonly peer: PeerCertificate
  /** Where the client wants to go. */
  readonly authority: Authority
  readonly headers: IncomingHttpHeaders
  /** The TCP peer of the session (the source node's ztunnel or a waypoint). */
  readonly remoteAddress: string
  readonly remotePort: number
}

export type ConnectHandler = (request: ConnectRequest) => ConnectOutcome | Promise<ConnectOutcome>

/** The accept outcome of a caller that only pipes the tunnel to `upstream` (relays, tests). */
export function acceptPiped(upstream: Duplex, onDone?: (result: PipeResult) => void): Extract<ConnectOutcome, { kind: 'accept' }> {
  return {
    kind: 'accept',
    serve: (stream) => {
      const copy = pipe(stream, upstream)
      if (onDone) void copy.done.then(onDone)
    },
    cancel: () => reset(upstream),
  }
}

export interface HboneServerOptions {
  readonly certificate: WorkloadCertificate
  readonly host: string
  /** Default 15008; 0 in tests. */
  readonly port?: number
  /** Listen on this bound, listening socket instead of host:port (in-pod capture: a pod netns's). */
  readonly fd?: number
  readonly onConnect: ConnectHandler
  readonly logger: Logger
  /** TCP accept to finished TLS handshake; garbage and silence are dropped after this. */
  readonly handshakeTimeoutMs?: number
  readonly tuning?: Partial<HboneTuning>
  /** The server PINGs each session too (as the client does): every `intervalMs`, and a PING
   * unanswered for `timeoutMs` drops the session and its tunnels. Default 10 s / 20 s. */
  readonly keepalive?: { readonly intervalMs: number; readonly timeoutMs: number }
}

export interface HboneServerStats {
  /** Established (post-handshake, accepted) HTTP/2 sessions. */
  readonly sessions: number
  /** Streams received and not yet closed. */
  readonly streams: number
}

export interface HboneServer {
  start(): Promise<AddressInfo>
  /** Rotation: new handshakes use `cert`; established sessions and tunnels are untouched. */
  updateCertificate(cert: WorkloadCertificate): void
  stats(): HboneServerStats
  /**
   * Drain: stops accepting and leaves live tunnels be. The listening socket closes, every session
   * gets GOAWAY (the client's pool stops opening streams on it, and the session closes once its
   * last tunnel ends), and a CONNECT that raced the GOAWAY is refused with REFUSED_STREAM (RFC 9113
   * §8.7: not processed, safe to retry elsewhere). Idempotent; close() still cuts what is left.
   */
  stopAccepting(): void
  /** Stops accepting and closes every connection (open tunnels are cut). */
  close(): Promise<void>
}

export function createHboneServer(options: HboneServerOptions): HboneServer {
  const tuning: HboneTuning = { ...DEFAULT_TUNING, ...options.tuning }
  const handshakeTimeoutMs = options.handshakeTimeoutMs ?? DEFAULT_HANDSHAKE_TIMEOUT_MS
  const log = options.logger
  // A peer can fail a handshake once per connection: per reason, a few lines, then one "suppressed".
  const handshakeWarn = limitedWarn(log)
  let certificate = options.certificate
  let accepting = true
  const streams = new Set<ServerHttp2Stream>()
  const sockets = new Set<Socket>()
  const sessions = new Set<ServerHttp2Session>()
  const peers = new WeakMap<Http2Session, PeerCertificate>()

  const server = http2.createSecureServer({
    ...serverTlsOptions(certificate),
    allowHTTP1: false,
    handshakeTimeout: handshakeTimeoutMs,
    unknownProtocolTimeout: handshakeTimeoutMs,
    settings: h2Settings(tuning),
    maxSessionMemory: tuning.maxSessionMemoryMb,
    peerMaxConcurrentStreams: tuning.maxConcurrentStreams,
  })

  server.on('connection', (socket: Socket) => {
    sockets.add(socket)
    socket.once('close', () => sockets.delete(socket))
  })

  // With TLS 1.3 the client believes the handshake done before we verify its certificate, and only
  // sees ECONNRESET: the reason exists only here.
  server.on('tlsClientError', (err: Error, socket: TLSSocket) => {
    handshakeWarn.warn(
      `hbone_handshake_failed:${errorCode(err)}`,
      { event: 'hbone_handshake_failed', reason: errorMessage(err), code: errorCode(err), remote: remoteOf(socket) },
      'HBONE handshake failed',
    )
    // Measured on Node 20: after a TLS 1.3 client-certificate failure the server socket can stay
    // open, and the client's session then never closes. Close it ourselves.
    socket.destroy()
  })

  server.on('session', (session: ServerHttp2Session) => {
    const socket = session.socket as TLSSocket
    const check = checkClientPeer(socket, certificate.identity.trustDomain)
    if (!check.ok) {
      handshakeWarn.warn(
        'hbone_handshake_failed:HBONE_PEER_REJECTED',
        { event: 'hbone_handshake_failed', reason: check.reason, code: 'HBONE_PEER_REJECTED', remote: remoteOf(socket) },
        'HBONE client rejected',
      )
      session.destroy()
      return
    }
    peers.set(session, check.peer)
    sessions.add(session)
    const stopKeepalive = keepSessionAlive(session, remoteOf(socket))
    session.once('close', () => {
      stopKeepalive()
      sessions.delete(session)
    })
    session.setLocalWindowSize(tuning.connectionWindowBytes)
    // Accepted before stopAccepting() closed the listener, handshaken after: GOAWAY it too.
    if (!accepting) session.close()
  })

  /** PINGs `session` every interval; an unanswered PING destroys it (its tunnels see a reset). */
  function keepSessionAlive(session: ServerHttp2Session, remote: string | undefined): () => void {
    const { intervalMs, timeoutMs } = options.keepalive ?? DEFAULT_KEEPALIVE
    let deadline: NodeJS.Timeout | undefined
    const timer = setInterval(() => {
      if (deadline !== undefined || session.destroyed || session.closed) return
      deadline = setTimeout(() => {
        const err = new AmbientError(
          HboneErrorCode.keepaliveTimeout,
          `HBONE peer ${remote ?? '?'} did not answer PING within ${timeoutMs} ms`,
          { side: 'downstream' },
        )
        log.warn({ event: 'hbone_keepalive_timeout', peer: remote, timeoutMs, side: 'server' }, err.message)
        session.destroy(err, NGHTTP2_CANCEL)
      }, timeoutMs)
      deadline.unref()
      try {
        session.ping(() => {
          clearTimeout(deadline)
          deadline = undefined
        })
      } catch {
        // The session is closing: its 'close' stops this timer.
      }
    }, intervalMs)
    timer.unref()
    return () => {
      clearInterval(timer)
      clearTimeout(deadline)
    }
  }

  server.on('sessionError', (err: Error) => {
    if (log.isLevelEnabled('debug'))
      log.debug({ event: 'hbone_session_error', reason: errorMessage(err), code: errorCode(err) }, 'HBONE session error')
  })

  // One handler for every stream (no closure per stream); the log object is built only when read.
  const onStreamError = (err: Error): void => {
    if (log.isLevelEnabled('debug'))
      log.debug({ event: 'hbone_stream_error', reason: errorMessage(err), code: errorCode(err) }, 'HBONE stream error')
  }

  server.on('stream', (stream: ServerHttp2Stream, headers: IncomingHttpHeaders) => {
    // From the first frame on: a tunnel ends cleanly only with the client's END_STREAM (pipe.ts).
    trackEndStream(stream)
    if (!accepting) {
      stream.close(NGHTTP2_REFUSED_STREAM)
      return
    }
    streams.add(stream)
    stream.once('close', () => streams.delete(stream))
    stream.on('error', onStreamError)
    void handleStream(stream, headers)
  })

  async function handleStream(stream: ServerHttp2Stream, headers: IncomingHttpHeaders): Promise<void> {
    const session = stream.session
    const peer = session === undefined ? undefined : peers.get(session)
    if (peer === undefined || session === undefined) {
      stream.close(NGHTTP2_REFUSED_STREAM)
      return
    }
    const outcome = await decide(headers, peer, session.socket)
    if (stream.destroyed || stream.closed) {
      // The client went away while we decided: the caller releases what the decision opened.
      if (outcome.kind === 'accept')
        outcome.cancel(
          new AmbientError(HboneErrorCode.streamFailed, 'the client reset the CONNECT before it was answered', { side: 'downstream' }),
        )
      return
    }
    const status = statusForOutcome(outcome)
    if (outcome.kind === 'accept') {
      stream.respond({ ':status': status })
      outcome.serve(stream)
      return
    }
    log.info(
      { event: 'hbone_connect_rejected', status, reason: outcome.reason, authority: headers[':authority'], peer: peer.identity.toString() },
      'HBONE CONNECT rejected',
    )
    stream.respond({ ':status': status }, { endStream: true })
    // The request side may still be open; RST_STREAM(NO_ERROR) after our END_STREAM says we will not
    // read it (RFC 9113 §8.1) and frees the stream now rather than when the client gets round to it.
    stream.close(NGHTTP2_NO_ERROR)
  }

  async function decide(headers: IncomingHttpHeaders, peer: PeerCertificate, socket: Socket): Promise<ConnectOutcome> {
    const method = headers[':method']
    if (method !== 'CONNECT') return { kind: 'bad-request', reason: `method ${String(method)} is not CONNECT` }
    const parsed = parseAuthority(headers[':authority'])
    if (!parsed.ok) return { kind: 'bad-request', reason: parsed.reason }
    try {
      return await options.onConnect({
        peer,
        authority: parsed.authority,
        headers,
        remoteAddress: socket.remoteAddress ?? '',
        remotePort: socket.remotePort ?? 0,
      })
    } catch (err) {
      log.error({ event: 'hbone_handler_failed', reason: errorMessage(err), code: errorCode(err) }, 'HBONE CONNECT handler threw')
      return { kind: 'unavailable', reason: `internal error: ${errorMessage(err)}` }
    }
  }

  return {
    async start() {
      return listen(server, {
        host: options.host,
        port: options.port ?? HBONE_PORT,
        ...(options.fd === undefined ? {} : { fd: options.fd }),
      })
    },
    updateCertificate(cert) {
      server.setSecureContext(serverTlsOptions(cert))
      certificate = cert
      log.info(
        { event: 'hbone_certificate_updated', identity: cert.identity.toString(), serial: cert.serialNumber },
        'HBONE server certificate updated',
      )
    },
    stats() {
      return { sessions: sessions.size, streams: streams.size }
    },
    stopAccepting() {
      if (!accepting) return
      accepting = false
      // Without a callback: net.Server's would wait for the live connections.
      if (server.listening) server.close()
      for (const session of sessions) session.close()
      log.info({ event: 'hbone_stop_accepting', sessions: sessions.size, streams: streams.size }, 'HBONE server draining: no new tunnels')
    },
    close() {
      accepting = false
      handshakeWarn.flush()
      return new Promise<void>((resolve) => {
        // Also after stopAccepting(): net.Server emits 'close' again once no connection is left.
        server.close(() => resolve())
        // With an error, so that each tunnel is reset rather than ended (see client.ts destroy).
        const err = new AmbientError(HboneErrorCode.closed, 'HBONE server closing', { side: 'internal' })
        // Reset each tunnel first: a session already closing after stopAccepting()'s GOAWAY would
        // otherwise let the client read its tunnels as ended (measured on Node 20).
        for (const stream of streams) stream.close(NGHTTP2_CANCEL)
        for (const session of sessions) session.destroy(err, NGHTTP2_CANCEL)
        for (const socket of sockets) socket.destroy()
      })
    },
  }
}

function remoteOf(socket: Socket | undefined): string | undefined {
  if (socket?.remoteAddress === undefined || socket.remotePort === undefined) return undefined
  return formatHostPort(socket.remoteAddress, socket.remotePort)
}
