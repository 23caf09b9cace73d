// The outbound decision (docs/istio-reference.md "Waypoints", "Load balancing", "Ports", "Shutdown and
// failure"): a captured connection's destination, read against mesh state, becomes one plan:
// passthrough | HBONE direct | via waypoint | reject. Pure, like ztunnel's `build_request`; the
// executor switches on `kind` and acts (decide, then act). Every plan says why, for logs and explain.
import type { GatewayAddress, MeshView, Service, Workload } from '../mesh/types.js'
import type { SpiffeId } from '../identity/spiffe-id.js'
import { assertNever } from '../errors.js'
import { formatAuthority, isValidPort } from '../net/address.js'
import { canonicalIp } from '../net/ip.js'
import type { SocketAddress } from '../net/address.js'
import { healthyEndpoints, pickWeighted, targetPortFor } from './load-balance.js'
import type { Random } from './load-balance.js'
import { HBONE_PORT, isProxyPort } from '../net/ports.js'
import { isWaypointInstance, resolveWaypoint } from './waypoint-target.js'
import { spiffeSubjectAltNames, uniqueIdentities, workloadIdentity } from './workload-identity.js'

export const OutboundRejectCode = {
  /** A Service with no healthy endpoint: the connection is dropped (fail closed). */
  noHealthyUpstream: 'ZTUNNEL_NO_HEALTHY_UPSTREAM',
  /** A referenced waypoint that is not in mesh state (fail closed). */
  unknownWaypoint: 'ZTUNNEL_UNKNOWN_WAYPOINT',
  /** A referenced waypoint with no healthy workload (fail closed: L7 policy must not be skipped). */
  waypointUnavailable: 'ZTUNNEL_WAYPOINT_UNAVAILABLE',
  /** A mesh destination on 15001/15006/15008, the proxy's own ports. */
  proxyPortLoop: 'ZTUNNEL_PROXY_PORT_LOOP',
  /** Not an IP, or not a port in 1..65535. */
  invalidDestination: 'ZTUNNEL_INVALID_DESTINATION',
  /** The peer's fields do not form a SPIFFE ID, so its certificate could not be verified. */
  invalidIdentity: 'ZTUNNEL_INVALID_IDENTITY',
  /** Service-addressed (by hostname) to a Service that uses a waypoint but has no VIP for `:authority`. */
  serviceWithoutVip: 'ZTUNNEL_SERVICE_WITHOUT_VIP',
} as const
export type OutboundRejectCode = (typeof OutboundRejectCode)[keyof typeof OutboundRejectCode]

export interface RejectReason {
  readonly code: OutboundRejectCode
  readonly message: string
}

/** A captured original destination, or a Service chosen by name (DNS, SOCKS5 hostname). */
export type OutboundDestination = { readonly ip: string; readonly port: number } | { readonly service: Service; readonly port: number }

export interface OutboundRequest {
  readonly mesh: MeshView
  readonly source: Workload
  readonly dst: OutboundDestination
  /** Defaults to Math.random; tests inject a sequence. */
  readonly random?: Random
}

export type OutboundPlan =
  /** Plain TCP to `dst`: not a mesh address (fail open), or a workload outside ambient. */
  | {
      readonly kind: 'passthrough'
      readonly dst: SocketAddress
      readonly destinationWorkload: Workload | undefined
      readonly service: Service | undefined
      readonly reason: string
    }
  /** HBONE to the destination pod's 15008, `:authority` = its IP and target port. */
  | (TunnelPlan & { readonly kind: 'hbone'; readonly destinationWorkload: Workload })
  /** HBONE to a waypoint; `:authority` stays the original VIP:port or pod IP:port. */
  | (TunnelPlan & { readonly kind: 'via-waypoint'; readonly expectedIdentities: readonly [SpiffeId] })
  | { readonly kind: 'reject'; readonly reason: RejectReason }

/** What both tunnelled plans carry, under the same names (ztunnel's `Request`). */
export interface TunnelPlan {
  /** The tunnel's far end: the destination pod's or the waypoint's HBONE address. */
  readonly hboneTarget: SocketAddress
  /** The workload at `hboneTarget`: the destination pod, or the waypoint instance picked. */
  readonly hboneWorkload: Workload
  /** The CONNECT's `:authority`. */
  readonly authority: SocketAddress
  /** The server at `hboneTarget` must present one of these. */
  readonly expectedIdentities: readonly SpiffeId[]
  /** The final destination when known (via a waypoint and service-addressed, the waypoint picks it). */
  readonly destinationWorkload: Workload | undefined
  readonly service: Service | undefined
  readonly reason: string
}

interface Context {
  readonly mesh: MeshView
  readonly source: Workload
  readonly random: Random
}

export function planOutbound(req: OutboundRequest): OutboundPlan {
  const ctx: Context = { mesh: req.mesh, source: req.source, random: req.random ?? Math.random }
  const { dst } = req
  if (!isValidPort(dst.port)) return reject('invalidDestination', `invalid destination port ${dst.port}`)
  if ('service' in dst) return planToService(ctx, dst.service, dst.port, dst.service.addresses[0])

  const ip = canonicalIp(dst.ip)
  if (ip === undefined) return reject('invalidDestination', `invalid destination address ${JSON.stringify(dst.ip)}`)
  const service = ctx.mesh.serviceByAddress(ip, ctx.source.network)
  if (service !== undefined) return planToService(ctx, service, dst.port, ip)
  const workload = ctx.mesh.workloadByAddress(ip, ctx.source.network)
  if (workload !== undefined) return planToWorkload(ctx, workload, { ip, port: dst.port })
  const original = { ip, port: dst.port }
  return {
    kind: 'passthrough',
    dst: original,
    destinationWorkload: undefined,
    service: undefined,
    reason: `${formatAuthority(original)} is not a mesh address: passthrough (fail open)`,
  }
}

/** Service-addressed: the Service's waypoint, else a healthy endpoint picked by capacity. */
function planToService(ctx: Context, svc: Service, port: number, vip: string | undefined): OutboundPlan {
  if (isProxyPort(port)) return loop(`service ${svc.hostname} port ${port}`)
  let note = ''
  if (svc.waypoint !== undefined) {
    const what = `service ${svc.hostname}`
    if (isWaypointInstance(ctx.mesh, svc.waypoint, ctx.source)) {
      note = `source is the waypoint of ${what}; `
    } else {
      if (vip === undefined) return reject('serviceWithoutVip', `${what} uses a waypoint but has no VIP to address it by`)
      return toWaypoint(ctx, svc.waypoint, what, { ip: vip, port }, svc, undefined)
    }
  }

  const endpoint = pickWeighted(healthyEndpoints(ctx.mesh, svc), (w) => w.capacity, ctx.random)
  if (endpoint === undefined) return reject('noHealthyUpstream', `no healthy upstream for service ${svc.hostname}`)
  const target = targetPortFor(endpoint, svc, port)
  const ip = addressLike(endpoint, vip)
  const dst = { ip, port: target.port }
  const where =
    `${note}service ${svc.hostname} port ${port} → endpoint ${workloadName(endpoint)} ` +
    `${formatAuthority(dst)} (target port from ${PORT_SOURCE[target.from]})`
  if (isProxyPort(target.port)) return loop(where)
  // The Service's waypoint (above) is the only one consulted when service-addressed: istiod sets a
  // workload's own waypoint for workload-addressed traffic (`istio.io/waypoint-for: workload|all`).
  return direct(endpoint, dst, svc, where)
}

/** Workload-addressed (a pod IP): the pod's waypoint, else straight to the pod. */
function planToWorkload(ctx: Context, wl: Workload, dst: SocketAddress): OutboundPlan {
  const what = `workload ${workloadName(wl)}`
  if (isProxyPort(dst.port)) return loop(`${what} port ${dst.port}`)
  let note = ''
  if (wl.waypoint !== undefined) {
    if (isWaypointInstance(ctx.mesh, wl.waypoint, ctx.source)) note = `source is the waypoint of ${what}; `
    else return toWaypoint(ctx, wl.waypoint, what, dst, undefined, wl)
  }
  // Health is a load-balancing notion: a pod addressed by IP is dialled whatever its status.
  return direct(wl, dst, undefined, `${note}${what} ${formatAuthority(dst)}`)
}

/** To the workload itself: HBONE when it is in ambient, else plain TCP. */
function direct(wl: Workload, dst: SocketAddress, svc: Service | undefined, where: string): OutboundPlan {
  switch (wl.tunnelProtocol) {
    case 'NONE':
      return {
        kind: 'passthrough',
        dst,
        destinationWorkload: wl,
        service: svc,
        reason: `${where}: not in the mesh (tunnel protocol NONE), plain TCP`,
      }
    case 'LEGACY_ISTIO_MTLS':
      // Istio's ztunnel does not originate the sidecars' mTLS either: it sends plain TCP, which a
      // sidecar in PERMISSIVE mode accepts.
      return {
        kind: 'passthrough',
        dst,
        destinationWorkload: wl,
        service: svc,
        reason: `${where}: a sidecar workload (LEGACY_ISTIO_MTLS), plain TCP`,
      }
    case 'HBONE': {
      const identity = workloadIdentity(wl)
      if (identity === undefined) return reject('invalidIdentity', `${where}: workload has no valid SPIFFE identity`)
      const sans = svc === undefined ? [] : spiffeSubjectAltNames(svc.subjectAltNames)
      return {
        kind: 'hbone',
        hboneTarget: { ip: dst.ip, port: HBONE_PORT },
        hboneWorkload: wl,
        authority: dst,
        expectedIdentities: uniqueIdentities([identity, ...sans]),
        destinationWorkload: wl,
        service: svc,
        reason: `${where} over HBONE`,
      }
    }
    default:
      return assertNever(wl.tunnelProtocol, 'tunnel protocol')
  }
}

function toWaypoint(
  ctx: Context,
  gateway: GatewayAddress,
  what: string,
  original: SocketAddress,
  svc: Service | undefined,
  wl: Workload | undefined,
): OutboundPlan {
  const wp = resolveWaypoint(ctx.mesh, gateway, ctx.random)
  switch (wp.kind) {
    case 'resolved':
      return {
        kind: 'via-waypoint',
        hboneTarget: wp.address,
        hboneWorkload: wp.workload,
        authority: original,
        expectedIdentities: [wp.identity],
        service: svc,
        destinationWorkload: wl,
        reason: `${what} uses waypoint ${wp.name} (${formatAuthority(wp.address)})`,
      }
    case 'unavailable': {
      // Fail closed: skipping the waypoint would skip its L7 policy (docs/istio-reference.md, Waypoints).
      const code = wp.why === 'unknown' ? 'unknownWaypoint' : wp.why === 'unhealthy' ? 'waypointUnavailable' : 'invalidIdentity'
      return reject(code, `${what} uses waypoint ${wp.name}, but ${wp.message}`)
    }
    default:
      return assertNever(wp, 'waypoint resolution')
  }
}

const PORT_SOURCE = {
  endpoint: "the endpoint's port map",
  service: "the Service's target port",
  'service-port': 'the service port',
} as const

/** The endpoint address in the same IP family as the original destination when it has one. */
function addressLike(wl: Workload, original: string | undefined): string {
  const v6 = original?.includes(':')
  return (original === undefined ? undefined : wl.addresses.find((a) => a.includes(':') === v6)) ?? wl.addresses[0]!
}

function workloadName(wl: Workload): string {
  return `${wl.namespace}/${wl.name}`
}

function loop(where: string): OutboundPlan {
  return reject('proxyPortLoop', `${where} is a proxy port (15001/15006/15008): refusing to loop into ztunnel`)
}

function reject(code: keyof typeof OutboundRejectCode, message: string): OutboundPlan {
  return { kind: 'reject', reason: { code: OutboundRejectCode[code], message } }
}
