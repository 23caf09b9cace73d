// Outbound: a captured connection from a local pod → plan (pure) → execute. The executor switches on
// the plan's kind; every attempt is one flow record (reporter "source"), and every refusal goes back
// to the app through the capture's reject() (a SOCKS reply code, or a reset for transparent capture).
import type { Socket } from 'node:net'
import type { Duplex } from 'node:stream'
import { AmbientError, assertNever, errorCode, errorMessage } from '../errors.js'
import type { CaptureRejectReason, CapturedConnection } from '../capture/capture.js'
import { parseAuthority } from '../hbone/authority.js'
import { HboneErrorCode, HboneStatusError } from '../hbone/errors.js'
import type { HbonePool, Tunnel } from '../hbone/pool.js'
import type { CertificateManager } from '../identity/cert-manager.js'
import type { MeshView, Service, Workload } from '../mesh/types.js'
import { ConnectErrorCode, connectTcp } from '../net/listen.js'
import { pipe, reset, type Pipe } from '../net/pipe.js'
import { formatHostPort } from '../net/address.js'
import type { Flow, FlowOptions } from '../observability/flow-record.js'
import { openFlow } from '../observability/flow-record.js'
import type { FlowRegistry } from '../observability/flow-registry.js'
import type { Logger } from '../observability/logger.js'
import type { Metrics } from '../observability/metrics.js'
import { workloadPeer } from './flow-peers.js'
import { planOutbound, OutboundRejectCode, type OutboundDestination, type OutboundPlan } from './outbound-plan.js'
import { resolveDestination } from './resolve-destination.js'
import { workloadIdentity } from './workload-identity.js'

export const OutboundErrorCode = {
  unknownSource: 'ZTUNNEL_UNKNOWN_SOURCE_WORKLOAD',
  unknownHostname: 'ZTUNNEL_UNKNOWN_HOSTNAME',
  /** 15008 did not answer in time: Istio's hint about NetworkPolicy. */
  hboneTimeout: 'HBONE_CONNECT_TIMEOUT',
} as const

export interface OutboundContext {
  readonly mesh: MeshView
  readonly pool: HbonePool
  readonly certificates: CertificateManager
  readonly flows: FlowRegistry
  readonly metrics: Metrics
  readonly logger: Logger
  readonly hbonePort: number
  readonly connectTimeoutMs: number
  readonly clusterDomain: string
  /** The pool learns each identity's certificate once, then on every rotation (see ztunnel.ts). */
  readonly ensurePoolCertificate: (source: Workload) => Promise<void>
}

export async function handleOutbound(ctx: OutboundContext, conn: CapturedConnection): Promise<void> {
  const client = conn.socket
  client.on('error', () => undefined) // the pipe reports errors once it owns the socket
  const source = ctx.mesh.workloadByUid(conn.sourcePod)
  const clientAddr = formatHostPort(client.remoteAddress ?? '0.0.0.0', client.remotePort ?? 0)
  if (source === undefined) {
    // Fail closed: a pod ztunnel does not know has no identity to speak for.
    ctx.logger.warn({ event: 'outbound_unknown_source', pod: conn.sourcePod }, 'unknown source workload, connection refused')
    conn.reject('internal')
    return
  }
  const resolved = resolveDestination(ctx.mesh, source, conn.originalDst, ctx.clusterDomain)
  if (!resolved.ok) {
    const flow = openFlow(baseFlow(ctx, source, clientAddr, resolved.display, undefined, undefined))
    flow.close({ error: new AmbientError(OutboundErrorCode.unknownHostname, resolved.reason, { side: 'downstream' }) })
    conn.reject('unknown-hostname')
    return
  }
  const plan = planOutbound({ mesh: ctx.mesh, source, dst: resolved.dst })
  await execute(ctx, conn, source, clientAddr, resolved.dst, plan)
}

async function execute(ctx: OutboundContext, conn: CapturedConnection, source: Workload, clientAddr: string, dst: OutboundDestination, plan: OutboundPlan): Promise<void> {
  const dstText = 'ip' in dst ? formatHostPort(dst.ip, dst.port) : `${dst.service.hostname}:${dst.port}`
  switch (plan.kind) {
    case 'reject': {
      const flow = openFlow(baseFlow(ctx, source, clientAddr, dstText, undefined, undefined))
      flow.close({ error: new AmbientError(plan.reason.code, plan.reason.message, { side: 'downstream' }) })
      ctx.logger.info({ event: 'outbound_rejected', code: plan.reason.code, reason: plan.reason.message, dst: dstText }, 'outbound connection rejected')
      conn.reject(rejectReasonFor(plan.reason.code))
      return
    }
    case 'passthrough': {
      const options = baseFlow(ctx, source, clientAddr, formatHostPort(plan.dst.ip, plan.dst.port), plan.destinationWorkload, plan.service)
      let upstream: Socket
      try {
        upstream = await connectTcp({ host: plan.dst.ip, port: plan.dst.port, connectTimeoutMs: ctx.connectTimeoutMs, ...(conn.upstreamSocket === undefined ? {} : { socket: conn.upstreamSocket }) })
      } catch (err) {
        return fail(ctx, conn, openFlow(options), err)
      }
      return splice(ctx, conn, options, upstream)
    }
    case 'hbone':
    case 'via-waypoint': {
      const target = plan.kind === 'hbone' ? { ip: plan.target.ip, port: ctx.hbonePort } : { ip: plan.waypoint.ip, port: ctx.hbonePort }
      const dstWorkload = plan.kind === 'hbone' ? plan.destinationWorkload : plan.destinationWorkload
      const options: FlowOptions = {
        ...baseFlow(ctx, source, clientAddr, plan.authority, dstWorkload, plan.service),
        dstHboneAddr: formatHostPort(target.ip, target.port),
        securityPolicy: 'mutual_tls',
      }
      let tunnel: Tunnel
      try {
        tunnel = await openTunnel(ctx, source, conn, target, plan)
      } catch (err) {
        return fail(ctx, conn, openFlow(options), err)
      }
      return splice(ctx, conn, options, tunnel.stream)
    }
    default:
      return assertNever(plan, 'outbound plan')
  }
}

async function openTunnel(ctx: OutboundContext, source: Workload, conn: CapturedConnection, target: { ip: string; port: number }, plan: Extract<OutboundPlan, { kind: 'hbone' | 'via-waypoint' }>): Promise<Tunnel> {
  const identity = workloadIdentity(source)
  if (identity === undefined) throw new AmbientError(OutboundRejectCode.invalidIdentity, `source ${source.namespace}/${source.name} has no valid identity`)
  await ctx.ensurePoolCertificate(source)
  const authority = parseAuthority(plan.authority)
  if (!authority.ok) throw new AmbientError(OutboundRejectCode.invalidDestination, authority.reason)
  const sourceIp = source.addresses[0]
  try {
    return await ctx.pool.open({
      source: identity,
      destination: { host: target.ip, port: target.port },
      expectedIdentities: plan.expectedIdentities,
      authority: authority.authority,
      ...(sourceIp === undefined ? {} : { forwardedFor: { ip: sourceIp, port: conn.socket.remotePort ?? 0 } }),
      ...(plan.service === undefined ? {} : { host: plan.service.hostname }),
      baggage: baggageFor(source),
      ...(conn.upstreamSocket === undefined ? {} : { via: { key: source.uid, socket: conn.upstreamSocket } }),
    })
  } catch (err) {
    if (errorCode(err) === HboneErrorCode.connectFailed && /timed? ?out/i.test(errorMessage(err))) {
      throw new AmbientError(OutboundErrorCode.hboneTimeout, `connection to ${formatHostPort(target.ip, target.port)} timed out, maybe a NetworkPolicy is blocking HBONE port 15008: ${errorMessage(err)}`, { side: 'upstream', cause: err })
    }
    throw err
  }
}

/** Tell the app it is connected, then the one pipe; the flow closes when the pipe is done. */
async function splice(ctx: OutboundContext, conn: CapturedConnection, options: FlowOptions, upstream: Duplex): Promise<void> {
  const client = conn.socket
  const copy: { pipe?: Pipe } = {}
  const flow = ctx.flows.open(options, () => {
    // Terminated (drain): the record closes before the pipe reports, so count what it copied so far.
    if (copy.pipe) {
      flow.addSent(copy.pipe.bytesSent)
      flow.addReceived(copy.pipe.bytesReceived)
    }
    reset(client)
    reset(upstream)
  })
  try {
    await conn.accept()
  } catch (err) {
    reset(upstream)
    flow.close({ error: err })
    return
  }
  const p = pipe(client, upstream)
  copy.pipe = p
  flow.watchBytes(() => ({ sent: p.bytesSent, received: p.bytesReceived }))
  client.resume()
  const result = await p.done
  flow.addSent(result.bytesSent)
  flow.addReceived(result.bytesReceived)
  flow.close(result.error === undefined ? {} : { error: result.error })
}

function fail(ctx: OutboundContext, conn: CapturedConnection, flow: Flow, err: unknown): void {
  flow.close({ error: err })
  ctx.logger.info({ event: 'outbound_failed', code: errorCode(err), reason: errorMessage(err) }, 'outbound connection failed')
  conn.reject(failureReasonFor(err))
}

function baseFlow(ctx: OutboundContext, source: Workload, clientAddr: string, dstAddr: string, dstWorkload: Workload | undefined, service: Service | undefined): FlowOptions {
  return {
    reporter: 'source',
    direction: 'outbound',
    src: workloadPeer(clientAddr, source),
    dst: workloadPeer(dstAddr, dstWorkload, { service }),
    securityPolicy: 'unknown',
    logger: ctx.logger,
    metrics: ctx.metrics,
  }
}

/** Source workload metadata for the CONNECT's `baggage`, as ztunnel sends it. */
function baggageFor(w: Workload): Record<string, string> {
  const b: Record<string, string> = { 'k8s.namespace.name': w.namespace, 'k8s.pod.name': w.name }
  if (w.workloadName) b[`k8s.${w.workloadType.toLowerCase()}.name`] = w.workloadName
  if (w.canonicalName) b['service.name'] = w.canonicalName
  if (w.canonicalRevision) b['service.version'] = w.canonicalRevision
  if (w.clusterId) b['k8s.cluster.name'] = w.clusterId
  return b
}

/** Plan rejections → what the capture tells the app. */
function rejectReasonFor(code: OutboundRejectCode): CaptureRejectReason {
  switch (code) {
    case OutboundRejectCode.noHealthyUpstream:
    case OutboundRejectCode.unknownWaypoint:
    case OutboundRejectCode.waypointUnavailable:
    case OutboundRejectCode.serviceWithoutVip:
      return 'no-healthy-endpoint'
    case OutboundRejectCode.proxyPortLoop:
      return 'proxy-loop'
    case OutboundRejectCode.invalidDestination:
    case OutboundRejectCode.invalidIdentity:
      return 'internal'
    default:
      return assertNever(code, 'outbound reject code')
  }
}

/** Upstream failures → what the capture tells the app. */
function failureReasonFor(err: unknown): CaptureRejectReason {
  const code = errorCode(err)
  if (code === OutboundErrorCode.hboneTimeout || code === ConnectErrorCode.timeout) return 'upstream-timeout'
  if (err instanceof HboneStatusError) return err.status === 401 ? 'policy-denied' : 'upstream-refused'
  if (code === ConnectErrorCode.refused || code === HboneErrorCode.connectFailed) return 'upstream-refused'
  return 'internal'
}
