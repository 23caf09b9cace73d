// Outbound: the app's connections captured on the pod's SOCKS5 listener (src/capture, the same
// capture interface as ztunnel). Where they go:
//  - a Service port (VIP, or a name that resolves to one in the pod's namespace): HTTP goes through
//    the L7 pipeline the waypoint runs too (l7/http-proxy.ts: route, fault, mirror, retries, timeouts,
//    circuit breaking, load balancing), whose upstream leg is mutual TLS to
//    `<endpoint pod IP>:<target port>` (./mtls.ts); TCP is L4 only: one endpoint of the port's
//    tcpCluster, mutual TLS, the one pipe;
//  - a pod IP the config knows as an endpoint, on a port a Service targets there: mutual TLS
//    straight to it (Istio's auto mTLS);
//  - anything else (another port of that pod included): passthrough, plain TCP to the original
//    destination (Istio's PassthroughCluster: no listener or cluster knows that port).
// The caller's identity is this pod's; no policy is evaluated here (the destination's sidecar does).
import type { Duplex } from 'node:stream'
import { AmbientError, errorMessage } from '../errors.js'
import type { CapturedConnection } from '../capture/capture.js'
import type { PeerCertificate } from '../hbone/tls.js'
import type { SidecarConfig } from '../mesh/sidecar-config.js'
import type { Endpoint } from '../mesh/waypoint-config.js'
import { DEFAULT_CLUSTER_DOMAIN, searchCandidates } from '../mesh/hostname-resolution.js'
import { formatHostPort } from '../net/address.js'
import { connectTcp } from '../net/listen.js'
import { pipe, reset } from '../net/pipe.js'
import { openFlow } from '../observability/flow-record.js'
import type { FlowPeer } from '../observability/traffic-labels.js'
import {
  handleHttpRequest,
  type DownstreamRequest,
  type DownstreamResponse,
  type HttpProxyDeps,
  type TunnelContext,
} from '../l7/http-proxy.js'
import { resolveServedDestination, type ServedDestination } from '../l7/served-destination.js'
import { destinationPeer } from '../l7/telemetry.js'
import { outboundView } from './config.js'
import type { HttpServing } from '../l7/http-serving.js'
import { decideProtocol } from '../l7/http-serving.js'
import { selfPeer } from './metadata-exchange.js'

export interface OutboundDeps extends HttpProxyDeps {
  config(): SidecarConfig | null
  /** This pod as the L7 pipeline's "peer" (the caller is the pod itself). */
  self(): PeerCertificate
  /** The mTLS leg to an endpoint (the same one the HTTP pool uses). */
  openTransport(endpoint: Endpoint): Promise<Duplex>
  readonly http: HttpServing<OutboundHttpContext>
  /** Live L4 flows' sockets (both legs), for the sidecar's close. */
  readonly flows: Set<Duplex>
  readonly sniffTimeoutMs?: number
}

/** What an outbound HTTP connection carries to every request on it; config and routes are looked up per request. */
export interface OutboundHttpContext {
  readonly ip: string
  readonly port: number
  readonly peer: PeerCertificate
  readonly source: FlowPeer
  readonly sourceIp: string
}

export type OutboundTarget =
  | { readonly kind: 'service'; readonly destination: ServedDestination & { kind: 'service' }; readonly ip: string; readonly port: number }
  | { readonly kind: 'endpoint'; readonly endpoint: Endpoint }
  | { readonly kind: 'passthrough'; readonly ip: string; readonly port: number }
  | { readonly kind: 'unknown-hostname'; readonly hostname: string }

/** Pure: where a captured connection goes, from the config alone. */
export function planOutbound(config: SidecarConfig, dst: CapturedConnection['originalDst']): OutboundTarget {
  let ip: string
  if (dst.kind === 'hostname') {
    const candidates = searchCandidates(dst.hostname, config.namespace, DEFAULT_CLUSTER_DOMAIN)
    const service = candidates.map((h) => config.services.find((s) => s.hostname === h)).find((s) => s !== undefined)
    if (service === undefined || service.addresses[0] === undefined) return { kind: 'unknown-hostname', hostname: dst.hostname }
    ip = service.addresses[0]
  } else {
    ip = dst.ip
  }
  const served = resolveServedDestination(outboundView(config), { ip, port: dst.port })
  if (served.ok && served.destination.kind === 'service') return { kind: 'service', destination: served.destination, ip, port: dst.port }
  for (const c of config.clusters) {
    const ep = c.endpoints.find((e) => e.address === ip && e.targetPort === dst.port)
    if (ep !== undefined) return { kind: 'endpoint', endpoint: ep }
  }
  return { kind: 'passthrough', ip, port: dst.port }
}

export function handleOutbound(deps: OutboundDeps, conn: CapturedConnection): void {
  const config = deps.config()
  if (config === null) return conn.reject('internal')
  const plan = planOutbound(config, conn.originalDst)
  const self = deps.self()
  const src = selfPeer(config, formatHostPort(config.sidecar.pod.podIp, conn.socket.remotePort ?? 0), self.identity)
  const failed = (err: unknown): void => {
    deps.logger.error({ event: 'outbound_failed', reason: errorMessage(err) }, 'outbound connection handling failed')
    reset(conn.socket)
  }
  switch (plan.kind) {
    case 'unknown-hostname':
      deps.logger.info({ event: 'outbound_unknown_hostname', hostname: plan.hostname }, 'outbound hostname resolves to no Service')
      return conn.reject('unknown-hostname')
    case 'service':
      return void serveService(deps, conn, config, plan, src).catch(failed)
    case 'endpoint':
      return void proxyL4(
        deps,
        conn,
        src,
        () => deps.openTransport(plan.endpoint),
        destinationPeer({ addr: formatHostPort(plan.endpoint.address, plan.endpoint.targetPort), endpoint: plan.endpoint }),
        'mutual_tls',
      ).catch(failed)
    case 'passthrough':
      return void proxyL4(
        deps,
        conn,
        src,
        () => connectTcp({ host: plan.ip, port: plan.port, connectTimeoutMs: config.defaults.connectTimeoutMs }),
        { addr: formatHostPort(plan.ip, plan.port) },
        'unknown',
      ).catch(failed)
  }
}

async function serveService(
  deps: OutboundDeps,
  conn: CapturedConnection,
  config: SidecarConfig,
  plan: OutboundTarget & { kind: 'service' },
  src: FlowPeer,
): Promise<void> {
  const { destination } = plan
  try {
    await conn.accept()
  } catch {
    return
  }
  const protocol = await decideProtocol(conn.socket, destination.port.protocol, deps.sniffTimeoutMs)
  const target = formatHostPort(plan.ip, plan.port)
  if (protocol === 'tcp') {
    const cluster = config.clusters.find((c) => c.name === destination.port.tcpCluster)
    const pick = cluster === undefined ? undefined : deps.state.pick(cluster)
    if (pick === undefined || pick.kind !== 'picked') {
      deps.logger.info({ event: 'outbound_no_endpoint', target }, 'no healthy endpoint')
      return reset(conn.socket)
    }
    const ep = pick.endpoint
    return proxyL4(
      deps,
      conn,
      src,
      () => deps.openTransport(ep),
      destinationPeer({ addr: formatHostPort(ep.address, ep.targetPort), service: destination.service, endpoint: ep }),
      'mutual_tls',
      true,
    )
  }
  deps.http.serve(conn.socket, protocol, {
    ip: plan.ip,
    port: plan.port,
    peer: deps.self(),
    source: src,
    sourceIp: config.sidecar.pod.podIp,
  })
}

/** One L4 flow: connect, accept the capture, the one pipe; one flow record with reporter="source". */
async function proxyL4(
  deps: OutboundDeps,
  conn: CapturedConnection,
  src: FlowPeer,
  open: () => Promise<Duplex>,
  dst: FlowPeer,
  securityPolicy: 'mutual_tls' | 'unknown',
  accepted = false,
): Promise<void> {
  const flow = openFlow({
    reporter: 'source',
    direction: 'outbound',
    src,
    dst,
    securityPolicy,
    logger: deps.logger,
    metrics: deps.metrics,
    now: deps.now,
  })
  let upstream: Duplex
  try {
    upstream = await open()
  } catch (err) {
    if (accepted) reset(conn.socket)
    else conn.reject('upstream-refused')
    flow.close({
      error:
        err instanceof AmbientError
          ? err
          : new AmbientError('SIDECAR_UPSTREAM_CONNECT_FAILED', errorMessage(err), { side: 'upstream', cause: err }),
    })
    return
  }
  if (!accepted) {
    try {
      await conn.accept()
    } catch (err) {
      upstream.destroy()
      flow.close({ error: err })
      return
    }
  }
  deps.flows.add(conn.socket).add(upstream)
  const p = pipe(conn.socket, upstream)
  // The capture hands the socket over explicitly paused (capture.ts): resume once piped.
  conn.socket.resume()
  const result = await p.done
  deps.flows.delete(conn.socket)
  deps.flows.delete(upstream)
  flow.addReceived(result.bytesReceived)
  flow.addSent(result.bytesSent)
  flow.close(result.error === undefined ? {} : { error: result.error })
}

/**
 * The request handler the outbound HttpServing runs: the waypoint's pipeline, as this pod, with the
 * config as it is now (a keep-alive connection follows route and policy changes request by request).
 */
export function outboundRequest(
  deps: HttpProxyDeps,
  current: () => SidecarConfig | null,
): (ctx: OutboundHttpContext, version: 'http1' | 'h2', req: DownstreamRequest, res: DownstreamResponse) => Promise<void> {
  // A connection's requests share one context while the config holds (resolved once per
  // connection, config and version instead of once per request).
  const resolved = new WeakMap<OutboundHttpContext, { config: SidecarConfig; http1?: TunnelContext | null; h2?: TunnelContext | null }>()
  const tunnelFor = (ctx: OutboundHttpContext, c: SidecarConfig, version: 'http1' | 'h2'): TunnelContext | null => {
    let memo = resolved.get(ctx)
    if (memo === undefined || memo.config !== c) resolved.set(ctx, (memo = { config: c }))
    const known = memo[version]
    if (known !== undefined) return known
    const config = outboundView(c)
    const served = resolveServedDestination(config, { ip: ctx.ip, port: ctx.port })
    const tunnel: TunnelContext | null =
      !served.ok || served.destination.kind !== 'service'
        ? null
        : {
            config,
            destination: served.destination,
            target: { ip: ctx.ip, port: ctx.port },
            peer: ctx.peer,
            source: ctx.source,
            sourceIp: ctx.sourceIp,
            downstream: version,
          }
    memo[version] = tunnel
    return tunnel
  }
  // Not an async function: handleHttpRequest's own promise is returned, not wrapped in one more.
  return (ctx, version, req, res) => {
    try {
      const c = current()
      const tunnel = c === null ? null : tunnelFor(ctx, c, version)
      if (tunnel !== null) return handleHttpRequest(deps, tunnel, req, res)
      // The Service (or port) went away under a live connection: Envoy's "no route" answer.
      res.writeHead(404, { 'content-type': 'text/plain' })
      res.end('no route')
      return Promise.resolve()
    } catch (err) {
      return Promise.reject(err instanceof Error ? err : new Error(String(err)))
    }
  }
}
