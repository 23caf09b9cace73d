// One HBONE client connection: TCP + mutual TLS 1.3 to a peer's 15008, one HTTP/2 session, many
// CONNECT streams. The server's identity is verified inside the handshake (checkServerIdentity), and
// the session is only created once the handshake succeeded, so a wrong peer never sees a CONNECT.
// Pooling and stream limits live in pool.ts; this file knows one connection.
import http2 from 'node:http2'
import type { ClientHttp2Session, ClientHttp2Stream } from 'node:http2'
import type { Socket } from 'node:net'
import tls from 'node:tls'
import { AmbientError, errorCode, errorMessage, isAmbientError } from '../errors.js'
import type { WorkloadCertificate } from '../identity/certificate.js'
import type { SpiffeId } from '../identity/spiffe-id.js'
import { formatHostPort } from '../net/address.js'
import { trackEndStream } from '../net/end-stream.js'
import type { Logger } from '../observability/logger.js'
import { HboneErrorCode, HboneStatusError } from './errors.js'
import type { ConnectRequestHeaders } from './headers.js'
import { connectHeaders } from './headers.js'
import type { HboneTuning } from './settings.js'
import { DEFAULT_HANDSHAKE_TIMEOUT_MS, DEFAULT_KEEPALIVE, DEFAULT_TUNING, h2Settings } from './settings.js'
import type { PeerCertificate } from './tls.js'
import { clientTlsOptions, peerCertificate } from './tls.js'

const { NGHTTP2_CANCEL } = http2.constants

export interface KeepaliveOptions {
  /** How often to PING an otherwise quiet or busy connection. */
  readonly intervalMs: number
  /** A PING unanswered for this long drops the connection and every tunnel on it. */
  readonly timeoutMs: number
}

export interface HboneConnectionOptions {
  /** The peer's HBONE listener (`<pod IP>:15008`, or the waypoint's). */
  readonly host: string
  readonly port: number
  readonly certificate: WorkloadCertificate
  /** The server must present one of these (destination workload, service SANs, or the waypoint). */
  readonly expectedIdentities: readonly SpiffeId[]
  readonly logger: Logger
  readonly connectTimeoutMs?: number
  readonly keepalive?: KeepaliveOptions
  readonly tuning?: Partial<HboneTuning>
  readonly localAddress?: string
  /** Connect this unconnected socket instead of a new one (in-pod capture: made in the source pod's netns). */
  readonly socket?: () => Socket
}

export interface HboneConnection {
  /** What the server's certificate said. */
  readonly peer: PeerCertificate
  /** The serial of the certificate we presented (rotation is visible per connection). */
  readonly localSerial: string
  readonly activeStreams: number
  /** True once the session is closing or closed, or the peer sent GOAWAY: open no more streams. */
  readonly draining: boolean
  /** Resolves once the session is closed, with the reason when it was not a normal close. */
  readonly closed: Promise<AmbientError | undefined>
  /**
   * CONNECT; resolves with the tunnel once the server answered 200. `onClose` runs once when the
   * stream closes, whatever the outcome (the pool's stream accounting, without a second listener).
   */
  open(request: ConnectRequestHeaders, onClose?: () => void): Promise<ClientHttp2Stream>
  /** GOAWAY, then close when the last stream ends (tunnels finish undisturbed). */
  close(): Promise<void>
  destroy(reason?: AmbientError): void
}

export async function connectHbone(options: HboneConnectionOptions): Promise<HboneConnection> {
  const tuning: HboneTuning = { ...DEFAULT_TUNING, ...options.tuning }
  const socket = await handshake(options)
  const peer = peerCertificate(socket)
  const session = http2.connect(`https://${formatHostPort(options.host, options.port)}`, {
    createConnection: () => socket,
    settings: h2Settings(tuning),
    maxSessionMemory: tuning.maxSessionMemoryMb,
    peerMaxConcurrentStreams: tuning.maxConcurrentStreams,
  })
  session.setLocalWindowSize(tuning.connectionWindowBytes)
  return new Connection(session, socket, peer, options)
}

function handshake(options: HboneConnectionOptions): Promise<tls.TLSSocket> {
  const where = formatHostPort(options.host, options.port)
  return new Promise((resolve, reject) => {
    const socket = tls.connect({
      ...clientTlsOptions(options.certificate, options.expectedIdentities),
      host: options.host,
      port: options.port,
      ...(options.localAddress === undefined ? {} : { localAddress: options.localAddress }),
      ...(options.socket === undefined
        ? {}
        : { socket: options.socket().setNoDelay(true).connect({ host: options.host, port: options.port }) }),
    })
    const timeoutMs = options.connectTimeoutMs ?? DEFAULT_HANDSHAKE_TIMEOUT_MS
    const timer = setTimeout(() => {
      fail(
        new AmbientError(HboneErrorCode.connectTimeout, `HBONE connect to ${where} timed out after ${timeoutMs} ms`, {
          side: 'upstream',
          details: { address: where },
        }),
      )
    }, timeoutMs)
    const fail = (err: AmbientError): void => {
      clearTimeout(timer)
      socket.off('secureConnect', onSecure)
      socket.destroy()
      reject(err)
    }
    const onError = (err: Error): void => {
      // checkServerIdentity's AmbientError arrives here as is: keep its code.
      fail(
        isAmbientError(err)
          ? err
          : new AmbientError(
              errorCode(err) === 'ETIMEDOUT' ? HboneErrorCode.connectTimeout : HboneErrorCode.connectFailed,
              `HBONE connect to ${where} failed: ${errorMessage(err)}`,
              { side: 'upstream', cause: err, details: { address: where } },
            ),
      )
    }
    const onSecure = (): void => {
      clearTimeout(timer)
      socket.off('error', onError)
      if (socket.alpnProtocol !== 'h2') {
        socket.destroy()
        reject(new AmbientError(HboneErrorCode.connectFailed, `HBONE peer ${where} did not negotiate h2`, { side: 'upstream' }))
        return
      }
      // Until the session takes the socket over, a late error (TLS 1.3 client-cert rejection) must
      // not crash the process.
      socket.on('error', () => {})
      resolve(socket)
    }
    socket.once('error', onError)
    socket.once('secureConnect', onSecure)
  })
}

class Connection implements HboneConnection {
  readonly peer: PeerCertificate
  readonly localSerial: string
  readonly closed: Promise<AmbientError | undefined>
  activeStreams = 0
  private goaway = false
  private failure: AmbientError | undefined
  private readonly keepaliveTimer: NodeJS.Timeout
  private pingDeadline: NodeJS.Timeout | undefined

  constructor(
    private readonly session: ClientHttp2Session,
    private readonly socket: tls.TLSSocket,
    peer: PeerCertificate,
    private readonly options: HboneConnectionOptions,
  ) {
    this.peer = peer
    this.localSerial = options.certificate.serialNumber
    this.closed = new Promise((resolve) => {
      session.once('close', () => {
        this.stopKeepalive()
        resolve(this.failure)
      })
    })
    session.on('error', (err: Error) => {
      this.failure ??= isAmbientError(err)
        ? err
        : new AmbientError(HboneErrorCode.streamFailed, `HBONE session failed: ${errorMessage(err)}`, { side: 'upstream', cause: err })
      if (options.logger.isLevelEnabled('debug'))
        options.logger.debug(
          { event: 'hbone_session_error', reason: errorMessage(err), code: errorCode(err) },
          'HBONE client session error',
        )
      this.reapSocket()
    })
    session.on('goaway', () => {
      this.goaway = true
    })
    // The peer closed the TCP/TLS connection (its FIN) under live tunnels: no frame can arrive any more,
    // so they are over. Node closes them on the socket's 'close', which waits for our queued writes,
    // and a peer that stopped reading never lets them drain (tunnels then waited for the PING timeout).
    socket.once('end', () => {
      if (this.session.destroyed || this.activeStreams === 0) return
      this.destroy(new AmbientError(HboneErrorCode.streamFailed, 'HBONE peer closed the connection', { side: 'upstream' }))
      this.reapSocket()
    })
    const keepalive = options.keepalive ?? DEFAULT_KEEPALIVE
    this.keepaliveTimer = setInterval(() => this.ping(keepalive.timeoutMs), keepalive.intervalMs)
    this.keepaliveTimer.unref()
  }

  get draining(): boolean {
    return this.goaway || this.session.closed || this.session.destroyed
  }

  open(request: ConnectRequestHeaders, onClose?: () => void): Promise<ClientHttp2Stream> {
    if (this.draining) {
      return Promise.reject(new AmbientError(HboneErrorCode.closed, 'HBONE connection is closing', { side: 'internal' }))
    }
    const stream = this.session.request(connectHeaders(request), { endStream: false })
    // From the first frame on: a tunnel ends cleanly only with the server's END_STREAM (pipe.ts).
    trackEndStream(stream)
    this.activeStreams++
    // Per tunnel: one listener per event, and errors built only when a CONNECT really fails (an
    // AmbientError captures a stack trace: building one on every close cost ~10 µs per tunnel).
    let settled = false
    let resolveOpen!: (stream: ClientHttp2Stream) => void
    let rejectOpen!: (err: AmbientError) => void
    const opened = new Promise<ClientHttp2Stream>((resolve, reject) => {
      resolveOpen = resolve
      rejectOpen = reject
    })
    const fail = (err: AmbientError): void => {
      settled = true
      rejectOpen(err)
    }
    const where = (): string => `${request.authority.ip}:${request.authority.port}`
    stream.on('error', (err: Error) => {
      this.reapSocket()
      if (settled) return
      fail(
        new AmbientError(HboneErrorCode.streamFailed, `HBONE CONNECT ${where()} failed: ${errorMessage(err)}`, {
          side: 'upstream',
          cause: this.failure ?? err,
        }),
      )
    })
    stream.once('close', () => {
      this.activeStreams--
      if (!settled) {
        fail(
          new AmbientError(HboneErrorCode.streamFailed, `HBONE CONNECT ${where()} closed before a response (code ${stream.rstCode})`, {
            side: 'upstream',
            ...(this.failure ? { cause: this.failure } : {}),
          }),
        )
      }
      onClose?.()
    })
    stream.once('response', (headers) => {
      const status = Number(headers[':status'])
      if (status === 200) {
        settled = true
        resolveOpen(stream)
        return
      }
      fail(new HboneStatusError(status, `HBONE CONNECT ${where()} answered ${status}`))
      // Finish our side cleanly: END_STREAM, never a reset (Node's rapid-reset guard).
      stream.resume()
      if (!stream.writableEnded) stream.end()
    })
    return opened
  }

  close(): Promise<void> {
    this.stopKeepalive()
    // session.close() on a closing session never calls back: wait on our own promise instead.
    if (!this.session.closed && !this.session.destroyed) this.session.close()
    return this.closed.then(() => undefined)
  }

  destroy(reason?: AmbientError): void {
    const err = reason ?? new AmbientError(HboneErrorCode.closed, 'HBONE connection closed locally', { side: 'internal' })
    this.failure ??= err
    this.stopKeepalive()
    // With an error, Node destroys each stream with it; without, a stream's readable side just ends
    // and a tunnel would look cleanly closed (measured: 'end', not 'error').
    this.session.destroy(err, NGHTTP2_CANCEL)
  }

  private ping(timeoutMs: number): void {
    if (this.pingDeadline !== undefined || this.session.destroyed) return
    this.pingDeadline = setTimeout(() => {
      const where = formatHostPort(this.options.host, this.options.port)
      const err = new AmbientError(HboneErrorCode.keepaliveTimeout, `HBONE peer ${where} did not answer PING within ${timeoutMs} ms`, {
        side: 'upstream',
      })
      this.options.logger.warn({ event: 'hbone_keepalive_timeout', peer: where, timeoutMs }, err.message)
      this.destroy(err)
    }, timeoutMs)
    this.pingDeadline.unref()
    this.session.ping(() => {
      clearTimeout(this.pingDeadline)
      this.pingDeadline = undefined
    })
  }

  /**
   * Measured on Node 20: when the TLS layer fails under a live session (TLS 1.3 client-certificate
   * rejection arriving after our CONNECT), the session is destroyed without 'error' or 'close' and
   * waits forever for the socket's write side to finish. Destroying the socket lets 'close' come.
   */
  private reapSocket(): void {
    setImmediate(() => {
      if (this.session.destroyed && !this.socket.destroyed) this.socket.destroy()
    })
  }

  private stopKeepalive(): void {
    clearInterval(this.keepaliveTimer)
    clearTimeout(this.pingDeadline)
    this.pingDeadline = undefined
  }
}
