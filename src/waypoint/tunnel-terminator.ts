// The waypoint's side of an accepted HBONE tunnel: decide the protocol inside it (the port's
// declared protocol, or sniffing the first bytes), then serve HTTP/1.1 or HTTP/2 on the tunnel with
// node:http / node:http2 server machinery (no listener: each tunnel is handed over as a
// 'connection'), or proxy it as TCP.
import http from 'node:http'
import http2 from 'node:http2'
import type { ServerHttp2Session, ServerHttp2Stream } from 'node:http2'
import { errorMessage } from '../errors.js'
import type { Logger } from '../observability/logger.js'
import type { HttpProxyDeps, TunnelContext } from './http-proxy.js'
import { handleHttpRequest } from './http-proxy.js'
import type { TunnelProtocol } from './protocol-sniff.js'
import { declaredProtocol, sniffProtocol } from './protocol-sniff.js'
import { StreamSocket } from './stream-socket.js'
import type { TcpProxyDeps } from './tcp-proxy.js'
import { proxyTcp } from './tcp-proxy.js'

/** Undeclared ports: bytes that are still a prefix of HTTP after this are treated as TCP. */
export const DEFAULT_SNIFF_TIMEOUT_MS = 100

export interface TunnelTerminator {
  serve(stream: ServerHttp2Stream, ctx: Omit<TunnelContext, 'downstream'>): void
  close(): void
}

export function createTunnelTerminator(deps: TcpProxyDeps & HttpProxyDeps, options: { logger: Logger; sniffTimeoutMs?: number }): TunnelTerminator {
  const log = options.logger
  const sockets = new Set<StreamSocket>()
  const contexts = new WeakMap<object, TunnelContext>()
  const onRequest = (req: http.IncomingMessage | http2.Http2ServerRequest, res: http.ServerResponse | http2.Http2ServerResponse): void => {
    const key = 'stream' in req ? req.stream.session : req.socket
    const ctx = key ? contexts.get(key) : undefined
    if (ctx === undefined) {
      res.writeHead(500)
      res.end()
      return
    }
    handleHttpRequest(deps, ctx, req, res).catch((err: unknown) => {
      log.error({ event: 'request_failed', reason: errorMessage(err) }, 'request handling failed')
      if (!res.headersSent) res.writeHead(500)
      res.end()
    })
  }
  const http1 = http.createServer({ keepAliveTimeout: 60_000 }, onRequest)
  http1.on('clientError', (err, socket) => {
    log.debug({ event: 'http1_client_error', reason: err.message }, 'bad HTTP/1.1 request in tunnel')
    socket.destroy()
  })
  const h2 = http2.createServer({}, onRequest)
  let pending: TunnelContext | undefined
  h2.on('session', (session: ServerHttp2Session) => {
    if (pending) contexts.set(session, pending)
  })

  const start = (protocol: TunnelProtocol, stream: ServerHttp2Stream, base: Omit<TunnelContext, 'downstream'>, head: Buffer): void => {
    const socket = new StreamSocket(stream, { head, remoteAddress: base.sourceIp })
    sockets.add(socket)
    socket.once('close', () => sockets.delete(socket))
    socket.on('error', () => undefined)
    switch (protocol) {
      case 'http1': {
        contexts.set(socket, { ...base, downstream: 'http1' })
        http1.emit('connection', socket)
        return
      }
      case 'h2': {
        pending = { ...base, downstream: 'h2' }
        h2.emit('connection', socket)
        pending = undefined
        return
      }
      case 'tcp':
        void proxyTcp(deps, { ...base, downstream: 'http1' }, socket)
    }
  }

  return {
    serve(stream, base) {
      const port = base.destination.kind === 'service' ? base.destination.port.protocol : 'UNKNOWN'
      const declared = declaredProtocol(port)
      // The server answers 200 right after onConnect returns: serve from the next turn.
      if (declared !== 'sniff') {
        setImmediate(() => start(declared, stream, base, Buffer.alloc(0)))
        return
      }
      let head = Buffer.alloc(0)
      let decided = false
      const decide = (protocol: TunnelProtocol): void => {
        if (decided) return
        decided = true
        clearTimeout(timer)
        stream.off('data', onData)
        stream.off('end', onEnd)
        stream.pause()
        start(protocol, stream, base, head)
      }
      const onData = (chunk: Buffer): void => {
        head = Buffer.concat([head, chunk])
        const sniffed = sniffProtocol(head)
        if (sniffed !== 'undecided') decide(sniffed)
      }
      const onEnd = (): void => decide('tcp')
      const timer = setTimeout(() => decide('tcp'), options.sniffTimeoutMs ?? DEFAULT_SNIFF_TIMEOUT_MS)
      stream.on('data', onData)
      stream.once('end', onEnd)
    },
    close() {
      for (const s of sockets) s.destroy()
      http1.closeAllConnections()
    },
  }
}

