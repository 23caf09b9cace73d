// Text fields of the direct readers (./workload-bytes.ts, ./authorization-bytes.ts), as values a
// ztunnel keeps for as long as the resource lives: a sync is ~10,000 Workloads whose strings stay in
// MeshState, so how a string is built and whether it is shared shows in the GC's work, not only in
// the decode's.
//
// - asciiText: protobufjs builds a string 8 characters at a time (`str += …`), so a 40-character uid
//   is a chain of V8 cons strings that a Map key lookup then flattens into a second copy. ASCII
//   bytes (almost every name in a mesh) are read as one flat string instead; anything else is
//   protobufjs's strict UTF-8 reading, as before.
// - intern: names that repeat across resources (namespace, service account, node, service keys,
//   policy keys, trust domain…) are kept once per process, whatever the number of resources (and
//   of clients in one process) holding them. Bounded: a mesh has far fewer distinct names of these
//   kinds than resources; past the bound the table starts over, which only costs sharing.
import protobuf from 'protobufjs/minimal.js'

const { utf8 } = protobuf.util

/**
 * UTF-8 text of bytes[start, end), as protobufjs's strict reading returns it (throws on invalid
 * UTF-8), but one flat string when the text is long enough for protobufjs to build a cons chain
 * (V8 makes cons strings from 13 characters on) and is ASCII in a Buffer (what gRPC hands over).
 */
export function asciiText(bytes: Uint8Array, start: number, end: number): string {
  if (end - start < CONS_MIN || !Buffer.isBuffer(bytes)) return utf8.readStrict(bytes, start, end)
  for (let i = start; i < end; i++) if (bytes[i]! >= 0x80) return utf8.readStrict(bytes, start, end)
  return bytes.toString('latin1', start, end)
}

/** V8's shortest cons string: shorter concatenations are copied into a flat string anyway. */
const CONS_MIN = 13

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
