// Does this waypoint serve the tunnel's `:authority`? A waypoint accepts only traffic for the
// services (VIP:port) and workloads (pod IP, any port) istiod told it it serves (docs/istio-reference.md
// "Waypoints"); anything else is refused with 400, as the reference's `ip mismatch` refusal. Pure,
// against WaypointConfig alone.
import type { Authority } from '../net/authority.js'
import type { Endpoint, ServedPort, ServedService, ServedWorkload, WaypointConfig } from '../mesh/waypoint-config.js'

export type ServedDestination =
  { readonly kind: 'service'; readonly service: ServedService; readonly port: ServedPort } | WorkloadDestination

export interface WorkloadDestination {
  readonly kind: 'workload'
  readonly workload: ServedWorkload
  readonly port: number
}

export type ServedLookup = { readonly ok: true; readonly destination: ServedDestination } | { readonly ok: false; readonly reason: string }

export function resolveServedDestination(config: WaypointConfig, authority: Authority): ServedLookup {
  for (const service of config.services) {
    if (!service.addresses.includes(authority.ip)) continue
    const port = service.ports.find((p) => p.port === authority.port)
    if (port === undefined) {
      return {
        ok: false,
        reason: `service ${service.hostname} has no port ${authority.port} (ports: ${service.ports.map((p) => p.port).join(', ') || 'none'})`,
      }
    }
    return { ok: true, destination: { kind: 'service', service, port } }
  }
  for (const workload of config.workloads) {
    if (workload.addresses.includes(authority.ip)) {
      if (authority.port === 0) return { ok: false, reason: 'illegal port 0' }
      return { ok: true, destination: { kind: 'workload', workload, port: authority.port } }
    }
  }
  return { ok: false, reason: `waypoint ${config.namespace}/${config.name} does not serve ${authority.ip}:${authority.port}` }
}

// Per workload config object and port: the same Endpoint for every request, so what is derived
// from an endpoint once (its parsed identity, for telemetry) is not derived again per request. A
// config change brings new workload objects and the old entries go with them.
const endpoints = new WeakMap<WorkloadDestination['workload'], Map<number, Endpoint>>()

/**
 * The one endpoint of workload-addressed traffic (no service, so no cluster endpoints): the
 * workload's first address at the tunnel's port, over HBONE to its identity.
 */
export function workloadEndpoint(destination: WorkloadDestination): Endpoint {
  const w = destination.workload
  let byPort = endpoints.get(w)
  if (byPort === undefined) endpoints.set(w, (byPort = new Map()))
  let ep = byPort.get(destination.port)
  if (ep === undefined) byPort.set(destination.port, (ep = Object.freeze(newWorkloadEndpoint(destination))))
  return ep
}

function newWorkloadEndpoint(destination: WorkloadDestination): Endpoint {
  const w = destination.workload
  return {
    uid: w.uid,
    name: w.name,
    namespace: w.namespace,
    address: w.addresses[0] ?? '',
    targetPort: destination.port,
    identity: w.identity,
    hbonePort: w.hbonePort,
    tunnelProtocol: 'HBONE',
    healthy: true,
    weight: 1,
    node: '',
  }
}
