// The Delta ADS server's view of istiod's latest translation: one ResourceProvider per type URL.
// A resource is encoded when its translated value changes (not once per translation, nor per client
// and push: ./encoded-resources.ts); the server diffs versions per client, so an unchanged resource
// costs nothing on the wire, and update() tells which types changed so only those are pushed.
//
// Every authenticated client gets every resource of the types it subscribes to:
//  - Address (workloads and services) and Authorization: all of them, as Istio does for ztunnel
//    (a ztunnel needs remote workloads to route and to check identities, and policies are small);
//  - WaypointConfig: all of them too, named `namespace/name`. A waypoint picks its own by name;
//    filtering per client would need a waypoint identity in the token, which we do not issue
//    (see state-dir.ts), and the configs hold nothing a node's ztunnel may not know anyway.
import type { Service as MeshService, Workload } from '../mesh/types.js'
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
import type { ResourceProvider } from '../xds/resource-provider.js'
import { EncodedResources, type ResourceChanges } from './encoded-resources.js'
import type { Translation } from './translate/index.js'

export interface IstiodProviders {
  readonly providers: readonly ResourceProvider[]
  /**
   * Replaces what is served; the caller then asks the server to push the types that changed. Only
   * resources whose translated value changed are encoded again; the others keep their bytes and version.
   */
  update(translation: Translation): IstiodUpdate
  /** The translation being served (undefined before the first update). */
  readonly current: Translation | undefined
  /** Workloads scheduled on `node`, from the translation being served. */
  workloadsOn(node: string): readonly Workload[]
}

export interface IstiodUpdate {
  /** Per type URL with any change: the names given new bytes (or added), and the names gone. */
  readonly changes: ReadonlyMap<string, ResourceChanges>
  /** Resources encoded by this update (the rest kept the previous translation's bytes). */
  readonly encoded: number
}

export function createIstiodProviders(): IstiodProviders {
  let current: Translation | undefined
  const addresses = new EncodedResources()
  const authorizations = new EncodedResources()
  const waypoints = new EncodedResources()
  let byNode: ReadonlyMap<string, readonly Workload[]> = new Map()
  let addressItems: ReadonlyMap<Workload | MeshService, AddressItem> = new Map()

  const provider = (typeUrl: string, set: EncodedResources): ResourceProvider => ({ typeUrl, resources: () => set.served })
  return {
    providers: [
      provider(TYPE_URL.address, addresses),
      provider(TYPE_URL.authorization, authorizations),
      provider(TYPE_URL.waypointConfig, waypoints),
    ],
    update(translation) {
      // A Workload or Service object the previous translation had (translate keeps unchanged ones)
      // keeps its item: the same name string and resource value, so the sets below compare by identity.
      const items = new Map<Workload | MeshService, AddressItem>()
      const item = (value: Workload | MeshService, make: () => AddressResource): AddressItem => {
        let it = addressItems.get(value)
        if (it === undefined) {
          const r = make()
          it = [addressResourceName(r), r]
        }
        items.set(value, it)
        return it
      }
      const address: AddressItem[] = [
        ...translation.mesh.workloads.map((value) => item(value, () => ({ kind: 'workload', value }))),
        ...translation.mesh.services.map((value) => item(value, () => ({ kind: 'service', value }))),
      ]
      const encodedBefore = addresses.encoded + authorizations.encoded + waypoints.encoded
      // Encode everything before swapping, so a throwing encoder leaves the last good state served.
      const pending = new Map([
        [TYPE_URL.address, addresses.next(address, encodeAddress)],
        [
          TYPE_URL.authorization,
          authorizations.next(
            translation.mesh.policies.map((p) => [authorizationResourceName(p), p] as const),
            encodeAuthorization,
          ),
        ],
        // Sidecar mode: each pod's config under the same type, named `sidecar/<ns>/<pod>` (the
        // message's namespace is `sidecar`, so no waypoint's `<ns>/<name>` can collide with it).
        [
          TYPE_URL.waypointConfig,
          waypoints.next(
            [
              ...translation.waypoints.map((w) => [waypointConfigResourceName(w), waypointResource(w)] as const),
              ...(translation.sidecars ?? []).map(
                (c) =>
                  [
                    sidecarResourceName(c.namespace, c.name),
                    { namespace: 'sidecar', name: `${c.namespace}/${c.name}`, document: c },
                  ] as const,
              ),
            ],
            encodeWaypointConfig,
          ),
        ],
      ])
      const nodes = new Map<string, Workload[]>()
      for (const w of translation.mesh.workloads) {
        const list = nodes.get(w.node)
        if (list === undefined) nodes.set(w.node, [w])
        else list.push(w)
      }
      const changes = new Map<string, ResourceChanges>()
      for (const [typeUrl, p] of pending) {
        p.commit()
        if (p.changes.changed.length > 0 || p.changes.removed.length > 0) changes.set(typeUrl, p.changes)
      }
      byNode = nodes
      addressItems = items
      current = translation
      return { changes, encoded: addresses.encoded + authorizations.encoded + waypoints.encoded - encodedBefore }
    },
    get current() {
      return current
    },
    workloadsOn(node) {
      return byNode.get(node) ?? []
    },
  }
}

type AddressItem = readonly [name: string, resource: AddressResource]

function waypointResource(w: WaypointConfig) {
  return { name: w.name, namespace: w.namespace, document: w }
}
