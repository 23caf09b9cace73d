// networking.istio.io VirtualService: hosts, http routes (match, route, rewrite, headers, timeout,
// retries, fault, mirror) and tcp routes. Checks are the ones Istio's webhook makes that matter to
// the emulator: hosts required, a route needs destinations (or a redirect / direct response),
// weights and percentages in range, durations with units, abort status a real HTTP status.
import { PORT_MAX } from '../../net/address.js'
import { type Entry, Fields, type Issues } from './fields.js'
import { ConfigMessageCode } from './messages.js'
import type {
  Destination,
  HeaderOperations,
  Headers,
  HttpFault,
  HttpMatchRequest,
  HttpRetry,
  HttpRewrite,
  L4MatchAttributes,
  ObjectBody,
  RouteDestination,
  StringMatch,
  VirtualServiceHttpRoute,
  VirtualServiceTcpRoute,
} from './model.js'

const HTTP_ROUTE_FIELDS = [
  'name',
  'match',
  'route',
  'redirect',
  'directResponse',
  'delegate',
  'rewrite',
  'timeout',
  'retries',
  'fault',
  'mirror',
  'mirrors',
  'mirrorPercentage',
  'mirrorPercent',
  'mirror_percent',
  'corsPolicy',
  'headers',
]
const MATCH_FIELDS = [
  'name',
  'uri',
  'scheme',
  'method',
  'authority',
  'headers',
  'withoutHeaders',
  'queryParams',
  'port',
  'ignoreUriCase',
  'sourceLabels',
  'gateways',
  'sourceNamespace',
  'statPrefix',
]

export function decodeVirtualService(top: Fields, issues: Issues): ObjectBody<'VirtualService'> | undefined {
  const mark = issues.mark()
  const f = top.requiredChild('spec', ['hosts', 'gateways', 'http', 'tls', 'tcp', 'exportTo'], 'add spec: with hosts and http routes')
  if (f === undefined) return undefined
  const hosts = f.strings('hosts')
  if (hosts.length === 0 && !issues.failedSince(mark)) {
    issues.error(ConfigMessageCode.missingField, f.at('hosts'), 'a VirtualService needs at least one host', 'add hosts: [<service name>]')
  }
  const http = f.list('http').flatMap((e) => decodeHttpRoute(e, issues) ?? [])
  const tcp = f.list('tcp').flatMap((e) => decodeTcpRoute(e, issues) ?? [])
  const spec = { hosts, gateways: f.strings('gateways'), exportTo: f.strings('exportTo'), http, tcp }
  return issues.failedSince(mark) ? undefined : { spec }
}

function decodeHttpRoute({ value, path }: Entry, issues: Issues): VirtualServiceHttpRoute | undefined {
  const f = Fields.open(value, path, issues, HTTP_ROUTE_FIELDS)
  if (f === undefined) return undefined
  const route = f.list('route').flatMap((e) => decodeRouteDestination(e, issues) ?? [])
  const redirect = f.child('redirect', ['uri', 'authority', 'port', 'scheme', 'redirectCode', 'derivePort'])
  const direct = f.child('directResponse', ['status', 'body'])
  if (!f.has('route') && redirect === undefined && direct === undefined && !f.has('delegate')) {
    issues.error(
      ConfigMessageCode.missingField,
      f.at('route'),
      'an http route needs route, redirect or directResponse',
      'add route: [{destination: {host: <service>}}]',
    )
  }
  const mirrorPercentage = f.child('mirrorPercentage', ['value'])?.number('value', 0, 100) ?? f.int('mirrorPercent', 0, 100)
  return {
    name: f.string('name'),
    match: f.list('match').flatMap((e) => decodeMatch(e, issues) ?? []),
    route,
    redirect:
      redirect === undefined
        ? undefined
        : {
            uri: redirect.string('uri'),
            authority: redirect.string('authority'),
            port: redirect.int('port', 1, PORT_MAX),
            scheme: redirect.string('scheme'),
            redirectCode: redirect.int('redirectCode', 300, 399) ?? 301,
          },
    directResponse:
      direct === undefined
        ? undefined
        : {
            status: direct.int('status', 200, 599, { required: true }) ?? 200,
            body: direct.child('body', ['string', 'bytes'])?.string('string'),
          },
    rewrite: decodeRewrite(f.child('rewrite', ['uri', 'authority', 'uriRegexRewrite'])),
    timeoutMs: f.durationMs('timeout'),
    retries: decodeRetries(f.child('retries', ['attempts', 'perTryTimeout', 'retryOn', 'retryRemoteLocalities'])),
    fault: decodeFault(f.child('fault', ['delay', 'abort'])),
    mirror: f.has('mirror') ? decodeDestination({ value: f.raw('mirror'), path: f.at('mirror') }, issues) : undefined,
    mirrorPercentage,
    headers: decodeHeaders(f.child('headers', ['request', 'response'])),
  }
}

/** `{exact}`, `{prefix}` or `{regex}`: exactly one. */
export function decodeStringMatch({ value, path }: Entry, issues: Issues): StringMatch | undefined {
  const f = Fields.open(value, path, issues, ['exact', 'prefix', 'regex'])
  if (f === undefined) return undefined
  const set = (['exact', 'prefix', 'regex'] as const).filter((k) => f.has(k))
  if (set.length !== 1) {
    issues.error(
      ConfigMessageCode.schema,
      path,
      `a string match needs exactly one of exact, prefix, regex (found ${set.length})`,
      'write e.g. uri: {prefix: /api}',
    )
    return undefined
  }
  const kind = set[0] as StringMatch['kind']
  const v = f.raw(kind)
  if (typeof v !== 'string') {
    issues.error(ConfigMessageCode.schema, f.at(kind), `"${kind}" must be a string`, 'quote the value')
    return undefined
  }
  if (kind === 'regex') {
    try {
      new RegExp(v)
    } catch {
      issues.error(ConfigMessageCode.schema, f.at(kind), `"${v}" is not a valid regular expression`, 'fix the regex (RE2 syntax)')
      return undefined
    }
  }
  return { kind, value: v }
}

function matchMap(f: Fields, key: string, issues: Issues, lowerCase = false): Record<string, StringMatch> {
  const out: Record<string, StringMatch> = {}
  for (const e of f.entries(key)) {
    const m = decodeStringMatch(e, issues)
    const name = String(e.path[e.path.length - 1])
    if (m !== undefined) out[lowerCase ? name.toLowerCase() : name] = m
  }
  return out
}

function decodeMatch({ value, path }: Entry, issues: Issues): HttpMatchRequest | undefined {
  const f = Fields.open(value, path, issues, MATCH_FIELDS)
  if (f === undefined) return undefined
  const one = (key: string): StringMatch | undefined =>
    f.has(key) ? decodeStringMatch({ value: f.raw(key), path: f.at(key) }, issues) : undefined
  return {
    name: f.string('name'),
    uri: one('uri'),
    scheme: one('scheme'),
    method: one('method'),
    authority: one('authority'),
    headers: matchMap(f, 'headers', issues, true),
    withoutHeaders: matchMap(f, 'withoutHeaders', issues, true),
    queryParams: matchMap(f, 'queryParams', issues),
    port: f.int('port', 1, PORT_MAX),
    ignoreUriCase: f.bool('ignoreUriCase') ?? false,
    sourceLabels: f.stringMap('sourceLabels'),
    gateways: f.strings('gateways'),
  }
}

export function decodeDestination({ value, path }: Entry, issues: Issues): Destination | undefined {
  const f = Fields.open(value, path, issues, ['host', 'subset', 'port'])
  if (f === undefined) return undefined
  const host = f.string('host', { required: true })
  const port = f.child('port', ['number'])?.int('number', 1, PORT_MAX, { required: true })
  return host === undefined ? undefined : { host, subset: f.string('subset'), port }
}

function decodeRouteDestination({ value, path }: Entry, issues: Issues): RouteDestination | undefined {
  const f = Fields.open(value, path, issues, ['destination', 'weight', 'headers'])
  if (f === undefined) return undefined
  if (!f.has('destination')) {
    issues.error(ConfigMessageCode.missingField, f.at('destination'), '"destination" is required', 'add destination: {host: <service>}')
    return undefined
  }
  const destination = decodeDestination({ value: f.raw('destination'), path: f.at('destination') }, issues)
  const weight = f.int('weight', 0, 100)
  const headers = decodeHeaders(f.child('headers', ['request', 'response']))
  return destination === undefined ? undefined : { destination, weight, headers }
}

function decodeHeaders(f: Fields | undefined): Headers | undefined {
  if (f === undefined) return undefined
  const ops = (key: string): HeaderOperations => {
    const o = f.child(key, ['set', 'add', 'remove'])
    return { set: o?.stringMap('set') ?? {}, add: o?.stringMap('add') ?? {}, remove: o?.strings('remove') ?? [] }
  }
  return { request: ops('request'), response: ops('response') }
}

function decodeRewrite(f: Fields | undefined): HttpRewrite | undefined {
  if (f === undefined) return undefined
  const re = f.child('uriRegexRewrite', ['match', 'rewrite'])
  const match = re?.string('match', { required: true })
  const rewrite = re?.string('rewrite', { required: true })
  return {
    uri: f.string('uri'),
    authority: f.string('authority'),
    uriRegexRewrite: match === undefined || rewrite === undefined ? undefined : { match, rewrite },
  }
}

function decodeRetries(f: Fields | undefined): HttpRetry | undefined {
  if (f === undefined) return undefined
  const retryOn = f.string('retryOn')
  return {
    attempts: f.int('attempts', 0, 1_000) ?? 0,
    perTryTimeoutMs: f.durationMs('perTryTimeout'),
    retryOn:
      retryOn === undefined
        ? []
        : retryOn
            .split(',')
            .map((s) => s.trim())
            .filter((s) => s !== ''),
    retryRemoteLocalities: f.bool('retryRemoteLocalities'),
  }
}

/** `percentage: {value}` (0-100, fractions allowed), or the deprecated integer `percent`. */
function percentage(f: Fields): number | undefined {
  return f.child('percentage', ['value'])?.number('value', 0, 100) ?? f.int('percent', 0, 100)
}

function decodeFault(f: Fields | undefined): HttpFault | undefined {
  if (f === undefined) return undefined
  const delay = f.child('delay', ['fixedDelay', 'percentage', 'percent', 'exponentialDelay'])
  const abort = f.child('abort', ['httpStatus', 'grpcStatus', 'http2Error', 'percentage'])
  if (abort !== undefined && !abort.has('httpStatus') && !abort.has('grpcStatus')) {
    abort.issues.error(
      ConfigMessageCode.missingField,
      abort.at('httpStatus'),
      'an abort needs httpStatus or grpcStatus',
      'add httpStatus: 503',
    )
  }
  return {
    delay:
      delay === undefined
        ? undefined
        : { fixedDelayMs: delay.durationMs('fixedDelay', { required: true }) ?? 0, percentage: percentage(delay) },
    abort:
      abort === undefined
        ? undefined
        : {
            httpStatus: abort.int('httpStatus', 200, 599),
            grpcStatus: abort.string('grpcStatus'),
            percentage: percentage(abort),
          },
  }
}

function decodeTcpRoute({ value, path }: Entry, issues: Issues): VirtualServiceTcpRoute | undefined {
  const f = Fields.open(value, path, issues, ['match', 'route'])
  if (f === undefined) return undefined
  const match = f.list('match').flatMap((e): L4MatchAttributes[] => {
    const m = Fields.open(e.value, e.path, issues, ['destinationSubnets', 'port', 'sourceLabels', 'gateways', 'sourceNamespace'])
    if (m === undefined) return []
    return [
      {
        destinationSubnets: m.strings('destinationSubnets'),
        port: m.int('port', 1, PORT_MAX),
        sourceLabels: m.stringMap('sourceLabels'),
        gateways: m.strings('gateways'),
      },
    ]
  })
  if (!f.has('route'))
    issues.error(ConfigMessageCode.missingField, f.at('route'), 'a tcp route needs route', 'add route: [{destination: {host: <service>}}]')
  return { match, route: f.list('route').flatMap((e) => decodeRouteDestination(e, issues) ?? []) }
}
