// What the Delta ADS server serves: one provider per type URL. istiod's translation implements it;
// the server only asks it for the current resources of a node and diffs them against what that
// node already has, so providers never track clients.
import { createHash } from 'node:crypto'

/** One resource as it goes on the wire: its content version and its encoded message. */
export interface VersionedResource {
  /** Opaque; equal versions mean equal content (see resourceVersion). */
  readonly version: string
  /** The encoded message (what the Resource's Any carries as its value). */
  readonly bytes: Uint8Array
}

/** Who is asking: the node id from the request, and the node its bearer token authenticated. */
export interface AdsPeer {
  readonly nodeId: string
  readonly nodeName: string
  /** The client's `ip:port` as the gRPC server reports it. */
  readonly address: string
}

export interface ResourceProvider {
  readonly typeUrl: string
  /** Every resource of this type the node should hold, by resource name. Called on subscribe and each push. */
  resources(nodeId: string, peer: AdsPeer): ReadonlyMap<string, VersionedResource>
}

/** A content hash as the version: pushing identical bytes again sends nothing. */
export function resourceVersion(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('base64url').slice(0, 22)
}

export function versioned(bytes: Uint8Array): VersionedResource {
  return Object.freeze({ version: resourceVersion(bytes), bytes })
}
