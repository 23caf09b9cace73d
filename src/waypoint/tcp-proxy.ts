// TCP traffic through the waypoint (ports declared TCP, or undeclared ports whose first bytes are not
// HTTP): L4 authorization on the HBONE peer identity (the policies' L4 fields: l4-authz.ts), then
// the port's tcpCluster, an endpoint (engines/load-balancer over healthy, non-ejected endpoints),
// the cluster's maxConnections (engines/circuit-breaker: Envoy's tcp_proxy closes an overflowing
// connection, flag UO), a tunnel as the waypoint, and the one pipe. A failed connect counts for
// outlier detection. One flow record per connection, reporter="waypoint".
import type { Duplex } from 'node:stream'
import { AmbientError } from '../errors.js'
import type { Endpoint, UpstreamCluster } from '../mesh/waypoint-config.js'
import { formatAuthority, formatHostPort } from '../net/address.js'
import { pipe, reset } from '../net/pipe.js'
import { openFlow } from '../observability/flow-record.js'
import type { HttpProxyDeps, TunnelContext } from '../l7/http-proxy.js'
import { applicablePolicies, authorizeConnection } from '../l7/engines.js'
import { L7ErrorCode } from '../l7/errors.js'
import { destinationPeer } from '../l7/telemetry.js'
import { workloadEndpoint } from '../l7/served-destination.js'

export interface TcpProxyDeps extends HttpProxyDeps {
  /** Opens the app-port leg to an endpoint (an HBONE tunnel as the waypoint, or plain TCP). */
  readonly openTransport: (endpoint: Endpoint) => Promise<Duplex>
}

export async function proxyTcp(deps: TcpProxyDeps, ctx: TunnelContext, downstream: Duplex): Promise<void> {
  const { destination, config } = ctx
  const service = destination.kind === 'service' ? destination.service : undefined
  const port = destination.kind === 'service' ? destination.port.port : destination.port
  let cluster: UpstreamCluster | undefined
  let endpoint: Endpoint | undefined
  if (destination.kind === 'service') {
    cluster = config.clusters.find((c) => c.name === destination.port.tcpCluster)
    if (cluster) {
      const pick = deps.state.pick(cluster)
      if (pick.kind === 'picked') endpoint = pick.endpoint
    }
  } else {
    endpoint = workloadEndpoint(destination)
  }
  const flow = openFlow({
    reporter: 'waypoint',
    direction: 'inbound',
    src: ctx.source,
    dst: destinationPeer({
      addr: endpoint ? formatHostPort(endpoint.address, endpoint.targetPort) : formatAuthority(ctx.target),
      ...(service ? { service } : {}),
      ...(endpoint ? { endpoint } : {}),
    }),
    ...(endpoint ? { dstHboneAddr: formatHostPort(endpoint.address, endpoint.hbonePort) } : {}),
    securityPolicy: 'mutual_tls',
    logger: deps.logger,
    metrics: deps.metrics,
    now: deps.now,
  })
  const identity = ctx.peer.identity
  const decision = authorizeConnection(applicablePolicies(config, service ?? null), {
    sourcePrincipal: identity.principal,
    sourceNamespace: identity.namespace,
    sourceIp: ctx.sourceIp,
    destinationPort: port,
  })
  if (decision.kind === 'deny') {
    reset(downstream)
    flow.close({
      error: new AmbientError('AUTHZ_DENIED', `connection closed due to policy rejection: ${decision.reason}`, { side: 'downstream' }),
    })
    return
  }
  if (endpoint === undefined) {
    reset(downstream)
    flow.close({
      error: new AmbientError(L7ErrorCode.noHealthyUpstream, `no healthy upstream for ${formatAuthority(ctx.target)}`, {
        side: 'upstream',
      }),
    })
    return
  }
  const breaker = cluster ? deps.state.runtime(cluster).breaker : undefined
  const slot = breaker?.tryAcquire('connection')
  if (slot?.kind === 'overflow') {
    reset(downstream)
    flow.close({
      error: new AmbientError(L7ErrorCode.overflow, `circuit breaker on ${cluster?.name ?? ''}: ${slot.reason}`, { side: 'upstream' }),
      responseFlags: 'UO',
    })
    return
  }
  const endTry = cluster ? deps.state.begin(cluster, endpoint) : undefined
  let upstream: Duplex
  try {
    upstream = await deps.openTransport(endpoint)
  } catch (err) {
    endTry?.({ kind: 'connect-failure' })
    breaker?.release('connection')
    reset(downstream)
    flow.close({ error: err })
    return
  }
  const p = pipe(downstream, upstream)
  const result = await p.done
  endTry?.(null)
  breaker?.release('connection')
  flow.addReceived(result.bytesReceived)
  flow.addSent(result.bytesSent)
  flow.close(result.error === undefined ? {} : { error: result.error })
}
