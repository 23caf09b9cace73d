// Outbound: a captured connection from a local pod → plan (pure) → execute. Every attempt is one flow
// record (reporter "source"), opened once from the plan before the executor switches on its kind;
// every refusal goes back to the app through the capture's reject() (a SOCKS reply code, or a reset
// for transparent capture). The pool fetches the source's certificate itself when it connects.
import type { Socket } from 'node:net'
import type { Duplex } from 'node:stream'
import { AmbientError, assertNever, errorCode, errorMessage } from '../errors.js'
import type { CaptureRejectReason, CapturedConnection } from '../capture/capture.js'
import { HboneErrorCode, HboneStatusError } from '../hbone/errors.js'
import type { HbonePool, Tunnel } from '../hbone/pool.js'
import type { MeshView, Workload } from '../mesh/types.js'
import { formatAuthority, formatHostPort, type SocketAddress } from '../net/address.js'
import { ConnectErrorCode, connectTcp } from '../net/listen.js'
import { reset } from '../net/pipe.js'
import type { Flow, FlowOptions } from '../observability/flow-record.js'
import { openFlow } from '../observability/flow-record.js'
import type { FlowRegistry } from '../observability/flow-registry.js'
import type { Logger } from '../observability/logger.js'
import type { Metrics } from '../observability/metrics.js'
import { workloadPeer } from './flow-peers.js'
import { liveFlow } from './flow-pipe.js'
import { planOutbound, OutboundRejectCode, type OutboundPlan } from './outbound-plan.js'
import { resolveDestination, type ResolvedDestination } from './resolve-destination.js'
import { workloadIdentity } from './workload-identity.js'

export const OutboundErrorCode = {
  unknownSource: 'ZTUNNEL_UNKNOWN_SOURCE_WORKLOAD',
  unknownHostname: 'ZTUNNEL_UNKNOWN_HOSTNAME',
  /** 15008 did not answer in time: Istio's hint about NetworkPolicy (the HBONE client's own code). */
  hboneTimeout: HboneErrorCode.connectTimeout,
} as const

export interface OutboundContext {
  readonly mesh: MeshView
  readonly pool: HbonePool
  readonly flows: FlowRegistry
  readonly metrics: Metrics
  readonly logger: Logger
  readonly hbonePort: number
  readonly connectTimeoutMs: number
  readonly clusterDomain: string
}

type TunnelledPlan = Extract<OutboundPlan, { kind: 'hbone' | 'via-waypoint' }>

/** The destination as resolved, with its plan; a hostname that resolved to nothing has none. */
type Planned = (Extract<ResolvedDestination, { ok: true }> & { readonly plan: OutboundPlan }) | Extract<ResolvedDestination, { ok: false }>

export async function handleOutbound(ctx: OutboundContext, conn: CapturedConnection): Promise<void> {
  const client = conn.socket
  client.on('error', () => undefined) // the pipe reports errors once it owns the socket
  const source = ctx.mesh.workloadByUid(conn.sourcePod)
  if (source === undefined) {
    // Fail closed: a pod ztunnel does not know has no identity to speak for.
    ctx.logger.warn({ event: 'outbound_unknown_source', pod: conn.sourcePod }, 'unknown source workload, connection refused')
    conn.reject('internal')
    return
  }
  const clientAddr = formatHostPort(client.remoteAddress ?? '0.0.0.0', client.remotePort ?? 0)
  const resolved = resolveDestination(ctx.mesh, source, conn.originalDst, ctx.clusterDomain)
  const planned: Planned = resolved.ok ? { ...resolved, plan: planOutbound({ mesh: ctx.mesh, source, dst: resolved.dst }) } : resolved
  // The one record of this connection, however it ends (ztunnel's ConnectionResult).
  const flow = openFlow(flowOptionsFor(ctx, source, clientAddr, planned))
  if (!planned.ok) {
    flow.close({ error: new AmbientError(OutboundErrorCode.unknownHostname, planned.reason, { side: 'downstream' }) })
    conn.reject('unknown-hostname')
    return
  }
  await execute(ctx, conn, flow, source, planned.plan)
}

async function execute(ctx: OutboundContext, conn: CapturedConnection, flow: Flow, source: Workload, plan: OutboundPlan): Promise<void> {
  switch (plan.kind) {
    case 'reject': {
      flow.close({ error: new AmbientError(plan.reason.code, plan.reason.message, { side: 'downstream' }) })
      ctx.logger.info(
        { event: 'outbound_rejected', code: plan.reason.code, reason: plan.reason.message, dst: flow.dst.addr },
        'outbound connection rejected',
      )
      conn.reject(rejectReasonFor(plan.reason.code))
      return
    }
    case 'passthrough': {
      let upstream: Socket
      try {
        upstream = await connectTcp({
          host: plan.dst.ip,
          port: plan.dst.port,
          connectTimeoutMs: ctx.connectTimeoutMs,
          ...(conn.upstreamSocket === undefined ? {} : { socket: conn.upstreamSocket }),
        })
      } catch (err) {
        return fail(ctx, conn, flow, err)
      }
      return splice(ctx, conn, flow, upstream)
    }
    case 'hbone':
    case 'via-waypoint': {
      let tunnel: Tunnel
      try {
        tunnel = await openTunnel(ctx, source, conn, plan)
      } catch (err) {
        return fail(ctx, conn, flow, err)
      }
      return splice(ctx, conn, flow, tunnel.stream)
    }
    default:
      return assertNever(plan, 'outbound plan')
  }
}

/** The tunnel's far end: the plan's HBONE address on this mesh's HBONE port. */
function hboneAddress(ctx: OutboundContext, plan: TunnelledPlan): SocketAddress {
  return { ip: plan.hboneTarget.ip, port: ctx.hbonePort }
}

async function openTunnel(ctx: OutboundContext, source: Workload, conn: CapturedConnection, plan: TunnelledPlan): Promise<Tunnel> {
  const identity = workloadIdentity(source)
  if (identity === undefined)
    throw new AmbientError(OutboundRejectCode.invalidIdentity, `source ${source.namespace}/${source.name} has no valid identity`)
  const target = hboneAddress(ctx, plan)
  const sourceIp = source.addresses[0]
  try {
    return await ctx.pool.open({
      source: identity,
      destination: { host: target.ip, port: target.port },
      expectedIdentities: plan.expectedIdentities,
      authority: plan.authority,
      ...(sourceIp === undefined ? {} : { forwardedFor: { ip: sourceIp, port: conn.socket.remotePort ?? 0 } }),
      ...(plan.service === undefined ? {} : { host: plan.service.hostname }),
      baggage: baggageFor(source),
      ...(conn.upstreamSocket === undefined ? {} : { via: { key: source.uid, socket: conn.upstreamSocket } }),
    })
  } catch (err) {
    if (errorCode(err) === HboneErrorCode.connectTimeout) {
      throw new AmbientError(
        OutboundErrorCode.hboneTimeout,
        `connection to ${formatAuthority(target)} timed out, maybe a NetworkPolicy is blocking HBONE port 15008: ${errorMessage(err)}`,
        { side: 'upstream', cause: err },
      )
    }
    throw err
  }
}

/** Tell the app it is connected, then the one pipe; the flow closes when the pipe is done. */
async function splice(ctx: OutboundContext, conn: CapturedConnection, flow: Flow, upstream: Duplex): Promise<void> {
  const live = liveFlow(ctx.flows, flow, conn.socket, upstream)
  try {
    await conn.accept()
  } catch (err) {
    reset(upstream)
    flow.close({ error: err })
    return
  }
  await live.pipe()
}

function fail(ctx: OutboundContext, conn: CapturedConnection, flow: Flow, err: unknown): void {
  flow.close({ error: err })
  ctx.logger.info({ event: 'outbound_failed', code: errorCode(err), reason: errorMessage(err) }, 'outbound connection failed')
  conn.reject(failureReasonFor(err))
}

/** The record's options, from what was resolved and planned (before anything is attempted). */
function flowOptionsFor(ctx: OutboundContext, source: Workload, clientAddr: string, planned: Planned): FlowOptions {
  const base = {
    reporter: 'source' as const,
    direction: 'outbound' as const,
    src: workloadPeer(clientAddr, source),
    securityPolicy: 'unknown' as const,
    logger: ctx.logger,
    metrics: ctx.metrics,
  }
  if (!planned.ok) return { ...base, dst: workloadPeer(planned.display, undefined) }
  const { plan } = planned
  switch (plan.kind) {
    case 'reject': {
      const dst = planned.dst
      return {
        ...base,
        dst: workloadPeer('ip' in dst ? formatHostPort(dst.ip, dst.port) : `${dst.service.hostname}:${dst.port}`, undefined),
      }
    }
    case 'passthrough':
      return { ...base, dst: workloadPeer(formatAuthority(plan.dst), plan.destinationWorkload, { service: plan.service }) }
    case 'hbone':
    case 'via-waypoint':
      return {
        ...base,
        dst: workloadPeer(formatAuthority(plan.authority), plan.destinationWorkload, { service: plan.service }),
        dstHboneAddr: formatAuthority(hboneAddress(ctx, plan)),
        securityPolicy: 'mutual_tls',
      }
    default:
      return assertNever(plan, 'outbound plan')
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
