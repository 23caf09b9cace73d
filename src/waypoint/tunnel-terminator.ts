// The waypoint's side of an accepted HBONE tunnel: decide the protocol inside it (the port's
// declared protocol, or sniffing the first bytes), then serve HTTP/1.1 (our codec, on the tunnel's
// stream itself) or HTTP/2 (node:http2's server machinery, no listener: each tunnel is handed over
// as a 'connection') with ../l7/http-serving.ts, shared with the sidecar, or proxy it as TCP.
import type { ServerHttp2Stream } from 'node:http2'
import type { Logger } from '../observability/logger.js'
import type { HttpProxyDeps, TunnelContext } from '../l7/http-proxy.js'
import { handleHttpRequest } from '../l7/http-proxy.js'
import type { TunnelProtocol } from '../l7/protocol-sniff.js'
import { createHttpServing, sniffFirstBytes } from '../l7/http-serving.js'
import { StreamSocket } from '../l7/stream-socket.js'
import type { TcpProxyDeps } from './tcp-proxy.js'
import { proxyTcp } from './tcp-proxy.js'

export { DEFAULT_SNIFF_TIMEOUT_MS } from '../l7/protocol-sniff.js'

export interface TunnelTerminator {
  serve(stream: ServerHttp2Stream, ctx: Omit<TunnelContext, 'downstream'>): void
  close(): void
}

export interface TunnelTerminatorOptions {
  readonly logger: Logger
  readonly sniffTimeoutMs?: number
  /**
   * The tunnel's context under the config current when a request arrives, so a route or policy
   * change reaches the next request on a tunnel opened before it (as Envoy applies a new route
   * table to new requests on existing connections). Default: the context the tunnel opened with.
   */
  readonly current?: (base: Omit<TunnelContext, 'downstream'>) => Omit<TunnelContext, 'downstream'>
}

export function createTunnelTerminator(deps: TcpProxyDeps & HttpProxyDeps, options: TunnelTerminatorOptions): TunnelTerminator {
  const sockets = new Set<StreamSocket>()
  const current = options.current ?? ((base) => base)
  // A tunnel's requests share one context while its config holds (one per config and version, not
  // one copy per request).
  const contexts = new WeakMap<Omit<TunnelContext, 'downstream'>, { http1?: TunnelContext; h2?: TunnelContext }>()
  const contextOf = (base: Omit<TunnelContext, 'downstream'>, version: 'http1' | 'h2'): TunnelContext => {
    const now = current(base)
    let byVersion = contexts.get(now)
    if (byVersion === undefined) contexts.set(now, (byVersion = {}))
    return (byVersion[version] ??= { ...now, downstream: version })
  }
  const serving = createHttpServing<Omit<TunnelContext, 'downstream'>>(
    (base, version, req, res) => handleHttpRequest(deps, contextOf(base, version), req, res),
    options.logger,
  )

  const start = (protocol: TunnelProtocol, stream: ServerHttp2Stream, base: Omit<TunnelContext, 'downstream'>, head: Buffer): void => {
    if (protocol !== 'tcp') return serving.serve(stream, protocol, base, { head, remoteAddress: base.sourceIp })
    const socket = new StreamSocket(stream, { head, remoteAddress: base.sourceIp })
    sockets.add(socket)
    socket.once('close', () => sockets.delete(socket))
    socket.on('error', () => undefined)
    void proxyTcp(deps, { ...base, downstream: 'http1' }, socket)
  }

  return {
    serve(stream, base) {
      const port = base.destination.kind === 'service' ? base.destination.port.protocol : 'UNKNOWN'
      // The HBONE server hands the stream over once it answered 200.
      void sniffFirstBytes(stream, port, options.sniffTimeoutMs).then(({ protocol, head }) => start(protocol, stream, base, head))
    },
    close() {
      for (const s of sockets) s.destroy()
      serving.close()
    },
  }
}
