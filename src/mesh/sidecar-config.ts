// The configuration istiod sends one sidecar (sidecar mode: one L4+L7 proxy per pod). It is a
// WaypointConfig (src/mesh/waypoint-config.ts: the same routes, clusters, policies and contract
// rules) plus a `sidecar` part for the pod's inbound side, carried in the same xDS message
// (`ambient.waypoint.v1.WaypointConfig`) under the resource name `sidecar/<namespace>/<pod>`.
// Readers of WaypointConfig ignore the extra part; the sidecar reads both.
//
// How the WaypointConfig fields are used by a sidecar (differences from a waypoint's):
//  - `name`/`namespace`/`identity`: the pod and its own identity (what it presents both ways);
//  - `services`: every Service the pod may call (outbound view, routes resolved in the pod's
//    namespace as Istio's sidecars do); their `authorization` lists are empty: policy is enforced
//    at the destination's sidecar, never at the caller's;
//  - `workloads`: the pod itself (its inbound);
//  - `authorization`: every AuthorizationPolicy that applies to the pod's inbound traffic, with
//    L7 semantics: selector / namespace / root-namespace policies, and the targetRefs policies of
//    the Services it backs (and of their waypoints), so the same YAML decides the same way in
//    both modes.
import type { Authorization } from '../authz/policy.js'
import type { PortProtocol, WaypointConfig, WorkloadMetadata } from './waypoint-config.js'

/** The resource name of a sidecar's config: `sidecar/<namespace>/<pod>`. */
export function sidecarResourceName(namespace: string, pod: string): string {
  return `sidecar/${namespace}/${pod}`
}

export interface SidecarConfig extends WaypointConfig {
  readonly sidecar: SidecarInbound
}

export interface SidecarInbound {
  readonly pod: {
    readonly uid: string
    readonly name: string
    readonly namespace: string
    readonly node: string
    /** Where the sidecar listens (inbound per app port, SOCKS5 15080, 15020, 15021). */
    readonly podIp: string
    /** Where the app binds; inbound traffic is delivered here. */
    readonly podLocalAddress: string
    /**
     * What the sidecar tells its peers about itself (Istio's metadata exchange) and reports as the
     * source of its own requests. Absent in a hand-written config: the pod name stands in.
     */
    readonly peer?: WorkloadMetadata
  }
  /** App ports taking inbound traffic (container ports and Service target ports), sorted. */
  readonly ports: readonly { readonly port: number; readonly protocol: PortProtocol }[]
  /**
   * PeerAuthentication for this pod as the L4 policies istiod gives ztunnel (STRICT = DENY without
   * a peer identity, port-level modes as port conditions); evaluated on every inbound connection.
   */
  readonly peerAuthentication: readonly Authorization[]
}
