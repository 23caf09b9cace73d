// Service load balancing as ztunnel does it (ambient-reference.md, "Load balancing"): endpoints are
// the workloads selected by the Service, healthy ones only; the choice is random, weighted by
// `capacity`; the target port comes from the endpoint's port map, else the Service's target port.
import type { MeshView, Service, Workload } from '../mesh/types.js'
import { serviceKey } from '../mesh/types.js'

/** A source of uniform numbers in [0, 1), like Math.random; injected so tests are deterministic. */
export type Random = () => number

/**
 * Healthy endpoints of a Service that have an address to connect to, sorted by uid. Sorting makes
 * a pick depend only on the mesh state and the random number, not on how a MeshView orders them.
 */
export function healthyEndpoints(mesh: MeshView, service: Service): Workload[] {
  return mesh
    .endpointsOf(serviceKey(service))
    .filter((w) => w.status === 'HEALTHY' && w.addresses.length > 0)
    .sort((a, b) => (a.uid < b.uid ? -1 : a.uid > b.uid ? 1 : 0))
}

/**
 * One item, chosen with probability weight/total. Weights that are not positive finite numbers
 * count as 0; when every weight is 0 the choice is uniform, so a Service whose endpoints all report
 * capacity 0 still gets traffic rather than failing (Istio's capacity defaults to 1; 0 only says
 * "least preferred"). Undefined only for an empty list.
 */
export function pickWeighted<T>(items: readonly T[], weightOf: (item: T) => number, random: Random): T | undefined {
  if (items.length === 0) return undefined
  const weights = items.map((i) => {
    const w = weightOf(i)
    return Number.isFinite(w) && w > 0 ? w : 0
  })
  const total = weights.reduce((a, b) => a + b, 0)
  if (total === 0) return items[Math.min(items.length - 1, Math.floor(clampUnit(random()) * items.length))]
  let point = clampUnit(random()) * total
  for (let i = 0; i < items.length; i++) {
    point -= weights[i]!
    if (point < 0) return items[i]
  }
  // Only reached through rounding at the top of the range: the last item with weight owns it.
  return items[weights.findLastIndex((w) => w > 0)]
}

function clampUnit(r: number): number {
  return Number.isFinite(r) ? Math.min(Math.max(r, 0), 1 - Number.EPSILON) : 0
}

/** Where a service port lands on an endpoint, and which rule decided it (for the plan's reason). */
export interface TargetPort {
  readonly port: number
  readonly from: 'endpoint' | 'service' | 'service-port'
}

/**
 * The endpoint's own mapping for this service port wins (a target port of 0 there means "use the
 * Service's"), then the Service's target port, else the service port itself.
 */
export function targetPortFor(endpoint: Workload, service: Service, servicePort: number): TargetPort {
  const fromEndpoint = endpoint.services.get(serviceKey(service))?.find((p) => p.servicePort === servicePort)
  if (fromEndpoint !== undefined && fromEndpoint.targetPort > 0) return { port: fromEndpoint.targetPort, from: 'endpoint' }
  const fromService = service.ports.find((p) => p.servicePort === servicePort)
  if (fromService !== undefined && fromService.targetPort > 0) return { port: fromService.targetPort, from: 'service' }
  return { port: servicePort, from: 'service-port' }
}
