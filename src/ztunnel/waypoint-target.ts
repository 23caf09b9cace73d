// Finding the waypoint a GatewayAddress names (docs/istio-reference.md, "Waypoints"). A hostname
// names the waypoint's Service: ztunnel picks one of its healthy workloads and dials it directly on
// the HBONE port. An address names a waypoint workload, or the VIP of a waypoint Service.
import type { GatewayAddress, MeshView, Service, Workload } from '../mesh/types.js'
import { serviceKey } from '../mesh/types.js'
import type { SpiffeId } from '../identity/spiffe-id.js'
import { assertNever } from '../errors.js'
import type { SocketAddress } from '../net/address.js'
import { healthyEndpoints, pickWeighted } from './load-balance.js'
import type { Random } from './load-balance.js'
import { HBONE_PORT } from '../net/ports.js'
import { workloadIdentity } from './workload-identity.js'

export type WaypointResolution =
  | {
      readonly kind: 'resolved'
      readonly name: string
      readonly workload: Workload
      readonly address: SocketAddress
      readonly identity: SpiffeId
    }
  /** Why a referenced waypoint cannot be used; the caller fails closed (L7 policy must not be skipped). */
  | { readonly kind: 'unavailable'; readonly name: string; readonly why: 'unknown' | 'unhealthy' | 'no-identity'; readonly message: string }

/** How logs and reasons name a waypoint: `namespace/name` of its Service or workload when known. */
export function waypointName(mesh: MeshView, gateway: GatewayAddress): string {
  switch (gateway.kind) {
    case 'hostname': {
      const svc = mesh.serviceByKey(`${gateway.namespace}/${gateway.hostname}`)
      return svc === undefined ? `${gateway.namespace}/${gateway.hostname}` : `${svc.namespace}/${svc.name}`
    }
    case 'address': {
      const wl = mesh.workloadByAddress(gateway.address, gateway.network)
      if (wl !== undefined) return `${wl.namespace}/${wl.workloadName || wl.name}`
      const svc = mesh.serviceByAddress(gateway.address, gateway.network)
      return svc === undefined ? gateway.address : `${svc.namespace}/${svc.name}`
    }
    default:
      return assertNever(gateway, 'gateway address')
  }
}

/**
 * Whether `w` is (a replica of) the waypoint this GatewayAddress names. Decided from the
 * reference alone, not from health, so a waypoint never loops traffic to itself or to a sibling
 * replica even when the waypoint Service looks unhealthy.
 */
export function isWaypointInstance(mesh: MeshView, gateway: GatewayAddress, w: Workload): boolean {
  switch (gateway.kind) {
    case 'hostname':
      return w.services.has(`${gateway.namespace}/${gateway.hostname}`)
    case 'address': {
      if (w.addresses.includes(gateway.address)) return true
      const svc = mesh.serviceByAddress(gateway.address, gateway.network)
      return svc !== undefined && w.services.has(serviceKey(svc))
    }
    default:
      return assertNever(gateway, 'gateway address')
  }
}

export function resolveWaypoint(mesh: MeshView, gateway: GatewayAddress, random: Random): WaypointResolution {
  const name = waypointName(mesh, gateway)
  const port = gateway.hboneMtlsPort > 0 ? gateway.hboneMtlsPort : HBONE_PORT
  switch (gateway.kind) {
    case 'hostname': {
      const svc = mesh.serviceByKey(`${gateway.namespace}/${gateway.hostname}`)
      if (svc === undefined) return unknown(name, 'no such waypoint Service is in the mesh')
      return pickFromService(mesh, svc, name, port, random)
    }
    case 'address': {
      const wl = mesh.workloadByAddress(gateway.address, gateway.network)
      if (wl !== undefined) {
        if (wl.status !== 'HEALTHY')
          return { kind: 'unavailable', name, why: 'unhealthy', message: `waypoint ${name} at ${gateway.address} is not healthy` }
        return resolved(name, wl, { ip: gateway.address, port })
      }
      const svc = mesh.serviceByAddress(gateway.address, gateway.network)
      if (svc === undefined) return unknown(name, `no waypoint workload or service at ${gateway.address}`)
      return pickFromService(mesh, svc, name, port, random)
    }
    default:
      return assertNever(gateway, 'gateway address')
  }
}

function pickFromService(mesh: MeshView, svc: Service, name: string, port: number, random: Random): WaypointResolution {
  const wl = pickWeighted(healthyEndpoints(mesh, svc), (w) => w.capacity, random)
  if (wl === undefined) return { kind: 'unavailable', name, why: 'unhealthy', message: `waypoint ${name} has no healthy workload` }
  return resolved(name, wl, { ip: wl.addresses[0]!, port })
}

function resolved(name: string, wl: Workload, address: SocketAddress): WaypointResolution {
  const identity = workloadIdentity(wl)
  if (identity === undefined)
    return { kind: 'unavailable', name, why: 'no-identity', message: `waypoint ${name} has no valid SPIFFE identity` }
  return { kind: 'resolved', name, workload: wl, address, identity }
}

function unknown(name: string, message: string): WaypointResolution {
  return { kind: 'unavailable', name, why: 'unknown', message }
}
