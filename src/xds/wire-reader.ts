// What the direct readers (./workload-bytes.ts, ./authorization-bytes.ts) share: a cursor over one
// message's bytes, the way out to the reference path (BAIL), and how they build values a ztunnel
// keeps for as long as the resource lives. A sync is ~10,000 Workloads and ~1,000 policies whose
// strings and small objects stay in MeshState, so how a value is built and whether it is shared
// shows in the GC's work (every survivor is copied as it ages), not only in the decode's.
//
// - Text: protobufjs builds a string 8 characters at a time (`str += …`), so a 40-character uid is
//   a chain of V8 cons strings that a Map key lookup then flattens into a second copy. ASCII bytes
//   in a Buffer (almost every name in a mesh, and gRPC hands Buffers over) are read as one flat
//   string instead; anything else is protobufjs's strict UTF-8 reading, as before.
// - intern / shared: names that repeat across resources (namespace, service account, node, service
//   keys, policy keys, principals…) and small frozen values that do (a Service's port list, a
//   namespace's waypoint, a StringMatch) are kept once per process, whatever the number of
//   resources (and of clients in one process) holding them. Values are frozen, so sharing is
//   invisible to readers. Bounded: a mesh has far fewer distinct values of these kinds than
//   resources; past the bound a table starts over, which only costs sharing.
import protobuf from 'protobufjs/minimal.js'
import { PORT_MAX } from '../net/address.js'

const { Reader } = protobuf
const { utf8 } = protobuf.util
type Reader = protobuf.Reader

/** Wire types. */
export const VARINT = 0
export const LEN = 2

/** Thrown inside a direct reader to leave the fast path; never escapes the reader. */
export const BAIL = Symbol('bail')

/** protobufjs's reader for the primitives (its bounds and UTF-8 checks), the direct readers for the structure. */
export class Cursor {
  readonly r: Reader
  constructor(
    bytes: Uint8Array,
    start: number,
    readonly end: number,
  ) {
    this.r = Reader.create(bytes)
    this.r.pos = start
    this.r.len = end
  }

  get pos(): number {
    return this.r.pos
  }

  /** A varint as protobufjs's uint32() reads it; past 2^31 is not ours (ports, enums, lengths): bail. */
  varint(): number {
    const v = this.r.uint32()
    if (v > 0x7fffffff) throw BAIL
    return v
  }

  /** The end of a length-delimited field starting here. */
  sub(): number {
    const end = this.r.uint32() + this.r.pos
    if (end > this.end) throw BAIL
    return end
  }

  /** Strict UTF-8 as protobufjs's stringVerify reads it (throws on invalid UTF-8), flat when ASCII. */
  string(): string {
    return this.stringTo(this.sub())
  }

  /** The text from here to `end` (a length-delimited field's end, from sub()). */
  stringTo(end: number): string {
    const start = this.r.pos
    this.r.pos = end
    return text(this.r.buf, start, end)
  }

  /** A string that repeats across resources (a namespace, a service key): one copy per process. */
  name(): string {
    return intern(this.string())
  }

  bytes(): Uint8Array {
    return this.r.bytes()
  }
}

/** A nested message must end exactly where its length said (protobufjs refuses what overruns it). */
export function ended(c: Cursor, end: number): void {
  if (c.pos !== end) throw BAIL
}

/** A message of a string (field 1) and a second field (2), each at most once: NamespacedHostname, NetworkAddress, ServiceAccountMatch. */
export function stringAnd<T>(c: Cursor, end: number, second: (c: Cursor) => T, absent: T): [string, T] {
  let first = ''
  let other = absent
  let mask = 0
  while (c.pos < end) {
    const f = c.varint()
    if (f === ((1 << 3) | LEN) && !(mask & 1)) {
      first = c.name()
      mask |= 1
    } else if (f === ((2 << 3) | LEN) && !(mask & 2)) {
      other = second(c)
      mask |= 2
    } else throw BAIL
  }
  ended(c, end)
  return [first, other]
}

/** A port (uint32 on the wire): past 65535 the reference path refuses it, in its words. */
export function port(n: number): number {
  if (n > PORT_MAX) throw BAIL
  return n
}

/** V8's shortest cons string: shorter concatenations are copied into a flat string anyway. */
const CONS_MIN = 13

function text(bytes: Uint8Array, start: number, end: number): string {
  if (end - start < CONS_MIN || !Buffer.isBuffer(bytes)) return utf8.readStrict(bytes, start, end)
  for (let i = start; i < end; i++) if (bytes[i]! >= 0x80) return utf8.readStrict(bytes, start, end)
  return bytes.toString('latin1', start, end)
}

const interned = new Map<string, string>()
const INTERNED_MAX = 16_384

/** The one copy of `s` this process keeps (see the module comment). */
export function intern(s: string): string {
  const kept = interned.get(s)
  if (kept !== undefined) return kept
  if (interned.size >= INTERNED_MAX) interned.clear()
  interned.set(s, s)
  return s
}

const SHARED_MAX = 4096

/** `table`'s value for `key`, made once (see the module comment); `make` must return a frozen value. */
export function shared<V>(table: Map<string, V>, key: string, make: () => V): V {
  const kept = table.get(key)
  if (kept !== undefined) return kept
  if (table.size >= SHARED_MAX) table.clear()
  const v = make()
  table.set(key, v)
  return v
}
