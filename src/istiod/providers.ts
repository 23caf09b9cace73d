// The Delta ADS server's view of istiod's latest translation: one ResourceProvider per type URL.
// Resources are encoded once per translation (not once per client and push); the server diffs
// versions per client, so an unchanged resource costs nothing on the wire.
//
// Every authenticated client gets every resource of the types it subscribes to:
//  - Address (workloads and services) and Authorization: all of them, as Istio does for ztunnel
//    (a ztunnel needs remote workloads to route and to check identities, and policies are small);
//  - WaypointConfig: all of them too, named `namespace/name`. A waypoint picks its own by name;
//    filtering per client would need a waypoint identity in the token, which we do not issue
//    (see state-dir.ts), and the configs hold nothing a node's ztunnel may not know anyway.
import type { Workload } from '../mesh/types.js'
import { sidecarResourceName } from '../mesh/sidecar-config.js'
import type { WaypointConfig } from '../mesh/waypoint-config.js'
import {
  TYPE_URL,
  addressResourceName,
  authorizationResourceName,
  encodeAddress,
  encodeAuthorization,
  encodeWaypointConfig,
  waypointConfigResourceName,
  type AddressResource,
} from '../xds/convert.js'
import type { ResourceProvider, VersionedResource } from '../xds/resource-provider.js'
import { versioned } from '../xds/resource-provider.js'
import type { Translation } from './translate/index.js'

export interface IstiodProviders {
  readonly providers: readonly ResourceProvider[]
  /** Replaces what is served; the caller then asks the server to push. */
  update(translation: Translation): void
  /** The translation being served (undefined before the first update). */
  readonly current: Translation | undefined
  /** Workloads scheduled on `node`, from the translation being served. */
  workloadsOn(node: string): readonly Workload[]
}

export function createIstiodProviders(): IstiodProviders {
  let current: Translation | undefined
  let addresses: ReadonlyMap<string, VersionedResource> = new Map()
  let authorizations: ReadonlyMap<string, VersionedResource> = new Map()
  let waypoints: ReadonlyMap<string, VersionedResource> = new Map()
  let byNode: ReadonlyMap<string, readonly Workload[]> = new Map()

  const provider = (typeUrl: string, get: () => ReadonlyMap<string, VersionedResource>): ResourceProvider => ({ typeUrl, resources: get })
  return {
    providers: [
      provider(TYPE_URL.address, () => addresses),
      provider(TYPE_URL.authorization, () => authorizations),
      provider(TYPE_URL.waypointConfig, () => waypoints),
    ],
    update(translation) {
      const address: AddressResource[] = [
        ...translation.mesh.workloads.map((value): AddressResource => ({ kind: 'workload', value })),
        ...translation.mesh.services.map((value): AddressResource => ({ kind: 'service', value })),
      ]
      // Encode everything before swapping, so a throwing encoder leaves the last good state served.
      const nextAddresses = new Map(address.map((r) => [addressResourceName(r), versioned(encodeAddress(r))]))
      const nextAuthorizations = new Map(
        translation.mesh.policies.map((p) => [authorizationResourceName(p), versioned(encodeAuthorization(p))]),
      )
      const nextWaypoints = new Map(
        translation.waypoints.map((w) => [waypointConfigResourceName(w), versioned(encodeWaypointConfig(waypointResource(w)))]),
      )
      // Sidecar mode: each pod's config under the same type, named `sidecar/<ns>/<pod>` (the
      // message's namespace is `sidecar`, so no waypoint's `<ns>/<name>` can collide with it).
      for (const c of translation.sidecars ?? []) {
        nextWaypoints.set(
          sidecarResourceName(c.namespace, c.name),
          versioned(encodeWaypointConfig({ namespace: 'sidecar', name: `${c.namespace}/${c.name}`, document: c })),
        )
      }
      const nodes = new Map<string, Workload[]>()
      for (const w of translation.mesh.workloads) nodes.set(w.node, [...(nodes.get(w.node) ?? []), w])
      addresses = nextAddresses
      authorizations = nextAuthorizations
      waypoints = nextWaypoints
      byNode = nodes
      current = translation
    },
    get current() {
      return current
    },
    workloadsOn(node) {
      return byNode.get(node) ?? []
    },
  }
}

function waypointResource(w: WaypointConfig) {
  return { name: w.name, namespace: w.namespace, document: w }
}
