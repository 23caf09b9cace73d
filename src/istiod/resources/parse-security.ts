// security.istio.io: AuthorizationPolicy and PeerAuthentication. The AuthorizationPolicy spec is the
// authz module's own resource type (src/authz/authorization-policy.ts), so `fromAuthorizationPolicy`
// takes the parsed object as is. Validation follows Istio's webhook (pkg/config/validation): what it
// rejects we report as errors; what it accepts we accept, including ztunnel-irrelevant HTTP fields.
import type {
  AuthorizationPolicySpec,
  AuthorizationRule,
  Condition,
  Operation,
  PolicyTargetReference,
  Source,
} from '../../authz/authorization-policy.js'
import { parseCidr } from '../../authz/cidr.js'
import { PORT_MAX } from '../../net/address.js'
import { type Entry, Fields, type Issues, type Known, describe, readInt } from './fields.js'
import { ConfigMessageCode } from './messages.js'
import type { MtlsMode, ObjectBody } from './model.js'

type Mutable<T> = { -readonly [K in keyof T]?: T[K] }

const ACTIONS = ['ALLOW', 'DENY', 'AUDIT', 'CUSTOM'] as const
const MTLS_MODES: readonly MtlsMode[] = ['UNSET', 'DISABLE', 'PERMISSIVE', 'STRICT']
const SOURCE_FIELDS = [
  'principals',
  'notPrincipals',
  'requestPrincipals',
  'notRequestPrincipals',
  'namespaces',
  'notNamespaces',
  'ipBlocks',
  'notIpBlocks',
  'remoteIpBlocks',
  'notRemoteIpBlocks',
  'serviceAccounts',
  'notServiceAccounts',
] as const
const IP_FIELDS = new Set(['ipBlocks', 'notIpBlocks', 'remoteIpBlocks', 'notRemoteIpBlocks'])
const OPERATION_STRINGS = ['hosts', 'notHosts', 'methods', 'notMethods', 'paths', 'notPaths'] as const
const TARGET_REF_FIELDS = ['group', 'kind', 'name', 'namespace']

export function decodeAuthorizationPolicy(top: Fields, issues: Issues): ObjectBody<'AuthorizationPolicy'> | undefined {
  const mark = issues.mark()
  // `spec:` absent or empty is `spec: {}`: an ALLOW policy with no rules, which allows nothing.
  const f = top.has('spec') ? top.child('spec', ['selector', 'targetRef', 'targetRefs', 'action', 'provider', 'rules']) : undefined
  const spec: Mutable<AuthorizationPolicySpec> = {}
  if (f !== undefined) {
    // Present, even `{}`, makes a WORKLOAD_SELECTOR policy (authz keeps that distinction).
    if (f.has('selector')) spec.selector = { matchLabels: f.child('selector', ['matchLabels'])?.stringMap('matchLabels') ?? {} }
    const targetRef = f.has('targetRef') ? decodeTargetRef({ value: f.raw('targetRef'), path: f.at('targetRef') }, issues) : undefined
    if (targetRef !== undefined) spec.targetRef = targetRef
    if (f.has('targetRefs')) spec.targetRefs = f.list('targetRefs').flatMap((e) => decodeTargetRef(e, issues) ?? [])
    if (spec.selector !== undefined && (f.has('targetRef') || f.has('targetRefs'))) {
      issues.error(
        ConfigMessageCode.schema,
        f.at('selector'),
        'selector and targetRef(s) cannot be used together',
        'keep selector for ztunnel-enforced policy, or targetRefs for a waypoint policy',
      )
    }
    const action = f.enumOf('action', ACTIONS)
    if (action !== undefined) spec.action = action
    const provider = f.child('provider', ['name'])
    if (provider !== undefined) spec.provider = { ...(provider.has('name') ? { name: provider.string('name') ?? '' } : {}) }
    if (action === 'CUSTOM' && provider === undefined) {
      issues.error(
        ConfigMessageCode.missingField,
        f.at('provider'),
        'a CUSTOM policy needs a provider',
        'add provider: {name: <extension provider>}',
      )
    }
    if (action !== 'CUSTOM' && provider !== undefined) {
      issues.error(
        ConfigMessageCode.schema,
        f.at('provider'),
        'provider is only for action CUSTOM',
        'remove provider, or set action: CUSTOM',
      )
    }
    if (f.has('rules')) spec.rules = f.list('rules').flatMap((e) => decodeRule(e, issues) ?? [])
  }
  return issues.failedSince(mark) ? undefined : { spec }
}

function decodeTargetRef({ value, path }: Entry, issues: Issues): PolicyTargetReference | undefined {
  const f = Fields.open(value, path, issues, TARGET_REF_FIELDS)
  if (f === undefined) return undefined
  const kind = f.string('kind', { required: true })
  const name = f.string('name', { required: true })
  // `group: ""` is meaningful (the core group of a Service), so it is kept, unlike other empty strings.
  const group = typeof f.raw('group') === 'string' ? String(f.raw('group')) : f.string('group')
  const namespace = f.string('namespace')
  if (kind === undefined || name === undefined) return undefined
  return { kind, name, ...(group === undefined ? {} : { group }), ...(namespace === undefined ? {} : { namespace }) }
}

/** Each entry of list `list` (from, to): a mapping whose one field `key` is required and holds `known` fields. */
function eachWrapped<T>(
  f: Fields,
  list: string,
  key: string,
  known: Known,
  example: string,
  issues: Issues,
  decode: (inner: Fields) => T,
): T[] {
  return f.list(list).flatMap((e) => {
    const inner = Fields.open(e.value, e.path, issues, [key])?.child(key, known)
    if (inner === undefined) {
      issues.error(ConfigMessageCode.missingField, [...e.path, key], `"${key}" is required in each ${list}`, `write - ${key}: ${example}`)
      return []
    }
    return [decode(inner)]
  })
}

function decodeRule({ value, path }: Entry, issues: Issues): AuthorizationRule | undefined {
  // `rules: [{}]` is valid: a rule that matches everything.
  const f = value === null ? undefined : Fields.open(value, path, issues, ['from', 'to', 'when'])
  if (f === undefined) return value === null ? {} : undefined
  const rule: Mutable<AuthorizationRule> = {}
  if (f.has('from')) {
    rule.from = eachWrapped(f, 'from', 'source', SOURCE_FIELDS, '{principals: [...]}', issues, (src) => ({
      source: decodeSource(src, issues),
    }))
  }
  if (f.has('to')) {
    const known = [...OPERATION_STRINGS, 'ports', 'notPorts']
    rule.to = eachWrapped(f, 'to', 'operation', known, '{ports: ["8080"]}', issues, (op) => ({ operation: decodeOperation(op, issues) }))
  }
  if (f.has('when')) rule.when = f.list('when').flatMap((e) => decodeCondition(e, issues) ?? [])
  return rule
}

function decodeSource(f: Fields, issues: Issues): Source {
  const out: Mutable<Source> = {}
  for (const key of SOURCE_FIELDS) {
    if (!f.has(key)) continue
    const values = f.strings(key)
    if (IP_FIELDS.has(key)) {
      values.forEach((v, i) => {
        if (parseCidr(v) === undefined) {
          issues.error(
            ConfigMessageCode.schema,
            [...f.at(key), i],
            `"${v}" is not an IP address or CIDR`,
            'write an address (10.0.0.1) or a CIDR (10.0.0.0/16)',
          )
        }
      })
    }
    out[key] = values
  }
  if (Object.keys(out).length === 0) {
    issues.error(
      ConfigMessageCode.schema,
      f.path,
      'a source must set at least one field',
      'add principals, namespaces, ipBlocks... or remove this from entry',
    )
  }
  return out
}

function decodeOperation(f: Fields, issues: Issues): Operation {
  const out: Mutable<Operation> = {}
  for (const key of OPERATION_STRINGS) if (f.has(key)) out[key] = f.strings(key)
  for (const key of ['ports', 'notPorts'] as const) {
    if (!f.has(key)) continue
    out[key] = f.list(key).flatMap((e) => (readInt(e.value, e.path, issues, 1, PORT_MAX) === undefined ? [] : [e.value as string | number]))
  }
  if (Object.keys(out).length === 0) {
    issues.error(
      ConfigMessageCode.schema,
      f.path,
      'an operation must set at least one field',
      'add ports, methods, paths... or remove this to entry',
    )
  }
  return out
}

function decodeCondition({ value, path }: Entry, issues: Issues): Condition | undefined {
  const f = Fields.open(value, path, issues, ['key', 'values', 'notValues'])
  if (f === undefined) return undefined
  const key = f.string('key', { required: true })
  const scalarList = (field: 'values' | 'notValues'): (string | number)[] =>
    f.list(field).flatMap((e) => {
      if (typeof e.value === 'string' || typeof e.value === 'number') return [e.value]
      issues.error(ConfigMessageCode.schema, e.path, `expected a string, found ${describe(e.value)}`, 'quote the value')
      return []
    })
  if (!f.has('values') && !f.has('notValues')) {
    issues.error(
      ConfigMessageCode.missingField,
      f.at('values'),
      'a condition needs values or notValues',
      `add values: ["..."] for ${key ?? 'the key'}`,
    )
  }
  if (key === undefined) return undefined
  return {
    key,
    ...(f.has('values') ? { values: scalarList('values') } : {}),
    ...(f.has('notValues') ? { notValues: scalarList('notValues') } : {}),
  }
}

export function decodePeerAuthentication(top: Fields, issues: Issues): ObjectBody<'PeerAuthentication'> | undefined {
  const mark = issues.mark()
  const f = top.child('spec', ['selector', 'mtls', 'portLevelMtls'])
  const selector = f?.has('selector') ? { matchLabels: f.child('selector', ['matchLabels'])?.stringMap('matchLabels') ?? {} } : undefined
  const mode = f?.child('mtls', ['mode'])?.enumOf('mode', MTLS_MODES) ?? 'UNSET'
  const portLevelMtls: Record<number, { mode: MtlsMode }> = {}
  for (const e of f?.entries('portLevelMtls') ?? []) {
    const port = readInt(e.path[e.path.length - 1], e.path, issues, 1, PORT_MAX)
    const portMode = Fields.open(e.value, e.path, issues, ['mode'])?.enumOf('mode', MTLS_MODES, { required: true })
    if (port !== undefined && portMode !== undefined) portLevelMtls[port] = { mode: portMode }
  }
  if (f !== undefined && Object.keys(portLevelMtls).length > 0 && selector === undefined) {
    issues.error(
      ConfigMessageCode.schema,
      f.at('portLevelMtls'),
      'portLevelMtls requires a selector (Istio rejects it namespace-wide)',
      'add selector: {matchLabels: {...}} for the workloads these ports belong to',
    )
  }
  return issues.failedSince(mark) ? undefined : { spec: { selector, mtls: { mode }, portLevelMtls } }
}
