// Encode once, send to every client: the Delta ADS server keeps each resource's encoded
// `Resource` entry (name, version, Any{type_url, value}) as the bytes it takes inside a
// DeltaDiscoveryResponse, keyed by (type URL, name, version), and builds each response by
// concatenating those entries between the envelope's own fields. A resource is encoded once per
// version however many clients receive it; clients get byte-identical entries.
//
// The concatenation is the same byte string protobufjs writes for the whole message (field 1,
// the repeated field 2, then 4, 5, 6), so a client cannot tell the difference.
import { envoy } from './gen/messages.js'
import type { VersionedResource } from './resource-provider.js'

const discovery = envoy.service.discovery.v3

/** A message already serialized: the gRPC serializer passes its bytes through (./grpc-definitions.ts). */
export class EncodedMessage {
  constructor(readonly bytes: Buffer) {}
}

/** DeltaDiscoveryResponse's `resources` field: number 2, length-delimited. */
const RESOURCES_TAG = (2 << 3) | 2

function varintLength(n: number): number {
  let len = 1
  while (n >= 0x80) {
    n >>>= 7
    len++
  }
  return len
}

function writeVarint(buf: Buffer, at: number, n: number): number {
  while (n >= 0x80) {
    buf[at++] = (n & 0x7f) | 0x80
    n >>>= 7
  }
  buf[at++] = n
  return at
}

/** One `resources` entry of a DeltaDiscoveryResponse, tag and length included. */
export function encodeResourceFrame(typeUrl: string, name: string, r: VersionedResource): Buffer {
  const body = discovery.Resource.encode({ name, version: r.version, resource: { type_url: typeUrl, value: r.bytes } }).finish()
  const frame = Buffer.allocUnsafe(1 + varintLength(body.length) + body.length)
  const at = writeVarint(frame, writeVarint(frame, 0, RESOURCES_TAG), body.length)
  frame.set(body, at)
  return frame
}

interface Entry {
  readonly version: string
  readonly frame: Buffer
}

export interface ResourceFrameStats {
  /** Resources encoded so far (a cache miss: a name first seen, or a new version). */
  readonly encodes: number
  /** Frames handed out from the cache. */
  readonly hits: number
  /** Entries held now. */
  readonly entries: number
}

/** Encoded entries by (type URL, name), each for one version: a new version replaces the old one. */
export class ResourceFrameCache {
  readonly #types = new Map<string, Map<string, Entry>>()
  #encodes = 0
  #hits = 0

  frame(typeUrl: string, name: string, r: VersionedResource): Buffer {
    let byName = this.#types.get(typeUrl)
    if (byName === undefined) this.#types.set(typeUrl, (byName = new Map()))
    const held = byName.get(name)
    if (held !== undefined && held.version === r.version) {
      this.#hits++
      return held.frame
    }
    const frame = encodeResourceFrame(typeUrl, name, r)
    this.#encodes++
    byName.set(name, { version: r.version, frame })
    return frame
  }

  /** Drops a name that no longer exists (its next appearance encodes again). */
  forget(typeUrl: string, name: string): void {
    this.#types.get(typeUrl)?.delete(name)
  }

  stats(): ResourceFrameStats {
    let entries = 0
    for (const m of this.#types.values()) entries += m.size
    return { encodes: this.#encodes, hits: this.#hits, entries }
  }
}

export interface DeltaResponseEnvelope {
  readonly systemVersionInfo: string
  readonly typeUrl: string
  readonly nonce: string
  readonly removedResources: readonly string[]
}

/** Below this many entries a body is joined as it is asked for, not kept (a push's few changes). */
const JOIN_KEEP_MIN = 64

export interface FrameJoinStats {
  /** Bodies joined from their entries. */
  readonly joins: number
  /** Bodies handed out again: the same entries, in the same order, as the body kept. */
  readonly reuses: number
}

/**
 * The entries of a response joined into one body, and the last long body kept per type URL: every
 * client of an initial sync (or a resync after a push) is sent the same entries in the same order,
 * so they share one body instead of each paying the concatenation of ~11,000 entries. Entries come
 * from a ResourceFrameCache, where one Buffer stands for one (type, name, version): the same Buffers
 * in the same order are the same bytes.
 */
export class FrameJoiner {
  readonly #kept = new Map<string, { readonly source: readonly Buffer[]; readonly frames: readonly Buffer[]; readonly body: Buffer }>()
  #joins = 0
  #reuses = 0

  /** `frames` frozen: the caller will ask with this same array again (a repeated full send), compared by identity. */
  join(typeUrl: string, frames: readonly Buffer[]): Buffer {
    const kept = frames.length >= JOIN_KEEP_MIN ? this.#kept.get(typeUrl) : undefined
    if (kept !== undefined && ((kept.source === frames && Object.isFrozen(frames)) || sameBuffers(kept.frames, frames))) {
      this.#reuses++
      return kept.body
    }
    const body = Buffer.concat(frames)
    this.#joins++
    if (frames.length >= JOIN_KEEP_MIN) this.#kept.set(typeUrl, { source: frames, frames: [...frames], body })
    return body
  }

  stats(): FrameJoinStats {
    return { joins: this.#joins, reuses: this.#reuses }
  }
}

function sameBuffers(a: readonly Buffer[], b: readonly Buffer[]): boolean {
  if (a.length !== b.length) return false
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false
  return true
}

/**
 * The serialized DeltaDiscoveryResponse as parts to send one after the other: the envelope's
 * leading field, the body (entries joined by a FrameJoiner, shared by every client it goes to:
 * not copied), the envelope's trailing fields.
 */
export function deltaResponseParts(envelope: DeltaResponseEnvelope, body: Buffer): [Buffer, Buffer, Buffer] {
  const head = discovery.DeltaDiscoveryResponse.encode({ systemVersionInfo: envelope.systemVersionInfo }).finish()
  const tail = discovery.DeltaDiscoveryResponse.encode({
    typeUrl: envelope.typeUrl,
    nonce: envelope.nonce,
    removedResources: [...envelope.removedResources],
  }).finish()
  return [toBuffer(head), body, toBuffer(tail)]
}

const toBuffer = (b: Uint8Array): Buffer => (Buffer.isBuffer(b) ? b : Buffer.from(b.buffer, b.byteOffset, b.byteLength))

/** The serialized DeltaDiscoveryResponse in one buffer: the envelope's fields around the pre-encoded entries (or their joined body). */
export function encodeDeltaResponse(envelope: DeltaResponseEnvelope, frames: readonly Buffer[] | Buffer): EncodedMessage {
  const [head, body, tail] = deltaResponseParts(envelope, Buffer.isBuffer(frames) ? frames : Buffer.concat(frames))
  return new EncodedMessage(Buffer.concat([head, body, tail]))
}
