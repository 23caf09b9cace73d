// The common istio.security.Authorization read straight from its bytes into the frozen domain
// value (src/authz/policy.ts), without protobufjs's message objects or authorizationFromWire's second
// pass: a policy is a deep tree (rules, clauses, matches of twelve lists each), and a ztunnel's sync
// of 1,000 of them cost it ~10× a Workload each, mostly in objects made only to be converted.
//
// It covers every field of the message, each singular field at most once, known enum values, each
// StringMatch with exactly one form. Anything else (a field it does not know, a singular field
// twice, a StringMatch with no form or two, a presence carrying bytes, a port past 65535, a CIDR the
// domain refuses, invalid UTF-8) returns undefined and the caller takes the reference path
// (protobufjs + authorizationFromWire in ./convert-authorization.ts), which decides and words any
// refusal. Both paths must agree on every value this one accepts:
// test/unit/xds/authorization-bytes.test.ts compares them.
//
// What it builds is what the reference builds (same keys in the same order, frozen all the way
// down), except that equal parts are shared (./wire-reader.ts): one empty list for every empty
// field of every Match, one frozen StringMatch per form and text; and lists are exact-size copies
// (an array built by push keeps room for 16 more entries, for as long as the policy is held).
import type * as policy from '../authz/policy.js'
import { builtDeepFrozen } from '../mesh/values.js'
import { cidrFromBytes } from './convert-authorization.js'
import { BAIL, Cursor, ended, LEN, port, shared, stringAnd, VARINT } from './wire-reader.js'

const SCOPE: readonly policy.PolicyScope[] = ['GLOBAL', 'NAMESPACE', 'WORKLOAD_SELECTOR']
const ACTION: readonly policy.PolicyAction[] = ['ALLOW', 'DENY']

const EMPTY: readonly never[] = Object.freeze([])
const PRESENCE: policy.StringMatch = Object.freeze({ presence: true })
/** Frozen StringMatches by form letter and text. */
const stringMatches = new Map<string, policy.StringMatch>()

/** The Authorization in bytes[start, end), or undefined: take the reference path. */
export function authorizationFromBytes(bytes: Uint8Array, start = 0, end = bytes.length): policy.Authorization | undefined {
  try {
    return read(new Cursor(bytes, start, end))
  } catch {
    // BAIL, or a check that threw (a CIDR, UTF-8): the reference path decides, in its words.
    return undefined
  }
}

function read(c: Cursor): policy.Authorization {
  let name = ''
  let namespace = ''
  let scope = 0
  let action = 0
  let dryRun = 0
  const rules: policy.Rule[] = []
  let seen = 0
  while (c.pos < c.end) {
    const tag = c.varint()
    const field = tag >>> 3
    const wire = tag & 7
    if (field === 5 && wire === LEN) {
      const end = c.sub()
      rules.push(rule(c, end))
      continue
    }
    if (field < 1 || field > 6 || (seen >>> field) & 1) throw BAIL
    seen |= 1 << field
    if (field <= 2) {
      if (wire !== LEN) throw BAIL
      if (field === 1) name = c.string()
      else namespace = c.name()
    } else {
      if (wire !== VARINT) throw BAIL
      const v = c.varint()
      if (field === 3) scope = v
      else if (field === 4) action = v
      else dryRun = v
    }
  }
  const s = SCOPE[scope]
  const a = ACTION[action]
  if (name === '' || namespace === '' || s === undefined || a === undefined || dryRun > 1) throw BAIL
  // Every part is frozen as it is built: MeshState shares it without walking it (tests check with walksDeepFrozen).
  return builtDeepFrozen(Object.freeze({ name, namespace, scope: s, action: a, rules: Object.freeze(rules.slice()), dryRun: dryRun === 1 }))
}

/** The one repeated message field of Rule (clauses = 1) and Clause (matches = 2), frozen. */
function repeated<T>(c: Cursor, end: number, field: number, item: (c: Cursor, end: number) => T): readonly T[] {
  const out: T[] = []
  while (c.pos < end) {
    if (c.varint() !== ((field << 3) | LEN)) throw BAIL
    out.push(item(c, c.sub()))
  }
  ended(c, end)
  return Object.freeze(out.slice())
}

const rule = (c: Cursor, end: number): policy.Rule => Object.freeze({ clauses: repeated(c, end, 1, clause) })
const clause = (c: Cursor, end: number): policy.Clause => Object.freeze({ matches: repeated(c, end, 2, match) })

/**
 * Match: StringMatch lists 1-4, Address lists 5-8, uint32 port lists 9-10 (packed, or one varint
 * per entry as protobufjs also reads them), ServiceAccountMatch lists 11-12.
 */
function match(c: Cursor, end: number): policy.Match {
  const lists: (unknown[] | undefined)[] = []
  while (c.pos < end) {
    const tag = c.varint()
    const field = tag >>> 3
    const wire = tag & 7
    if (field < 1 || field > 12) throw BAIL
    const list = (lists[field] ??= [])
    if (field === 9 || field === 10) {
      if (wire === VARINT) list.push(port(c.varint()))
      else if (wire === LEN) {
        const pend = c.sub()
        while (c.pos < pend) list.push(port(c.varint()))
        ended(c, pend)
      } else throw BAIL
      continue
    }
    if (wire !== LEN) throw BAIL
    const fend = c.sub()
    if (field <= 4) list.push(stringMatch(c, fend))
    else if (field <= 8) list.push(cidr(c, fend))
    else list.push(serviceAccount(c, fend))
  }
  ended(c, end)
  const at = (field: number): readonly never[] => {
    const list = lists[field]
    return list === undefined ? EMPTY : (Object.freeze(list.slice()) as readonly never[])
  }
  // Keys in authorizationFromWire's order.
  return Object.freeze({
    namespaces: at(1),
    notNamespaces: at(2),
    principals: at(3),
    notPrincipals: at(4),
    sourceIps: at(5),
    notSourceIps: at(6),
    destinationIps: at(7),
    notDestinationIps: at(8),
    destinationPorts: at(9),
    notDestinationPorts: at(10),
    serviceAccounts: at(11),
    notServiceAccounts: at(12),
  })
}

/** StringMatch: exactly one of exact = 1, prefix = 2, suffix = 3 (strings) or presence = 4 (an empty google.protobuf.Empty). */
function stringMatch(c: Cursor, end: number): policy.StringMatch {
  if (c.pos >= end) throw BAIL
  const tag = c.varint()
  let m: policy.StringMatch
  if (tag === ((4 << 3) | LEN)) {
    if (c.sub() !== c.pos) throw BAIL
    m = PRESENCE
  } else {
    const form = tag === ((1 << 3) | LEN) ? 'e' : tag === ((2 << 3) | LEN) ? 'p' : tag === ((3 << 3) | LEN) ? 's' : undefined
    if (form === undefined) throw BAIL
    const text = c.name()
    m = shared(stringMatches, form + text, () =>
      Object.freeze(form === 'e' ? { exact: text } : form === 'p' ? { prefix: text } : { suffix: text }),
    )
  }
  ended(c, end)
  return m
}

/** Address { bytes address = 1; uint32 length = 2 }, each at most once. */
function cidr(c: Cursor, end: number): policy.CidrMatch {
  let address: Uint8Array | undefined
  let length: number | undefined
  while (c.pos < end) {
    const tag = c.varint()
    if (tag === ((1 << 3) | LEN) && address === undefined) address = c.bytes()
    else if (tag === ((2 << 3) | VARINT) && length === undefined) length = c.varint()
    else throw BAIL
  }
  ended(c, end)
  return cidrFromBytes(address ?? new Uint8Array(), length ?? 0, '')
}

/** ServiceAccountMatch { namespace = 1; serviceAccount = 2 }, each at most once. */
function serviceAccount(c: Cursor, end: number): policy.ServiceAccountMatch {
  const [namespace, serviceAccount] = stringAnd(c, end, readName, '')
  return Object.freeze({ namespace, serviceAccount })
}

const readName = (c: Cursor): string => c.name()
