// Authorization between the domain (src/authz/policy.ts) and `istio.security.Authorization`.
// Decoding refuses what the evaluator could misread (a CIDR longer than its family, a port past
// 65535, a StringMatch with no form) instead of letting it become a policy that matches nothing.
import { parseCidr } from '../authz/cidr.js'
import type {
  Authorization,
  CidrMatch,
  Clause,
  Match,
  PolicyAction,
  PolicyScope,
  Rule,
  ServiceAccountMatch,
  StringMatch,
} from '../authz/policy.js'
import { AmbientError } from '../errors.js'
import { XdsErrorCode } from './errors.js'
import { istio } from './gen/messages.js'
import { ipFromBytes, ipToBytes } from './ip-bytes.js'
import { enumFromWire, enumToWire } from './wire-enum.js'
import { PORT_MAX } from '../net/address.js'

type WireAuthorization = istio.security.Authorization.$Properties
type WireMatch = istio.security.Match.$Properties
type WireStringMatch = istio.security.StringMatch.$Properties
type WireAddress = istio.security.Address.$Properties
type WireServiceAccount = istio.security.ServiceAccountMatch.$Properties

const SCOPE: Record<PolicyScope, number> = istio.security.Scope
const ACTION: Record<PolicyAction, number> = istio.security.Action

export function authorizationToWire(a: Authorization): WireAuthorization {
  const what = `authorization ${a.namespace}/${a.name}`
  return {
    name: a.name,
    namespace: a.namespace,
    scope: enumToWire(SCOPE, a.scope),
    action: enumToWire(ACTION, a.action),
    rules: a.rules.map((r) => ({ clauses: r.clauses.map((c) => ({ matches: c.matches.map((m) => matchToWire(m, what)) })) })),
    dryRun: a.dryRun,
  }
}

export function authorizationFromWire(m: WireAuthorization): Authorization {
  const name = m.name ?? ''
  const namespace = m.namespace ?? ''
  const what = `authorization ${namespace}/${name}`
  if (name === '' || namespace === '') throw invalid(`${what}: name and namespace are required (they are the resource name)`)
  const rules: Rule[] = (m.rules ?? []).map((r) =>
    Object.freeze({
      clauses: Object.freeze(
        (r.clauses ?? []).map((c): Clause =>
          Object.freeze({
            matches: Object.freeze((c.matches ?? []).map((x) => matchFromWire(x, what))),
          }),
        ),
      ),
    }),
  )
  return Object.freeze({
    name,
    namespace,
    scope: enumFromWire(SCOPE, m.scope, `${what} scope`),
    action: enumFromWire(ACTION, m.action, `${what} action`),
    rules: Object.freeze(rules),
    dryRun: m.dryRun ?? false,
  })
}

function matchToWire(m: Match, what: string): WireMatch {
  const cidrs = (list: readonly CidrMatch[]) => list.map((c) => ({ address: ipToBytes(c.address, what), length: c.length }))
  return {
    namespaces: m.namespaces.map(stringMatchToWire),
    notNamespaces: m.notNamespaces.map(stringMatchToWire),
    principals: m.principals.map(stringMatchToWire),
    notPrincipals: m.notPrincipals.map(stringMatchToWire),
    sourceIps: cidrs(m.sourceIps),
    notSourceIps: cidrs(m.notSourceIps),
    destinationIps: cidrs(m.destinationIps),
    notDestinationIps: cidrs(m.notDestinationIps),
    destinationPorts: [...m.destinationPorts],
    notDestinationPorts: [...m.notDestinationPorts],
    serviceAccounts: m.serviceAccounts.map((s) => ({ namespace: s.namespace, serviceAccount: s.serviceAccount })),
    notServiceAccounts: m.notServiceAccounts.map((s) => ({ namespace: s.namespace, serviceAccount: s.serviceAccount })),
  }
}

function matchFromWire(m: WireMatch, what: string): Match {
  const strings = (list: WireStringMatch[] | null | undefined) => Object.freeze((list ?? []).map((s) => stringMatchFromWire(s, what)))
  const cidrs = (list: WireAddress[] | null | undefined) => Object.freeze((list ?? []).map((a) => cidrFromWire(a, what)))
  const ports = (list: number[] | null | undefined) =>
    Object.freeze(
      (list ?? []).map((p) => {
        if (p > PORT_MAX) throw invalid(`${what}: port ${p} is out of range`)
        return p
      }),
    )
  const accounts = (list: WireServiceAccount[] | null | undefined) =>
    Object.freeze(
      (list ?? []).map((s): ServiceAccountMatch => Object.freeze({ namespace: s.namespace ?? '', serviceAccount: s.serviceAccount ?? '' })),
    )
  return Object.freeze({
    namespaces: strings(m.namespaces),
    notNamespaces: strings(m.notNamespaces),
    principals: strings(m.principals),
    notPrincipals: strings(m.notPrincipals),
    sourceIps: cidrs(m.sourceIps),
    notSourceIps: cidrs(m.notSourceIps),
    destinationIps: cidrs(m.destinationIps),
    notDestinationIps: cidrs(m.notDestinationIps),
    destinationPorts: ports(m.destinationPorts),
    notDestinationPorts: ports(m.notDestinationPorts),
    serviceAccounts: accounts(m.serviceAccounts),
    notServiceAccounts: accounts(m.notServiceAccounts),
  })
}

function stringMatchToWire(s: StringMatch): WireStringMatch {
  if ('exact' in s) return { exact: s.exact }
  if ('prefix' in s) return { prefix: s.prefix }
  if ('suffix' in s) return { suffix: s.suffix }
  return { presence: {} }
}

function stringMatchFromWire(s: WireStringMatch, what: string): StringMatch {
  // Oneof members are own properties only when set (protobufjs), so `!= null` tells which form.
  if (s.exact != null) return Object.freeze({ exact: s.exact })
  if (s.prefix != null) return Object.freeze({ prefix: s.prefix })
  if (s.suffix != null) return Object.freeze({ suffix: s.suffix })
  if (s.presence != null) return Object.freeze({ presence: true })
  throw invalid(`${what}: a StringMatch has no form (exact, prefix, suffix or presence)`)
}

function cidrFromWire(a: WireAddress, what: string): CidrMatch {
  return cidrFromBytes(a.address ?? new Uint8Array(), a.length ?? 0, what)
}

/** An `istio.security.Address` (raw address bytes, prefix length) as the CIDR the evaluator reads. */
export function cidrFromBytes(address: Uint8Array, length: number, what: string): CidrMatch {
  const ip = ipFromBytes(address, `${what} CIDR`)
  // parseCidr canonicalises as the local config does (mapped IPv6 prefixes become IPv4 ones).
  const cidr = parseCidr(`${ip.includes(':') || address.length === 4 ? ip : mappedText(ip)}/${length}`)
  if (cidr === undefined) throw invalid(`${what}: prefix length ${length} is too long for ${ip}`)
  return cidr
}

/** 16 mapped bytes were folded to IPv4 text: restate them as IPv6 so the /96+ length still fits. */
function mappedText(ipv4: string): string {
  return `::ffff:${ipv4}`
}

function invalid(message: string, cause?: unknown): AmbientError {
  return new AmbientError(XdsErrorCode.resourceInvalid, message, { side: 'upstream', cause })
}
