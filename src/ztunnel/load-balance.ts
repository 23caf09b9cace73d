// Service load balancing as ztunnel does it (docs/istio-reference.md, "Load balancing"): endpoints are
// the workloads selected by the Service, healthy ones only; the choice is random, weighted by
// `capacity`; the target port comes from the endpoint's port map, else the Service's target port.
import type { MeshView, Service, Workload } from '../mesh/types.js'
import { serviceKey } from '../mesh/types.js'

// The weighted pick and the injected random source have their one home in src/random.ts.
export { pickWeighted, type Random } from '../random.js'

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
