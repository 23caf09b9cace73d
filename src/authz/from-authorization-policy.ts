// AuthorizationPolicy (security.istio.io/v1) → the Authorization istiod sends to ztunnel, following
// istiod's ambient conversion (pilot/pkg/serviceregistry/kube/controller/ambient/authorization.go,
// `convertAuthorizationPolicy` / `handleRule`), quirks included:
//   - targetRef/targetRefs: the policy is for waypoints; nothing is sent to ztunnel.
//   - AUDIT and CUSTOM: not supported by ztunnel ("ztunnel does not support the AUDIT action").
//   - scope: `selector` present → WORKLOAD_SELECTOR; else NAMESPACE; else, in the root namespace, GLOBAL.
//   - each rule becomes, in this order: one clause from all `to`, one from all `from`, one per `when`.
//   - HTTP attributes: in an ALLOW the whole rule is dropped (never matches); in a DENY they are just
//     not converted, so a `to` holding only `methods` becomes an empty match that never matches.
//   - `spec: {}` (ALLOW, no rules) allows nothing; `rules: [{}]` is a rule with no clauses (everything).
//   - unparsable ports and IP blocks are dropped silently by istiod; we drop them too and warn.
import { parseCidr } from './cidr.js'
import {
  DEFAULT_ROOT_NAMESPACE,
  type AuthorizationPolicyResource,
  type AuthorizationRule,
  type Condition,
  type Operation,
  type Source,
} from './authorization-policy.js'
import {
  match,
  type Authorization,
  type CidrMatch,
  type Clause,
  type Match,
  type PolicyAction,
  type PolicyScope,
  type Rule,
  type ServiceAccountMatch,
  type StringMatch,
} from './policy.js'
import { isValidPort } from '../net/address.js'

export { matchLabels, selectsWorkload, DEFAULT_ROOT_NAMESPACE } from './authorization-policy.js'
export type { AuthorizationPolicyResource } from './authorization-policy.js'

export const AuthzWarningCode = {
  /** Istio status: ZtunnelAccepted, reason UnsupportedValue. */
  httpAttributes: 'AUTHZ_HTTP_ATTRIBUTES_IGNORED',
  /** Istio status: ZtunnelAccepted, reason UnsupportedValue; no Authorization is produced. */
  unsupportedAction: 'AUTHZ_UNSUPPORTED_ACTION',
  /** targetRef(s): enforced by a waypoint, not ztunnel; no Authorization (Istio writes no status). */
  waypointOnly: 'AUTHZ_WAYPOINT_ONLY',
  /** Ours: istiod drops these silently. */
  invalidPort: 'AUTHZ_INVALID_PORT',
  invalidIpBlock: 'AUTHZ_INVALID_IP_BLOCK',
  /** Ours: principals are compared without `spiffe://`, so such a value never matches. */
  spiffePrincipal: 'AUTHZ_SPIFFE_PREFIX_PRINCIPAL',
} as const
export type AuthzWarningCode = (typeof AuthzWarningCode)[keyof typeof AuthzWarningCode]

export interface ConversionWarning {
  readonly code: AuthzWarningCode
  readonly message: string
  /** Where in the resource, e.g. `spec.rules[0].to[1].operation.ports[0]`. */
  readonly path: string
  /** Set when istiod writes this as the policy's `ZtunnelAccepted` status condition. */
  readonly istioReason?: 'UnsupportedValue'
}

export interface Conversion {
  /** Undefined when ztunnel gets nothing for this policy (see warnings for why). */
  readonly authorization: Authorization | undefined
  readonly warnings: readonly ConversionWarning[]
}

export interface ConversionOptions {
  /** Selector-less policies here are GLOBAL. Default `istio-system`. */
  readonly rootNamespace?: string
}

// Istio's exact status text (authorization.go `httpRuleFmt` and the two boilerplates). Note the DENY
// text says "more restrictive" even when dropping the HTTP part makes a DENY rule never fire.
const HTTP_RULE = (found: string, boilerplate: string) =>
  `ztunnel does not support HTTP attributes (found: ${found}). In ambient mode you must use a waypoint proxy to enforce HTTP rules. ${boilerplate}`
const HTTP_DENY = 'DENY policy with HTTP attributes is enforced without the HTTP rules. This will be more restrictive than requested.'
const HTTP_ALLOW = 'Within an ALLOW policy, rules matching HTTP attributes are omitted. This will be more restrictive than requested.'

/** The `when` keys ztunnel can evaluate (authorization.go `l4WhenAttributes`); any other key is HTTP. */
const L4_WHEN_KEYS = new Set(['source.ip', 'source.namespace', 'source.principal', 'destination.ip', 'destination.port'])
const HTTP_OPERATION_FIELDS = ['hosts', 'notHosts', 'methods', 'notMethods', 'paths', 'notPaths'] as const
const HTTP_SOURCE_FIELDS = ['remoteIpBlocks', 'notRemoteIpBlocks', 'requestPrincipals', 'notRequestPrincipals'] as const
/** Go's `strconv.ParseBool` true forms, which Istio's `istio.io/dry-run` annotation accepts. */
const TRUE_FORMS = new Set(['1', 't', 'T', 'TRUE', 'true', 'True'])

export function fromAuthorizationPolicy(ap: AuthorizationPolicyResource, options: ConversionOptions = {}): Conversion {
  const { name, namespace } = ap.metadata
  const spec = ap.spec
  const targetRefs = [...(spec.targetRefs ?? []), ...(spec.targetRef ? [spec.targetRef] : [])]
  if (targetRefs.length > 0) {
    const path = spec.targetRefs && spec.targetRefs.length > 0 ? 'spec.targetRefs' : 'spec.targetRef'
    return none({
      code: AuthzWarningCode.waypointOnly,
      path,
      message: 'policy has targetRefs: it is enforced by the waypoint it targets, not by ztunnel',
    })
  }
  const requested = spec.action ?? 'ALLOW'
  if (requested !== 'ALLOW' && requested !== 'DENY') {
    return none({
      code: AuthzWarningCode.unsupportedAction,
      path: 'spec.action',
      message: `ztunnel does not support the ${requested} action`,
      istioReason: 'UnsupportedValue',
    })
  }
  const action: PolicyAction = requested
  const scope: PolicyScope =
    spec.selector !== undefined && spec.selector !== null
      ? 'WORKLOAD_SELECTOR'
      : namespace === (options.rootNamespace ?? DEFAULT_ROOT_NAMESPACE)
        ? 'GLOBAL'
        : 'NAMESPACE'

  const warnings: ConversionWarning[] = []
  const httpFound = new Set<string>()
  const rules: Rule[] = []
  ;(spec.rules ?? []).forEach((r, i) => {
    const converted = convertRule(r, `spec.rules[${i}]`, namespace, warnings)
    converted.http.forEach((h) => httpFound.add(h))
    // ALLOW: a rule with HTTP attributes can never be satisfied at L4, so it is omitted.
    if (action === 'ALLOW' && converted.http.length > 0) return
    rules.push(converted.rule)
  })
  if (httpFound.size > 0) {
    warnings.unshift({
      code: AuthzWarningCode.httpAttributes,
      path: 'spec.rules',
      message: HTTP_RULE([...httpFound].sort().join(', '), action === 'ALLOW' ? HTTP_ALLOW : HTTP_DENY),
      istioReason: 'UnsupportedValue',
    })
  }
  const dryRun = TRUE_FORMS.has(ap.metadata.annotations?.['istio.io/dry-run'] ?? '')
  const authorization: Authorization = Object.freeze({ name, namespace, scope, action, rules: Object.freeze(rules), dryRun })
  return { authorization, warnings }
}

function none(warning: ConversionWarning): Conversion {
  return { authorization: undefined, warnings: [warning] }
}

function convertRule(r: AuthorizationRule, path: string, namespace: string, warnings: ConversionWarning[]): { rule: Rule; http: string[] } {
  const http: string[] = []
  const clauses: Clause[] = []
  const to = sideMatches(r.to ?? [], 'operation', path, HTTP_OPERATION_FIELDS, http, (op, p) => operationMatch(op, p, warnings))
  if (to.length > 0) clauses.push(clause(to))
  const from = sideMatches(r.from ?? [], 'source', path, HTTP_SOURCE_FIELDS, http, (src, p) => sourceMatch(src, p, namespace, warnings))
  if (from.length > 0) clauses.push(clause(from))
  ;(r.when ?? []).forEach((w, i) => {
    if (!L4_WHEN_KEYS.has(w.key)) http.push(w.key)
    clauses.push(clause([whenMatch(w, `${path}.when[${i}]`, warnings)]))
  })
  return { rule: Object.freeze({ clauses: Object.freeze(clauses) }), http }
}

type Side = 'operation' | 'source'
const SIDE_LIST: Record<Side, string> = { operation: 'to', source: 'from' }

/**
 * The matches of a rule's `to` (each entry's `operation`) or `from` (each entry's `source`): `toMatch`
 * converts the L4 fields at their path; the HTTP fields set are added to `http`.
 */
function sideMatches<S extends Side, T extends { readonly [K in F]?: readonly unknown[] | null }, F extends string>(
  entries: readonly { readonly [K in S]?: T }[],
  side: S,
  rulePath: string,
  httpFields: readonly F[],
  http: string[],
  toMatch: (part: T, path: string) => Match,
): Match[] {
  return entries.map((e, i) => {
    const part: T = e[side] ?? ({} as T)
    http.push(...httpFields.filter((f) => (part[f]?.length ?? 0) > 0))
    return toMatch(part, `${rulePath}.${SIDE_LIST[side]}[${i}].${side}`)
  })
}

function operationMatch(op: Operation, p: string, warnings: ConversionWarning[]): Match {
  return match({
    destinationPorts: ports(op.ports, `${p}.ports`, warnings),
    notDestinationPorts: ports(op.notPorts, `${p}.notPorts`, warnings),
  })
}

function sourceMatch(src: Source, p: string, namespace: string, warnings: ConversionWarning[]): Match {
  return match({
    sourceIps: cidrs(src.ipBlocks, `${p}.ipBlocks`, warnings),
    notSourceIps: cidrs(src.notIpBlocks, `${p}.notIpBlocks`, warnings),
    namespaces: strings(src.namespaces),
    notNamespaces: strings(src.notNamespaces),
    serviceAccounts: serviceAccounts(src.serviceAccounts, namespace),
    notServiceAccounts: serviceAccounts(src.notServiceAccounts, namespace),
    principals: principals(src.principals, `${p}.principals`, warnings),
    notPrincipals: principals(src.notPrincipals, `${p}.notPrincipals`, warnings),
  })
}

/** One match from one condition; an HTTP key yields an empty match (never matches). */
function whenMatch(w: Condition, path: string, warnings: ConversionWarning[]): Match {
  const values = (w.values ?? []).map(String)
  const notValues = (w.notValues ?? []).map(String)
  switch (w.key) {
    case 'source.ip':
      return match({ sourceIps: cidrs(values, `${path}.values`, warnings), notSourceIps: cidrs(notValues, `${path}.notValues`, warnings) })
    case 'source.namespace':
      return match({ namespaces: strings(values), notNamespaces: strings(notValues) })
    case 'source.principal':
      return match({
        principals: principals(values, `${path}.values`, warnings),
        notPrincipals: principals(notValues, `${path}.notValues`, warnings),
      })
    case 'destination.ip':
      return match({
        destinationIps: cidrs(values, `${path}.values`, warnings),
        notDestinationIps: cidrs(notValues, `${path}.notValues`, warnings),
      })
    case 'destination.port':
      return match({
        destinationPorts: ports(values, `${path}.values`, warnings),
        notDestinationPorts: ports(notValues, `${path}.notValues`, warnings),
      })
    default:
      return match({})
  }
}

function clause(matches: Match[]): Clause {
  return Object.freeze({ matches: Object.freeze(matches) })
}

/** Istio's string forms: `*` presence, `*x` suffix, `x*` prefix, else exact (`stringToMatch`). */
export function toStringMatch(v: string): StringMatch {
  if (v === '*') return { presence: true }
  if (v.startsWith('*')) return { suffix: v.slice(1) }
  if (v.endsWith('*')) return { prefix: v.slice(0, -1) }
  return { exact: v }
}

function strings(values: readonly string[] | null | undefined): readonly StringMatch[] {
  return Object.freeze((values ?? []).map((v) => Object.freeze(toStringMatch(v))))
}

function principals(values: readonly string[] | null | undefined, path: string, warnings: ConversionWarning[]): readonly StringMatch[] {
  ;(values ?? []).forEach((v, i) => {
    if (v.startsWith('spiffe://')) {
      warnings.push({
        code: AuthzWarningCode.spiffePrincipal,
        path: `${path}[${i}]`,
        message: `principal "${v}" starts with spiffe://; principals are written without it ("${v.slice('spiffe://'.length)}"), so this value never matches`,
      })
    }
  })
  return strings(values)
}

/** `ns/sa`, or `sa` in the policy's own namespace (`stringToServiceAccountMatch`). */
function serviceAccounts(values: readonly string[] | null | undefined, namespace: string): readonly ServiceAccountMatch[] {
  return Object.freeze(
    (values ?? []).map((v) => {
      const slash = v.indexOf('/')
      return Object.freeze(
        slash < 0 ? { namespace, serviceAccount: v } : { namespace: v.slice(0, slash), serviceAccount: v.slice(slash + 1) },
      )
    }),
  )
}

function ports(values: readonly (string | number)[] | null | undefined, path: string, warnings: ConversionWarning[]): readonly number[] {
  const out: number[] = []
  ;(values ?? []).forEach((raw, i) => {
    const text = String(raw)
    const n = /^\d{1,5}$/.test(text) ? Number(text) : NaN
    if (isValidPort(n, 0)) out.push(n)
    else
      warnings.push({
        code: AuthzWarningCode.invalidPort,
        path: `${path}[${i}]`,
        message: `port "${text}" is not a number from 0 to 65535; it is ignored (as istiod does)`,
      })
  })
  return Object.freeze(out)
}

function cidrs(values: readonly (string | number)[] | null | undefined, path: string, warnings: ConversionWarning[]): readonly CidrMatch[] {
  const out: CidrMatch[] = []
  ;(values ?? []).forEach((raw, i) => {
    const text = String(raw)
    if (text === '') return // istiod skips empty strings without comment
    const cidr = parseCidr(text)
    if (cidr) out.push(cidr)
    else
      warnings.push({
        code: AuthzWarningCode.invalidIpBlock,
        path: `${path}[${i}]`,
        message: `"${text}" is not an IP address or CIDR; it is ignored (as istiod does)`,
      })
  })
  return Object.freeze(out)
}
