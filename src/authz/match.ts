// One `Match` against one connection, with the reason when it fails. Semantics are ztunnel's
// `Authorization::matches` inner loop (rbac.rs): a match with every field empty never matches; each
// non-empty positive list needs one value to match, each non-empty negative list needs none to match;
// fields are checked in ztunnel's order (destination IPs, source IPs, destination ports, service
// accounts, principals, namespaces) so the "first failing field" we report is the one ztunnel's trace
// would show first.
import type { SpiffeId } from '../identity/spiffe-id.js'
import type { Ip } from '../net/ip.js'
import { cidrContains, formatCidr } from './cidr.js'
import type { CidrMatch, Match, ServiceAccountMatch, StringMatch } from './policy.js'

/** The connection as authorization sees it, parsed once per decision. */
export interface ConnectionFacts {
  readonly srcIdentity: SpiffeId | undefined
  readonly srcIp: Ip
  readonly dstIp: Ip
  readonly dstPort: number
}

export type MatchField = keyof Match

/** Why a match failed: the first field (in ztunnel's order) whose check failed. */
export interface FieldFailure {
  readonly field: MatchField
  /** The policy's values as Istio writes them (`*` forms for StringMatch, CIDR text, ports). */
  readonly values: readonly (string | number)[]
  /** The connection's value; absent when the peer has no identity. */
  readonly actual?: string | number
  readonly text: string
}

export interface MatchTrace {
  readonly index: number
  readonly matched: boolean
  /** Every field empty: ztunnel skips such a match, so it never matches. */
  readonly empty: boolean
  readonly failure?: FieldFailure
  readonly text: string
}

interface FieldCheck<T> {
  readonly field: MatchField
  readonly negField: MatchField
  readonly actual: string | number | undefined
  readonly test: (v: T) => boolean
  readonly show: (v: T) => string | number
}

export function evaluateMatch(m: Match, index: number, conn: ConnectionFacts): MatchTrace {
  if (isEmptyMatch(m)) {
    return { index, matched: false, empty: true, text: `match ${index} is empty (a match with every field empty never matches)` }
  }
  const id = conn.srcIdentity
  const failure =
    check(m.destinationIps, m.notDestinationIps, cidrCheck('destinationIps', 'notDestinationIps', conn.dstIp)) ??
    check(m.sourceIps, m.notSourceIps, cidrCheck('sourceIps', 'notSourceIps', conn.srcIp)) ??
    check(m.destinationPorts, m.notDestinationPorts, {
      field: 'destinationPorts',
      negField: 'notDestinationPorts',
      actual: conn.dstPort,
      test: (p) => p === conn.dstPort,
      show: (p) => p,
    }) ??
    // Service accounts compare (namespace, service account) only; the trust domain is ignored.
    check(m.serviceAccounts, m.notServiceAccounts, {
      field: 'serviceAccounts',
      negField: 'notServiceAccounts',
      actual: id && `${id.namespace}/${id.serviceAccount}`,
      test: (sa: ServiceAccountMatch) => id !== undefined && sa.namespace === id.namespace && sa.serviceAccount === id.serviceAccount,
      show: (sa) => `${sa.namespace}/${sa.serviceAccount}`,
    }) ??
    // Principals compare against the SPIFFE ID without `spiffe://` (`SpiffeId.principal`); a policy
    // value written with `spiffe://` therefore never matches, as in ztunnel.
    check(m.principals, m.notPrincipals, identityCheck('principals', 'notPrincipals', id?.principal)) ??
    check(m.namespaces, m.notNamespaces, identityCheck('namespaces', 'notNamespaces', id?.namespace))
  if (failure === undefined) return { index, matched: true, empty: false, text: `match ${index} matched` }
  return { index, matched: false, empty: false, failure, text: failure.text }
}

/**
 * The same answer as `evaluateMatch(...).matched`, without building a trace: the admission path
 * (every new inbound connection, every live-flow re-check) asks only yes or no. `principal` is the
 * peer's `SpiffeId.principal`, computed once per decision by the caller.
 */
export function matches(m: Match, conn: ConnectionFacts, principal: string | undefined): boolean {
  if (isEmptyMatch(m)) return false
  const id = conn.srcIdentity
  if (!passes(m.destinationIps, m.notDestinationIps, (c) => cidrContains(c, conn.dstIp))) return false
  if (!passes(m.sourceIps, m.notSourceIps, (c) => cidrContains(c, conn.srcIp))) return false
  if (!passes(m.destinationPorts, m.notDestinationPorts, (p) => p === conn.dstPort)) return false
  if (
    !passes(
      m.serviceAccounts,
      m.notServiceAccounts,
      (sa) => id !== undefined && sa.namespace === id.namespace && sa.serviceAccount === id.serviceAccount,
    )
  )
    return false
  if (!passes(m.principals, m.notPrincipals, (s) => principal !== undefined && stringMatches(s, principal))) return false
  return passes(m.namespaces, m.notNamespaces, (s) => id !== undefined && stringMatches(s, id.namespace))
}

function passes<T>(positive: readonly T[], negative: readonly T[], test: (v: T) => boolean): boolean {
  if (positive.length > 0 && !positive.some(test)) return false
  return !(negative.length > 0 && negative.some(test))
}

/** A CIDR list against one of the connection's addresses. */
function cidrCheck(field: MatchField, negField: MatchField, ip: Ip): FieldCheck<CidrMatch> {
  return { field, negField, actual: ip.toString(), test: (c) => cidrContains(c, ip), show: formatCidr }
}

/** A StringMatch list against one part of the peer's identity (undefined without one: nothing matches). */
function identityCheck(field: MatchField, negField: MatchField, value: string | undefined): FieldCheck<StringMatch> {
  return { field, negField, actual: value, test: (s) => value !== undefined && stringMatches(s, value), show: formatStringMatch }
}

/** Positive list: any value matches. Negative list: no value matches. Empty lists always pass. */
function check<T>(positive: readonly T[], negative: readonly T[], c: FieldCheck<T>): FieldFailure | undefined {
  if (positive.length > 0 && !positive.some(c.test)) {
    return failure(c.field, positive.map(c.show), c.actual, 'did not contain')
  }
  if (negative.length > 0 && negative.some(c.test)) {
    return failure(c.negField, negative.map(c.show), c.actual, 'contained')
  }
  return undefined
}

function failure(field: MatchField, values: (string | number)[], actual: string | number | undefined, verb: string): FieldFailure {
  const list = `[${values.map((v) => JSON.stringify(v)).join(', ')}]`
  const who = actual === undefined ? 'the peer: connection has no peer identity' : JSON.stringify(actual)
  const text = `${field} ${list} ${verb} ${who}`
  return actual === undefined ? { field, values, text } : { field, values, actual, text }
}

/** Istio's StringMatch: presence = any non-empty value (ztunnel: `!check.is_empty()`). */
export function stringMatches(m: StringMatch, value: string): boolean {
  if ('exact' in m) return value === m.exact
  if ('prefix' in m) return value.startsWith(m.prefix)
  if ('suffix' in m) return value.endsWith(m.suffix)
  return value !== ''
}

/** Back to the form a user writes in an AuthorizationPolicy: `x`, `x*`, `*x`, `*`. */
export function formatStringMatch(m: StringMatch): string {
  if ('exact' in m) return m.exact
  if ('prefix' in m) return `${m.prefix}*`
  if ('suffix' in m) return `*${m.suffix}`
  return '*'
}

const MATCH_FIELDS: readonly MatchField[] = [
  'namespaces',
  'notNamespaces',
  'principals',
  'notPrincipals',
  'sourceIps',
  'notSourceIps',
  'destinationIps',
  'notDestinationIps',
  'destinationPorts',
  'notDestinationPorts',
  'serviceAccounts',
  'notServiceAccounts',
]

export function isEmptyMatch(m: Match): boolean {
  return MATCH_FIELDS.every((f) => m[f].length === 0)
}
