// socks mode capture (architecture.md): one SOCKS5 listener per pod on <pod IP>:15080. The listener
// that accepted a connection names the source pod, so the handshake needs no authentication. This
// file does the I/O; socks5-parser.ts decides, socks5-reply.ts encodes.
//
// Lifecycle of a client socket:
//   handshake  our listeners attached, handshake deadline running, parser fed on every chunk;
//   handed over  our 'data'/'end' listeners removed, socket paused, pipelined bytes unshifted,
//                the handler owns it and settles it with accept() or reject().
// A debug-logging 'error' listener stays for the socket's whole life, so a client reset between
// hand-over and the proxy attaching its own listener cannot crash the process.
import type net from 'node:net'
import { AmbientError, assertNever, errorCode, errorMessage } from '../errors.js'
import { formatHostPort } from '../net/address.js'
import { closeServer, createTcpServer, listen } from '../net/listen.js'
import {
  silentCaptureLogger,
  type BoundAddress,
  type Capture,
  type CaptureLogger,
  type CaptureRejectReason,
  type CapturedConnection,
  type CapturedConnectionHandler,
  type OriginalDestination,
} from './capture.js'
import { feedSocks5, initialSocks5State, type Socks5ProtocolError } from './socks5-parser.js'
import { limitedWarn, type LimitedWarn, type LogLimiterOptions } from '../observability/log-limiter.js'
import {
  encodeMethodSelection,
  encodeSocks5Reply,
  METHOD_NONE_ACCEPTABLE,
  Socks5ReplyCode,
  socks5ReplyCode,
  type Socks5Refusal,
} from './socks5-reply.js'

/** Istio's port for ztunnel's SOCKS5 outbound listener (docs/istio-reference.md, ports). */
export const SOCKS5_CAPTURE_PORT = 15080

/** Long enough for a slow client on a loaded machine, short enough that idle sockets do not pile up. */
export const DEFAULT_SOCKS5_HANDSHAKE_TIMEOUT_MS = 10_000

export interface Socks5CaptureOptions {
  /** The pod IP; the listener binds here. */
  readonly host: string
  /** Default 15080; 0 picks a free port (tests). */
  readonly port?: number
  /** Opaque key of the source pod (e.g. workload uid), copied into every CapturedConnection. */
  readonly sourcePod: string
  readonly onConnection: CapturedConnectionHandler
  /** From accept to a complete CONNECT request; a client that takes longer is closed. */
  readonly handshakeTimeoutMs?: number
  readonly logger?: CaptureLogger
  /** Rate limit of the per-client warn lines (malformed clients, a handler that threw): per kind of
   * line, N per interval, then one "suppressed K similar" line. */
  readonly warnLimit?: LogLimiterOptions
}

export function createSocks5Capture(options: Socks5CaptureOptions): Capture {
  const logger = options.logger ?? silentCaptureLogger
  const clientWarn = limitedWarn(logger, options.warnLimit)
  const handshakeTimeoutMs = options.handshakeTimeoutMs ?? DEFAULT_SOCKS5_HANDSHAKE_TIMEOUT_MS
  const listenAddress = { host: options.host, port: options.port ?? SOCKS5_CAPTURE_PORT }
  const inHandshake = new Set<net.Socket>()
  let phase: 'new' | 'starting' | 'listening' | 'closed' = 'new'

  // Half-close and noDelay come with createTcpServer: the proxy carries a client's FIN through.
  const server = createTcpServer((socket) => {
    inHandshake.add(socket)
    runHandshake(socket, {
      sourcePod: options.sourcePod,
      handshakeTimeoutMs,
      logger,
      clientWarn,
      onHandedOver: () => inHandshake.delete(socket),
      onConnection: options.onConnection,
    })
    socket.once('close', () => inHandshake.delete(socket))
  })

  // A function, so that the check after `await listen` sees a close() that ran meanwhile.
  const closedMeanwhile = (): boolean => phase === 'closed'

  return {
    start: async () => {
      if (phase !== 'new') {
        throw new AmbientError('CAPTURE_ALREADY_STARTED', `SOCKS5 capture for ${options.sourcePod} was already started`)
      }
      phase = 'starting'
      let bound: net.AddressInfo
      try {
        // A taken port rejects with NET_ADDRESS_IN_USE naming the address (src/net/listen.ts).
        bound = await listen(server, listenAddress)
      } catch (err) {
        phase = 'closed'
        logger.warn(
          { event: 'listen-failed', pod: options.sourcePod, code: errorCode(err), err: errorMessage(err) },
          'SOCKS5 capture cannot listen',
        )
        throw err
      }
      if (closedMeanwhile()) {
        await closeServer(server)
        throw new AmbientError('CAPTURE_CLOSED', `SOCKS5 capture for ${options.sourcePod} was closed while starting`)
      }
      phase = 'listening'
      server.on('error', (err) =>
        logger.warn(
          { event: 'listener-error', pod: options.sourcePod, code: errorCode(err), err: errorMessage(err) },
          'SOCKS5 listener error',
        ),
      )
      logger.debug({ event: 'listening', pod: options.sourcePod, address: bound.address, port: bound.port }, 'SOCKS5 capture listening')
      return [{ address: bound.address, port: bound.port }] satisfies BoundAddress[]
    },
    close: async () => {
      if (phase === 'closed') return
      const wasListening = phase === 'listening'
      // While starting, start() itself closes the listener once it is bound.
      phase = 'closed'
      clientWarn.flush()
      for (const socket of inHandshake) socket.destroy()
      inHandshake.clear()
      // The listener's close waits for every connection, handed-over ones included, and those
      // belong to the proxy's drain: stop accepting without waiting for them.
      if (wasListening) void closeServer(server)
    },
  }
}

interface HandshakeContext {
  readonly sourcePod: string
  readonly handshakeTimeoutMs: number
  readonly logger: CaptureLogger
  readonly clientWarn: LimitedWarn
  readonly onHandedOver: () => void
  readonly onConnection: CapturedConnectionHandler
}

function runHandshake(socket: net.Socket, ctx: HandshakeContext): void {
  const client = formatHostPort(socket.remoteAddress ?? '?', socket.remotePort ?? 0)
  const log = { pod: ctx.sourcePod, client }
  let state = initialSocks5State()

  const deadline = setTimeout(() => {
    ctx.logger.debug({ ...log, event: 'handshake-timeout', timeoutMs: ctx.handshakeTimeoutMs }, 'SOCKS5 handshake timed out; closing')
    socket.destroy()
  }, ctx.handshakeTimeoutMs)

  const onEnd = (): void => {
    ctx.logger.debug({ ...log, event: 'client-closed-in-handshake' }, 'SOCKS5 client closed during handshake')
    socket.destroy()
  }
  const onData = (chunk: Buffer): void => {
    const step = feedSocks5(state, chunk)
    state = step.state
    for (const output of step.outputs) {
      switch (output.kind) {
        case 'method-selected':
          socket.write(encodeMethodSelection(output.method))
          break
        case 'connect':
          handOver(output.destination, output.payload)
          break
        case 'failed':
          stopHandshake()
          refuseHandshake(socket, output.error, ctx.clientWarn, log)
          break
        default:
          assertNever(output, 'SOCKS5 parser output')
      }
    }
  }

  const stopHandshake = (): void => {
    clearTimeout(deadline)
    socket.off('data', onData)
    socket.off('end', onEnd)
  }

  const handOver = (destination: OriginalDestination, payload: Buffer): void => {
    stopHandshake()
    socket.pause()
    // Pipelined bytes (sent right after the request, before our reply) go back to the front of
    // the read buffer: the proxy's first read returns them.
    if (payload.length > 0) socket.unshift(payload)
    ctx.onHandedOver()
    const connection = capturedConnection(socket, ctx.sourcePod, destination)
    try {
      ctx.onConnection(connection)
    } catch (err) {
      ctx.clientWarn.warn(
        'handler-threw',
        { ...log, event: 'handler-threw', code: errorCode(err), err: errorMessage(err) },
        'SOCKS5 connection handler threw',
      )
      connection.reject('internal')
    }
  }

  socket.on('data', onData)
  socket.on('end', onEnd)
  socket.on('error', (err) => ctx.logger.debug({ ...log, event: 'client-error', code: errorCode(err) }, 'SOCKS5 client socket error'))
  socket.once('close', () => clearTimeout(deadline))
}

function refuseHandshake(socket: net.Socket, error: Socks5ProtocolError, warn: LimitedWarn, log: Record<string, unknown>): void {
  switch (error.code) {
    case 'bad-version':
      // Not a SOCKS5 client: any reply would be garbage to it.
      warn.warn(
        error.code,
        { ...log, event: error.code, phase: error.phase, version: error.version },
        'not a SOCKS5 client (bad version byte); closing',
      )
      socket.destroy()
      return
    case 'no-acceptable-method':
      warn.warn(error.code, { ...log, event: error.code, methods: error.methods }, 'SOCKS5 client offers no acceptable method; closing')
      closeAfter(socket, encodeMethodSelection(METHOD_NONE_ACCEPTABLE))
      return
    case 'command-not-supported':
    case 'address-type-not-supported':
    case 'malformed-request':
      warn.warn(error.code, { ...log, event: error.code, error }, `SOCKS5 request refused: ${error.code}`)
      closeAfter(socket, encodeSocks5Reply(socks5ReplyCode(error.code satisfies Socks5Refusal)))
      return
    default:
      assertNever(error, 'SOCKS5 protocol error')
  }
}

function capturedConnection(socket: net.Socket, sourcePod: string, originalDst: OriginalDestination): CapturedConnection {
  let settled: 'pending' | 'accepted' | 'rejected' = 'pending'
  return {
    socket,
    sourcePod,
    originalDst,
    accept: () => {
      if (settled !== 'pending') {
        return Promise.reject(new AmbientError('CAPTURE_ALREADY_SETTLED', `captured connection was already ${settled}`))
      }
      settled = 'accepted'
      return new Promise<void>((resolve, reject) => {
        const gone = (cause?: unknown): AmbientError =>
          new AmbientError('CAPTURE_CLIENT_GONE', 'the SOCKS5 client closed before the success reply', { side: 'downstream', cause })
        if (socket.destroyed || !socket.writable) {
          reject(gone())
          return
        }
        socket.write(encodeSocks5Reply(Socks5ReplyCode.succeeded), (err) => (err ? reject(gone(err)) : resolve()))
      })
    },
    reject: (reason: CaptureRejectReason) => {
      if (settled === 'rejected') return
      const replied = settled === 'accepted'
      settled = 'rejected'
      // After a success reply the client is in the data phase: a SOCKS reply would be payload.
      if (replied) socket.destroy()
      else closeAfter(socket, encodeSocks5Reply(socks5ReplyCode(reason)))
    },
  }
}

/**
 * Writes a final message, then closes. Unread input is drained first, because closing a socket
 * with unread data makes the kernel send a RST (RFC 2525 §2.17) that may overtake the reply.
 */
function closeAfter(socket: net.Socket, message: Buffer): void {
  if (socket.destroyed) return
  socket.resume()
  socket.end(message, () => socket.destroy())
}
