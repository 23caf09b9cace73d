// The client's side of ./resource-frames.ts: a DeltaDiscoveryResponse read straight from the gRPC
// message into the same generated message objects protobufjs's decode builds, for the response
// shape the Delta ADS server sends (the envelope, and Resources of a name, a version and an Any).
// A sync's response holds every resource of a type (~11,000 Addresses at bench:xds's default
// scale): protobufjs reads each name, version and type URL 8 characters at a time into chains of
// cons strings (~17 heap objects per resource, alive until the whole response is applied, then
// kept as the versions the client remembers), and a type URL compared to the subscribed one is
// flattened into yet another copy. Here they are flat strings, and a type URL equal to the previous
// one is that same string.
//
// Anything else (a field it does not know, a singular field twice, aliases or a TTL on a Resource)
// returns undefined and the caller decodes with protobufjs; test/unit/xds/delta-response-bytes.test.ts
// compares both.
import { envoy, google } from './gen/messages.js'
import { BAIL, Cursor, LEN } from './wire-reader.js'

const discovery = envoy.service.discovery.v3
type DeltaResponse = envoy.service.discovery.v3.DeltaDiscoveryResponse.$Properties

/** The response in `bytes`, or undefined: decode it with protobufjs. */
export function deltaResponseFromBytes(bytes: Uint8Array): DeltaResponse | undefined {
  try {
    return read(new Cursor(bytes, 0, bytes.length))
  } catch {
    return undefined
  }
}

/** A DeltaDiscoveryResponse from the wire: the direct reader, or protobufjs for anything else. */
export function decodeDeltaResponse(bytes: Uint8Array): DeltaResponse {
  return deltaResponseFromBytes(bytes) ?? discovery.DeltaDiscoveryResponse.decode(bytes)
}

function read(c: Cursor): DeltaResponse {
  const res = new discovery.DeltaDiscoveryResponse()
  let seen = 0
  while (c.pos < c.end) {
    const tag = c.varint()
    if (tag === ((2 << 3) | LEN)) {
      res.resources!.push(resource(c, c.sub()))
      continue
    }
    if (tag === ((6 << 3) | LEN)) {
      res.removedResources!.push(c.string())
      continue
    }
    const field = tag >>> 3
    if ((tag & 7) !== LEN || field > 5 || (seen >>> field) & 1) throw BAIL
    seen |= 1 << field
    if (field === 1) res.systemVersionInfo = c.string()
    else if (field === 4) res.typeUrl = typeUrl(c)
    else if (field === 5) res.nonce = c.string()
    else throw BAIL
  }
  return res
}

/** Resource { version = 1, resource = 2 (Any), name = 3 }, each at most once. */
function resource(c: Cursor, end: number): envoy.service.discovery.v3.Resource {
  const r = new discovery.Resource()
  let seen = 0
  while (c.pos < end) {
    const tag = c.varint()
    const field = tag >>> 3
    if ((tag & 7) !== LEN || field > 3 || (seen >>> field) & 1) throw BAIL
    seen |= 1 << field
    if (field === 1) r.version = c.string()
    else if (field === 2) r.resource = any(c, c.sub())
    else if (field === 3) r.name = c.string()
    else throw BAIL
  }
  if (c.pos !== end) throw BAIL
  return r
}

/** Any { type_url = 1, value = 2 }, each at most once. */
function any(c: Cursor, end: number): google.protobuf.Any {
  const a = new google.protobuf.Any()
  let seen = 0
  while (c.pos < end) {
    const tag = c.varint()
    const field = tag >>> 3
    if ((tag & 7) !== LEN || field > 2 || field < 1 || (seen >>> field) & 1) throw BAIL
    seen |= 1 << field
    if (field === 1) a.type_url = typeUrl(c)
    else a.value = c.bytes()
  }
  if (c.pos !== end) throw BAIL
  return a
}

/** The last type URL read, when it is ASCII: every Resource of a response carries the same one. */
let lastTypeUrl = ''

/** A type URL: the string read last time when the bytes are its characters. */
function typeUrl(c: Cursor): string {
  const end = c.sub()
  const start = c.pos
  const bytes = c.r.buf
  const last = lastTypeUrl
  if (end - start === last.length && last.length > 0) {
    let i = 0
    while (i < last.length && bytes[start + i] === last.charCodeAt(i)) i++
    if (i === last.length) {
      c.r.pos = end
      return last
    }
  }
  const read = c.stringTo(end)
  if (isAscii(read)) lastTypeUrl = read
  return read
}

function isAscii(s: string): boolean {
  for (let i = 0; i < s.length; i++) if (s.charCodeAt(i) >= 0x80) return false
  return true
}
