// The client's side of ./resource-frames.ts: a DeltaDiscoveryResponse read straight from the gRPC
// message into the same generated message objects protobufjs's decode builds, for the response
// shape the Delta ADS server sends (the envelope, and Resources of a name, a version and an Any).
// A sync's response holds every resource of a type (~11,000 Addresses at bench:xds's default
// scale): protobufjs reads each name, version and type URL 8 characters at a time into chains of
// cons strings (~17 heap objects per resource, alive until the whole response is applied, then
// kept as the versions the client remembers), and a type URL compared to the subscribed one is
// flattened into yet another copy. Here they are flat strings, and a type URL equal to the previous
// one is that same string. The Delta client itself reads the view (deltaResponseView): the
// resources' values as ranges of the message, so no Resource, Any or Buffer object per resource
// either; the message objects are built from it for the gRPC deserializer.
//
// Anything else (a field it does not know, a singular field twice, aliases or a TTL on a Resource)
// returns undefined and the caller decodes with protobufjs; test/unit/xds/delta-response-bytes.test.ts
// compares both.
import { envoy, google } from './gen/messages.js'
import { BAIL, Cursor, LEN } from './wire-reader.js'

const discovery = envoy.service.discovery.v3
type DeltaResponse = envoy.service.discovery.v3.DeltaDiscoveryResponse.$Properties

/** The response in `bytes`, or undefined: decode it with protobufjs. The message objects of the view below. */
export function deltaResponseFromBytes(bytes: Uint8Array): DeltaResponse | undefined {
  let v: DeltaResponseView
  try {
    v = readView(new Cursor(bytes, 0, bytes.length))
  } catch {
    return undefined
  }
  const res = new discovery.DeltaDiscoveryResponse({ systemVersionInfo: v.systemVersionInfo, typeUrl: v.typeUrl, nonce: v.nonce })
  res.removedResources!.push(...v.removedResources)
  for (let i = 0; i < v.names.length; i++) {
    const r = new discovery.Resource({ name: v.names[i]!, version: v.versions[i]! })
    const anyType = v.anyTypes[i]
    if (anyType !== undefined) {
      const a = new google.protobuf.Any({ type_url: anyType })
      if (v.sources[i] !== NO_BYTES) a.value = v.sources[i]!.subarray(v.starts[i], v.ends[i])
      r.resource = a
    }
    res.resources!.push(r)
  }
  return res
}

/** A DeltaDiscoveryResponse from the wire: the direct reader, or protobufjs for anything else. */
export function decodeDeltaResponse(bytes: Uint8Array): DeltaResponse {
  return deltaResponseFromBytes(bytes) ?? discovery.DeltaDiscoveryResponse.decode(bytes)
}

/**
 * A response's resources as ranges of the bytes they arrived in, for the Delta client: a sync's
 * ~11,000 resources cost no Resource, Any or Buffer object each, only their name and version.
 * Resource i is `sources[i]` from `starts[i]` to `ends[i]`; `anyTypes[i]` is its Any's type URL
 * ('' when the Any has none, undefined when the Resource has no Any). Read directly for what the
 * server sends (the envelope, Resources of a name, a version and an Any, each field at most once),
 * or from protobufjs's decode for anything else (the same values).
 */
export interface DeltaResponseView {
  readonly systemVersionInfo: string
  readonly typeUrl: string
  readonly nonce: string
  readonly removedResources: readonly string[]
  readonly names: readonly string[]
  readonly versions: readonly string[]
  readonly anyTypes: readonly (string | undefined)[]
  readonly sources: readonly Uint8Array[]
  readonly starts: readonly number[]
  readonly ends: readonly number[]
}

interface ViewParts {
  systemVersionInfo: string
  typeUrl: string
  nonce: string
  removedResources: string[]
  names: string[]
  versions: string[]
  anyTypes: (string | undefined)[]
  sources: Uint8Array[]
  starts: number[]
  ends: number[]
}

const NO_BYTES = new Uint8Array(0)

const emptyView = (): ViewParts => ({
  systemVersionInfo: '',
  typeUrl: '',
  nonce: '',
  removedResources: [],
  names: [],
  versions: [],
  anyTypes: [],
  sources: [],
  starts: [],
  ends: [],
})

/** The view of the response in `bytes` (throws what protobufjs throws for bytes neither reader takes). */
export function deltaResponseView(bytes: Uint8Array): DeltaResponseView {
  try {
    return readView(new Cursor(bytes, 0, bytes.length))
  } catch {
    return viewOf(discovery.DeltaDiscoveryResponse.decode(bytes))
  }
}

/** The view of a decoded response (protobufjs's, or the direct reader's message objects). */
export function viewOf(res: DeltaResponse): DeltaResponseView {
  const v = emptyView()
  v.systemVersionInfo = res.systemVersionInfo ?? ''
  v.typeUrl = res.typeUrl ?? ''
  v.nonce = res.nonce ?? ''
  v.removedResources = [...(res.removedResources ?? [])]
  for (const r of res.resources ?? []) {
    const value = r.resource?.value ?? NO_BYTES
    v.names.push(r.name ?? '')
    v.versions.push(r.version ?? '')
    v.anyTypes.push(r.resource ? (r.resource.type_url ?? '') : undefined)
    v.sources.push(value)
    v.starts.push(0)
    v.ends.push(value.length)
  }
  return v
}

/** The direct reader: each Resource's value as a range of `c`'s bytes. */
function readView(c: Cursor): DeltaResponseView {
  const v = emptyView()
  let seen = 0
  while (c.pos < c.end) {
    const tag = c.varint()
    if (tag === ((2 << 3) | LEN)) {
      resourceInto(v, c, c.sub())
      continue
    }
    if (tag === ((6 << 3) | LEN)) {
      v.removedResources.push(c.string())
      continue
    }
    const field = tag >>> 3
    if ((tag & 7) !== LEN || field > 5 || (seen >>> field) & 1) throw BAIL
    seen |= 1 << field
    if (field === 1) v.systemVersionInfo = c.string()
    else if (field === 4) v.typeUrl = typeUrl(c)
    else if (field === 5) v.nonce = c.string()
    else throw BAIL
  }
  return v
}

/** Resource { version = 1, resource = 2 (Any { type_url = 1, value = 2 }), name = 3 }, each at most once, into the view's columns. */
function resourceInto(v: ViewParts, c: Cursor, end: number): void {
  let name = ''
  let version = ''
  let anyType: string | undefined
  let start = 0
  let stop = 0
  let source: Uint8Array = NO_BYTES
  let seen = 0
  while (c.pos < end) {
    const tag = c.varint()
    const field = tag >>> 3
    if ((tag & 7) !== LEN || field > 3 || (seen >>> field) & 1) throw BAIL
    seen |= 1 << field
    if (field === 1) version = c.string()
    else if (field === 3) name = c.string()
    else if (field === 2) {
      const aend = c.sub()
      anyType = ''
      let aseen = 0
      while (c.pos < aend) {
        const t = c.varint()
        const f = t >>> 3
        if ((t & 7) !== LEN || f > 2 || f < 1 || (aseen >>> f) & 1) throw BAIL
        aseen |= 1 << f
        if (f === 1) anyType = typeUrl(c)
        else {
          const vend = c.sub()
          source = c.r.buf
          start = c.pos
          stop = vend
          c.r.pos = vend
        }
      }
      if (c.pos !== aend) throw BAIL
    } else throw BAIL
  }
  if (c.pos !== end) throw BAIL
  v.names.push(name)
  v.versions.push(version)
  v.anyTypes.push(anyType)
  v.sources.push(source)
  v.starts.push(start)
  v.ends.push(stop)
}

/** The last type URL read, when it is ASCII, and its bytes: every Resource of a response carries the same one. */
let lastTypeUrl = ''
let lastTypeUrlBytes: Uint8Array = new Uint8Array(0)

/** A type URL: the string read last time when the bytes are its bytes (compared from the end, where type URLs differ). */
function typeUrl(c: Cursor): string {
  const end = c.sub()
  const start = c.pos
  const bytes = c.r.buf
  const last = lastTypeUrlBytes
  if (end - start === last.length && last.length > 0) {
    let i = last.length - 1
    while (i >= 0 && bytes[start + i] === last[i]) i--
    if (i < 0) {
      c.r.pos = end
      return lastTypeUrl
    }
  }
  const read = c.stringTo(end)
  if (isAscii(read)) {
    lastTypeUrl = read
    lastTypeUrlBytes = bytes.slice(start, end)
  }
  return read
}

function isAscii(s: string): boolean {
  for (let i = 0; i < s.length; i++) if (s.charCodeAt(i) >= 0x80) return false
  return true
}
