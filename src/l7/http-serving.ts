// HTTP served on connections a proxy already holds (a waypoint's HBONE tunnel, a sidecar's
// captured outbound socket or accepted inbound one, TLS or not). HTTP/1.x on our own codec
// (./http1-downstream.ts) by default; what it leaves to node:http (Upgrade/websocket, CONNECT,
// Expect: 100-continue, an h2 preface) and every connection with `http1: 'node'` go to node:http's
// server machinery without a listener; h2 to node:http2's. Each connection is handed over as a
// 'connection' with its own context. A tunnel's stream (an Http2Stream) is read and written by the
// codec itself; node:http and node:http2 get it inside a StreamSocket (./stream-socket.ts), made
// only when they take it. Also the protocol decision for a connection (the one sniffing loop, for sockets and
// tunnel streams alike): the port's declared protocol, else sniffing (./protocol-sniff.ts) on the
// first bytes.
import http from 'node:http'
import http2 from 'node:http2'
import type { ServerHttp2Session } from 'node:http2'
import type { Duplex, Readable } from 'node:stream'
import { errorMessage } from '../errors.js'
import { isHttp2Stream } from '../net/pipe.js'
import { closeConnection } from '../net/tunnel-close.js'
import type { PortProtocol } from '../mesh/waypoint-config.js'
import type { Logger } from '../observability/logger.js'
import type { DownstreamRequest, DownstreamRequestObject, DownstreamResponse } from './http-proxy.js'
import { serveHttp1 } from './http1-downstream.js'
import {
  DEFAULT_SNIFF_TIMEOUT_MS,
  declaredProtocol,
  isSniffing,
  sniffProtocol,
  undecidedProtocol,
  type TunnelProtocol,
} from './protocol-sniff.js'
import { StreamSocket } from './stream-socket.js'

export type RequestHandler<C> = (ctx: C, version: 'http1' | 'h2', req: DownstreamRequest, res: DownstreamResponse) => Promise<void>

/** A tunnel's stream served as it is: the bytes read from it already (sniffing), the peer's address. */
export interface TunnelOpening {
  readonly head?: Buffer
  readonly remoteAddress?: string
}

export interface HttpServing<C> {
  /**
   * Serves HTTP on a connection, paused or not; bytes already read and put back are kept. A tunnel's
   * stream comes with the bytes read from it in `opening` (nothing is put back into it).
   */
  serve(socket: Duplex, version: 'http1' | 'h2', ctx: C, opening?: TunnelOpening): void
  close(): void
}

export interface HttpServingOptions {
  /** Who serves HTTP/1.x: our codec (the default), or node:http's server for every connection. */
  readonly http1?: 'codec' | 'node'
  /** The codec's idle period and head deadline (default 60 s, node:http's keepAliveTimeout and headersTimeout); tests shorten it. */
  readonly keepAliveTimeoutMs?: number
  /** The codec's deadline for a whole request (default 300 s, node:http's requestTimeout). */
  readonly requestTimeoutMs?: number
}

/** node:http's keepAliveTimeout here, and the codec's idle timeout. */
const KEEP_ALIVE_TIMEOUT_MS = 60_000

export function createHttpServing<C>(handler: RequestHandler<C>, logger: Logger, options: HttpServingOptions = {}): HttpServing<C> {
  const useCodec = (options.http1 ?? 'codec') === 'codec'
  const contexts = new WeakMap<object, C>()
  const sockets = new Set<Duplex>()
  const onRequest =
    (version: 'http1' | 'h2') =>
    (req: DownstreamRequestObject, res: DownstreamResponse): void => {
      const key = 'stream' in req ? req.stream.session : req.socket
      const ctx = key ? contexts.get(key) : undefined
      if (ctx === undefined) {
        res.writeHead(500)
        res.end()
        return
      }
      handler(ctx, version, req, res).catch((err: unknown) => {
        logger.error({ event: 'request_failed', reason: errorMessage(err) }, 'request handling failed')
        if (!res.headersSent) res.writeHead(500)
        res.end()
      })
    }
  const http1 = http.createServer({ keepAliveTimeout: KEEP_ALIVE_TIMEOUT_MS }, onRequest('http1'))
  const toNode = (socket: Duplex, ctx: C): void => {
    contexts.set(socket, ctx)
    http1.emit('connection', socket)
    // A sniffed socket is left paused; node:http reads with 'data' events.
    socket.resume()
  }
  const serveCodec = (socket: Duplex, ctx: C, opening: TunnelOpening): void =>
    serveHttp1(
      socket,
      {
        onRequest: (req, res) =>
          void handler(ctx, 'http1', req, res).catch((err: unknown) => {
            logger.error({ event: 'request_failed', reason: errorMessage(err) }, 'request handling failed')
            if (!res.headersSent) res.writeHead(500)
            res.end()
          }),
        handOver: (s, reason) => {
          logger.debug({ event: 'http1_hand_over', reason }, 'HTTP/1.1 connection handed to node:http')
          toNode(s, ctx)
        },
        keepAliveTimeoutMs: options.keepAliveTimeoutMs ?? KEEP_ALIVE_TIMEOUT_MS,
        ...(options.requestTimeoutMs === undefined ? {} : { requestTimeoutMs: options.requestTimeoutMs }),
        ...(opening.remoteAddress === undefined ? {} : { remoteAddress: opening.remoteAddress }),
        logger,
      },
      opening.head,
    )
  http1.on('clientError', (err, socket) => {
    logger.debug({ event: 'http1_client_error', reason: err.message }, 'bad HTTP/1.1 request')
    socket.destroy()
  })
  const h2 = http2.createServer({}, onRequest('h2'))
  let pending: C | undefined
  h2.on('session', (session: ServerHttp2Session) => {
    if (pending !== undefined) contexts.set(session, pending)
  })
  return {
    serve(connection, version, ctx, opening = {}) {
      // node:http and node:http2 need a socket; our codec reads a tunnel's stream itself.
      const socket = isHttp2Stream(connection) && !(version === 'http1' && useCodec) ? new StreamSocket(connection, opening) : connection
      if (socket === connection && !isHttp2Stream(socket) && opening.head !== undefined && opening.head.length > 0)
        socket.unshift(opening.head)
      sockets.add(socket)
      socket.once('close', () => sockets.delete(socket))
      socket.on('error', () => undefined)
      if (version === 'http1') {
        if (useCodec) serveCodec(socket, ctx, opening)
        else toNode(socket, ctx)
      } else {
        // Not resumed: the h2 session takes the bytes already buffered (a sniffed head put back),
        // then reads the socket itself; a flowing socket would lose them to 'data' events.
        pending = ctx
        h2.emit('connection', socket)
        pending = undefined
      }
    },
    close() {
      for (const s of sockets) closeConnection(s)
      http1.closeAllConnections()
    },
  }
}

/**
 * The protocol a connection carries. Declared ports decide at once; otherwise the first bytes are
 * read until they say HTTP/1, h2 or not-HTTP (or the sniff timeout passes, or the peer ends). The
 * bytes read are put back (unshift); the socket is left paused.
 */
export async function decideProtocol(
  socket: Duplex,
  declared: PortProtocol,
  sniffTimeoutMs = DEFAULT_SNIFF_TIMEOUT_MS,
): Promise<TunnelProtocol> {
  const { protocol, head } = await sniffFirstBytes(socket, declared, sniffTimeoutMs)
  if (head.length > 0) socket.unshift(head)
  return protocol
}

/**
 * The one sniffing loop: the protocol and the bytes read to decide it (empty when the port
 * declares its protocol). The source is left paused with the listeners removed.
 */
export function sniffFirstBytes(
  source: Readable,
  declared: PortProtocol,
  sniffTimeoutMs = DEFAULT_SNIFF_TIMEOUT_MS,
): Promise<{ protocol: TunnelProtocol; head: Buffer }> {
  const d = declaredProtocol(declared)
  if (!isSniffing(d)) return Promise.resolve({ protocol: d, head: Buffer.alloc(0) })
  return new Promise((resolve) => {
    let head = Buffer.alloc(0)
    let decided = false
    const decide = (protocol: TunnelProtocol): void => {
      if (decided) return
      decided = true
      clearTimeout(timer)
      source.off('data', onData)
      source.off('end', onEnd)
      source.pause()
      resolve({ protocol, head })
    }
    const onData = (chunk: Buffer): void => {
      head = Buffer.concat([head, chunk])
      const s = sniffProtocol(head, d)
      if (s !== 'undecided') decide(s)
    }
    const onEnd = (): void => decide(undecidedProtocol(d))
    const timer = setTimeout(() => decide(undecidedProtocol(d)), sniffTimeoutMs)
    source.on('data', onData)
    source.once('end', onEnd)
    source.resume()
  })
}
