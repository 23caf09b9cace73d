// gateway.networking.k8s.io: Gateway (waypoints are Gateways of class `istio-waypoint`) and HTTPRoute
// (GAMMA: parentRefs to a Service attach the route to that Service's waypoint). Defaults are the
// Gateway API's own (parentRef kind Gateway, backendRef kind Service and weight 1, match PathPrefix /).
import { PORT_MAX } from '../../net/address.js'
import { type Entry, Fields, type Issues } from './fields.js'
import { ConfigMessageCode } from './messages.js'
import type {
  BackendRef,
  HeaderModifier,
  HttpRouteFilter,
  HttpRouteMatch,
  HttpRouteRule,
  ObjectBody,
  ParentReference,
  PathMatchType,
  PathModifier,
  ValueMatchType,
} from './model.js'

const PATH_TYPES: readonly PathMatchType[] = ['Exact', 'PathPrefix', 'RegularExpression']
const VALUE_TYPES: readonly ValueMatchType[] = ['Exact', 'RegularExpression']
const FILTER_TYPES = [
  'RequestHeaderModifier',
  'ResponseHeaderModifier',
  'RequestMirror',
  'RequestRedirect',
  'URLRewrite',
  'ExtensionRef',
] as const
const METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'CONNECT', 'OPTIONS', 'TRACE', 'PATCH'] as const
/** The Gateway API's limit on a backendRef weight. */
const WEIGHT_MAX = 1_000_000

export function decodeGateway(top: Fields, issues: Issues): ObjectBody<'Gateway'> | undefined {
  const mark = issues.mark()
  const f = top.requiredChild(
    'spec',
    ['gatewayClassName', 'listeners', 'addresses', 'infrastructure'],
    'add spec: {gatewayClassName: istio-waypoint, listeners: [...]}',
  )
  if (f === undefined) return undefined
  const gatewayClassName = f.string('gatewayClassName', { required: true }) ?? ''
  const listeners = f.list('listeners').flatMap((e) => {
    const l = Fields.open(e.value, e.path, issues, ['name', 'hostname', 'port', 'protocol', 'tls', 'allowedRoutes'])
    if (l === undefined) return []
    const name = l.string('name', { required: true })
    const port = l.int('port', 1, PORT_MAX, { required: true })
    const protocol = l.string('protocol', { required: true })
    return name === undefined || port === undefined || protocol === undefined
      ? []
      : [{ name, port, protocol, hostname: l.string('hostname') }]
  })
  if (!f.has('listeners')) {
    issues.error(
      ConfigMessageCode.missingField,
      f.at('listeners'),
      '"listeners" is required',
      'add listeners: [{name: mesh, port: 15008, protocol: HBONE}] for a waypoint',
    )
  }
  const addresses = f.list('addresses').flatMap((e) => {
    const a = Fields.open(e.value, e.path, issues, ['type', 'value'])
    const value = a?.string('value', { required: true })
    return value === undefined ? [] : [{ type: a?.string('type') ?? 'IPAddress', value }]
  })
  return issues.failedSince(mark) ? undefined : { spec: { gatewayClassName, listeners, addresses } }
}

export function decodeHttpRoute(top: Fields, issues: Issues): ObjectBody<'HTTPRoute'> | undefined {
  const mark = issues.mark()
  const f = top.requiredChild('spec', ['parentRefs', 'hostnames', 'rules'], 'add spec: with parentRefs and rules')
  if (f === undefined) return undefined
  const parentRefs = f.list('parentRefs').flatMap((e) => decodeParentRef(e, issues) ?? [])
  const rules = f.list('rules').flatMap((e) => decodeRule(e, issues) ?? [])
  return issues.failedSince(mark) ? undefined : { spec: { parentRefs, hostnames: f.strings('hostnames'), rules } }
}

function decodeParentRef({ value, path }: Entry, issues: Issues): ParentReference | undefined {
  const f = Fields.open(value, path, issues, ['group', 'kind', 'name', 'namespace', 'port', 'sectionName'])
  if (f === undefined) return undefined
  const kind = f.string('kind') ?? 'Gateway'
  // A Service parent lives in the core group (''); a Gateway in gateway.networking.k8s.io.
  const group = f.has('group')
    ? typeof f.raw('group') === 'string'
      ? String(f.raw('group'))
      : ''
    : kind === 'Service'
      ? ''
      : 'gateway.networking.k8s.io'
  const name = f.string('name', { required: true })
  return name === undefined
    ? undefined
    : { group, kind, name, namespace: f.string('namespace'), port: f.int('port', 1, PORT_MAX), sectionName: f.string('sectionName') }
}

function decodeRule({ value, path }: Entry, issues: Issues): HttpRouteRule | undefined {
  const f = Fields.open(value, path, issues, ['name', 'matches', 'filters', 'backendRefs', 'timeouts', 'retry', 'sessionPersistence'])
  if (f === undefined) return undefined
  const timeouts = f.child('timeouts', ['request', 'backendRequest'])
  return {
    name: f.string('name'),
    matches: f.list('matches').flatMap((e) => decodeMatch(e, issues) ?? []),
    filters: f.list('filters').flatMap((e) => decodeFilter(e, issues) ?? []),
    backendRefs: f.list('backendRefs').flatMap((e) => decodeBackendRef(e, issues, true) ?? []),
    timeouts:
      timeouts === undefined
        ? undefined
        : { requestMs: timeouts.durationMs('request'), backendRequestMs: timeouts.durationMs('backendRequest') },
  }
}

function decodeMatch({ value, path }: Entry, issues: Issues): HttpRouteMatch | undefined {
  const f = Fields.open(value, path, issues, ['path', 'headers', 'queryParams', 'method'])
  if (f === undefined) return undefined
  const p = f.child('path', ['type', 'value'])
  const pathMatch = { type: p?.enumOf('type', PATH_TYPES) ?? 'PathPrefix', value: p?.string('value') ?? '/' }
  if (pathMatch.type !== 'RegularExpression' && !pathMatch.value.startsWith('/')) {
    issues.error(
      ConfigMessageCode.schema,
      [...f.at('path'), 'value'],
      `path "${pathMatch.value}" must start with "/"`,
      `write value: /${pathMatch.value}`,
    )
  }
  const named = (key: string): { type: ValueMatchType; name: string; value: string }[] =>
    f.list(key).flatMap((e) => {
      const h = Fields.open(e.value, e.path, issues, ['type', 'name', 'value'])
      const name = h?.string('name', { required: true })
      const v = h?.string('value', { required: true })
      return h === undefined || name === undefined || v === undefined
        ? []
        : [{ type: h.enumOf('type', VALUE_TYPES) ?? 'Exact', name, value: v }]
    })
  return { path: pathMatch, headers: named('headers'), queryParams: named('queryParams'), method: f.enumOf('method', METHODS) }
}

function decodeBackendRef({ value, path }: Entry, issues: Issues, withFilters: boolean): BackendRef | undefined {
  const f = Fields.open(value, path, issues, ['group', 'kind', 'name', 'namespace', 'port', 'weight', ...(withFilters ? ['filters'] : [])])
  if (f === undefined) return undefined
  const name = f.string('name', { required: true })
  const group = typeof f.raw('group') === 'string' ? String(f.raw('group')) : ''
  const kind = f.string('kind') ?? 'Service'
  const port = f.int('port', 1, PORT_MAX)
  if (kind === 'Service' && group === '' && !f.has('port')) {
    issues.error(ConfigMessageCode.missingField, f.at('port'), 'a Service backendRef needs a port', 'add port: <service port>')
  }
  const weight = f.int('weight', 0, WEIGHT_MAX) ?? 1
  const filters = f.list('filters').flatMap((e) => decodeFilter(e, issues) ?? [])
  return name === undefined ? undefined : { group, kind, name, namespace: f.string('namespace'), port, weight, filters }
}

function decodeHeaderModifier(f: Fields | undefined): HeaderModifier {
  const pairs = (key: string): { name: string; value: string }[] =>
    f?.list(key).flatMap((e) => {
      const h = Fields.open(e.value, e.path, f.issues, ['name', 'value'])
      const name = h?.string('name', { required: true })
      const v = h?.has('value') ? (h.string('value') ?? '') : ''
      return name === undefined ? [] : [{ name, value: v }]
    }) ?? []
  return { set: pairs('set'), add: pairs('add'), remove: f?.strings('remove') ?? [] }
}

function decodePathModifier(f: Fields | undefined): PathModifier | undefined {
  if (f === undefined) return undefined
  const type = f.enumOf('type', ['ReplaceFullPath', 'ReplacePrefixMatch'] as const, { required: true })
  if (type === 'ReplaceFullPath') return { type, replaceFullPath: f.string('replaceFullPath', { required: true }) ?? '' }
  if (type === 'ReplacePrefixMatch') return { type, replacePrefixMatch: f.string('replacePrefixMatch', { required: true }) ?? '' }
  return undefined
}

function decodeFilter({ value, path }: Entry, issues: Issues): HttpRouteFilter | undefined {
  const f = Fields.open(value, path, issues, [
    'type',
    'requestHeaderModifier',
    'responseHeaderModifier',
    'requestMirror',
    'requestRedirect',
    'urlRewrite',
    'extensionRef',
  ])
  if (f === undefined) return undefined
  const type = f.enumOf('type', FILTER_TYPES, { required: true })
  // Each type reads the field named after it (lower camel case), which must be present.
  const body = (key: string, known: readonly string[]): Fields | undefined => {
    const c = f.child(key, known)
    if (c === undefined) issues.error(ConfigMessageCode.missingField, f.at(key), `filter type ${type} needs "${key}"`, `add ${key}: {...}`)
    return c
  }
  switch (type) {
    case undefined:
      return undefined
    case 'RequestHeaderModifier':
      return { type, requestHeaderModifier: decodeHeaderModifier(body('requestHeaderModifier', ['set', 'add', 'remove'])) }
    case 'ResponseHeaderModifier':
      return { type, responseHeaderModifier: decodeHeaderModifier(body('responseHeaderModifier', ['set', 'add', 'remove'])) }
    case 'RequestMirror': {
      const m = body('requestMirror', ['backendRef', 'percent', 'fraction'])
      const backendRef = m?.has('backendRef')
        ? decodeBackendRef({ value: m.raw('backendRef'), path: m.at('backendRef') }, issues, false)
        : undefined
      if (backendRef === undefined) return undefined
      const { weight: _w, filters: _f, ...ref } = backendRef
      return { type, requestMirror: { backendRef: ref, percent: m?.int('percent', 0, 100) } }
    }
    case 'RequestRedirect': {
      const r = body('requestRedirect', ['scheme', 'hostname', 'path', 'port', 'statusCode'])
      return {
        type,
        requestRedirect: {
          scheme: r?.string('scheme'),
          hostname: r?.string('hostname'),
          port: r?.int('port', 1, PORT_MAX),
          path: decodePathModifier(r?.child('path', ['type', 'replaceFullPath', 'replacePrefixMatch'])),
          statusCode: r?.int('statusCode', 300, 399) ?? 302,
        },
      }
    }
    case 'URLRewrite': {
      const u = body('urlRewrite', ['hostname', 'path'])
      return {
        type,
        urlRewrite: {
          hostname: u?.string('hostname'),
          path: decodePathModifier(u?.child('path', ['type', 'replaceFullPath', 'replacePrefixMatch'])),
        },
      }
    }
    case 'ExtensionRef': {
      const x = body('extensionRef', ['group', 'kind', 'name'])
      return {
        type,
        extensionRef: {
          group: x?.string('group') ?? '',
          kind: x?.string('kind', { required: true }) ?? '',
          name: x?.string('name', { required: true }) ?? '',
        },
      }
    }
  }
}
