// The outbound half of a sidecar config (./sidecar-config.ts): every Service (waypoints' own
// Services excepted: no waypoint runs in sidecar mode), routed as a waypoint would route it
// (./waypoint-config.ts servedService) with VirtualServices and DestinationRules resolved in the
// client's namespace, and the clusters those routes reach with their endpoints. It depends on the
// namespace alone, so it is built once per namespace and shared, frozen, by that namespace's configs.
import type { ServedService, UpstreamCluster } from '../../mesh/waypoint-config.js'
import { ClusterRegistry } from './clusters.js'
import type { MessageSink } from './messages.js'
import type { SidecarIndex } from './sidecar-index.js'
import type { RouteContext } from './virtual-service-routes.js'
import { servedService, type WaypointConfigInput } from './waypoint-config.js'

export interface SidecarOutbound {
  readonly services: readonly ServedService[]
  readonly clusters: readonly UpstreamCluster[]
}

/** No policy on the caller side: the destination's sidecar enforces them. */
const NO_POLICIES: ServedService['authorization'] = Object.freeze([])

export function sidecarOutbound(namespace: string, input: WaypointConfigInput, index: SidecarIndex, sink: MessageSink): SidecarOutbound {
  const clusters = new ClusterRegistry(input.mesh, namespace)
  const ctx: RouteContext = { mesh: input.mesh, clusters, sink }
  // `name` is only used to attach HTTPRoutes to a waypoint Gateway: the Service's own, if any.
  const services = index.outboundServices.map((s) =>
    Object.freeze({ ...servedService(s, { namespace, name: index.waypointOf(s)?.name ?? '' }, input, ctx), authorization: NO_POLICIES }),
  )
  return Object.freeze({ services: Object.freeze(services), clusters: Object.freeze(clusters.list()) })
}
