// One `policies:` entry of ztunnel's local config → an Authorization (`istio.security`). Both
// nestings are accepted: the proto JSON `rules: [{clauses: [{matches: [...]}]}]` and ztunnel's
// serde form, where a rule is a list of clauses and a clause a list of matches (`rules: [[[...]]]`
// in its examples/localhost.yaml). Enums take either spelling (ALLOW / Allow).
import * as policy from '../authz/policy.js'
import { parseCidr } from '../authz/cidr.js'
import { PORT_MAX } from '../net/address.js'
import { Fields, type Issues, LocalConfigErrorCode, type Path, describe, isMapping, readInteger } from './local-config-fields.js'

const POLICY_FIELDS = ['name', 'namespace', 'scope', 'action', 'rules', 'dryRun'] as const
const STRING_MATCH_LISTS = ['namespaces', 'notNamespaces', 'principals', 'notPrincipals'] as const
const CIDR_LISTS = ['sourceIps', 'notSourceIps', 'destinationIps', 'notDestinationIps'] as const
const PORT_LISTS = ['destinationPorts', 'notDestinationPorts'] as const
const SA_LISTS = ['serviceAccounts', 'notServiceAccounts'] as const
const MATCH_FIELDS = [...STRING_MATCH_LISTS, ...CIDR_LISTS, ...PORT_LISTS, ...SA_LISTS]

export interface PolicyDecodeOptions {
  /** Where GLOBAL policies live (istiod only makes GLOBAL ones from the root namespace). */
  readonly rootNamespace: string
}

export function decodePolicy(value: unknown, path: Path, issues: Issues, options: PolicyDecodeOptions): policy.Authorization | undefined {
  const entry = Fields.openNamed(value, path, issues, POLICY_FIELDS)
  if (entry === undefined) return undefined
  const { f, mark, name, namespace } = entry
  // No default scope: the proto's zero value is GLOBAL, and a forgotten field must not turn a
  // namespace policy into a mesh-wide one.
  const scope = f.enumeration<policy.PolicyScope>('scope', ['GLOBAL', 'NAMESPACE', 'WORKLOAD_SELECTOR'])
  if (scope === 'GLOBAL' && namespace !== '' && namespace !== options.rootNamespace) {
    issues.add(
      LocalConfigErrorCode.globalOutsideRoot,
      f.at('scope'),
      `GLOBAL policies belong in the root namespace "${options.rootNamespace}", not "${namespace}"`,
    )
  }
  const action = f.enumeration<policy.PolicyAction>('action', ['ALLOW', 'DENY'], { fallback: 'ALLOW' }) ?? 'ALLOW'
  const rules = f.list('rules').map(({ value: r, path: p }) => decodeRule(r, p, issues))
  const dryRun = f.boolean('dryRun', false)
  if (issues.since(mark) || scope === undefined) return undefined
  return { name, namespace, scope, action, rules, dryRun }
}

function decodeRule(value: unknown, path: Path, issues: Issues): policy.Rule {
  const clauses = nested(value, path, 'clauses', issues)
  return { clauses: clauses.map(({ value: c, path: p }) => decodeClause(c, p, issues)) }
}

function decodeClause(value: unknown, path: Path, issues: Issues): policy.Clause {
  const matches = nested(value, path, 'matches', issues)
  return { matches: matches.map(({ value: m, path: p }) => decodeMatch(m, p, issues)) }
}

/** A list written bare (ztunnel) or as `{<field>: [...]}` (proto JSON). */
function nested(value: unknown, path: Path, field: string, issues: Issues): Array<{ value: unknown; path: Path }> {
  if (Array.isArray(value)) return value.map((v, i) => ({ value: v, path: [...path, i] }))
  if (isMapping(value)) return Fields.open(value, path, issues, [field])?.list(field) ?? []
  issues.add(LocalConfigErrorCode.shape, path, `expected a list or {${field}: [...]}, found ${describe(value)}`)
  return []
}

function decodeMatch(value: unknown, path: Path, issues: Issues): policy.Match {
  const f = Fields.open(value, path, issues, MATCH_FIELDS)
  if (f === undefined) return policy.match({})
  const fields: { -readonly [K in keyof policy.Match]?: policy.Match[K] } = {}
  for (const key of STRING_MATCH_LISTS) fields[key] = f.list(key).flatMap((e) => decodeStringMatch(e.value, e.path, issues) ?? [])
  for (const key of CIDR_LISTS) fields[key] = f.list(key).flatMap((e) => decodeCidr(e.value, e.path, issues) ?? [])
  for (const key of PORT_LISTS) {
    fields[key] = f.list(key).flatMap((e) => readInteger(e.value, e.path, issues, 1, PORT_MAX, LocalConfigErrorCode.invalidPort) ?? [])
  }
  for (const key of SA_LISTS) fields[key] = f.list(key).flatMap((e) => decodeServiceAccount(e.value, e.path, issues) ?? [])
  return policy.match(fields)
}

/**
 * `{exact}`, `{prefix}`, `{suffix}`, `{presence: {}}` (proto JSON; `presence: true` too), or a bare
 * string read with AuthorizationPolicy's conventions: `*` present, `*x` suffix, `x*` prefix.
 */
function decodeStringMatch(value: unknown, path: Path, issues: Issues): policy.StringMatch | undefined {
  if (typeof value === 'string' && value !== '') {
    if (value === '*') return { presence: true }
    if (value.startsWith('*')) return { suffix: value.slice(1) }
    if (value.endsWith('*')) return { prefix: value.slice(0, -1) }
    return { exact: value }
  }
  if (isMapping(value) && Object.keys(value).length === 1) {
    const [kind, v] = Object.entries(value)[0] as [string, unknown]
    if (kind === 'presence' && (v === true || (isMapping(v) && Object.keys(v).length === 0))) return { presence: true }
    if ((kind === 'exact' || kind === 'prefix' || kind === 'suffix') && typeof v === 'string') {
      return { [kind]: v } as policy.StringMatch
    }
  }
  issues.add(
    LocalConfigErrorCode.shape,
    path,
    `expected a string or one of {exact}, {prefix}, {suffix}, {presence: {}}, found ${describe(value)}`,
  )
  return undefined
}

function decodeCidr(value: unknown, path: Path, issues: Issues): policy.CidrMatch | undefined {
  const cidr = typeof value === 'string' ? parseCidr(value) : undefined
  if (cidr === undefined) issues.add(LocalConfigErrorCode.invalidAddress, path, `not an IP or CIDR: ${describe(value)}`)
  return cidr
}

function decodeServiceAccount(value: unknown, path: Path, issues: Issues): policy.ServiceAccountMatch | undefined {
  const f = Fields.open(value, path, issues, ['namespace', 'serviceAccount'])
  if (f === undefined) return undefined
  const mark = issues.mark()
  const namespace = f.string('namespace', { required: true })
  const serviceAccount = f.string('serviceAccount', { required: true })
  return issues.since(mark) ? undefined : { namespace, serviceAccount }
}
