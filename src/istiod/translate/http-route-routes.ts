// Gateway API HTTPRoute → waypoint routes (GAMMA for mesh traffic). A route attaches to a served
// Service through a parentRef `{kind: Service, name}` (optionally one `port`), or to the waypoint
// itself through `{kind: Gateway, name: <waypoint>}`, then covering the served Services its
// `hostnames` match (all of them without hostnames). Every (rule, match) pair becomes one route,
// ordered by the Gateway API precedence: Exact path, then the longest prefix, then a method, then
// the most header matches, then the most query matches; ties go to the first route by
// namespace/name, then rule order (the spec's "oldest first" with names standing in for age).
import type { BackendRef, HTTPRoute, HttpRouteFilter, HttpRouteMatch, HeaderModifier, ParentReference } from '../resources/model.js'
import { objectKey } from '../resources/model.js'
import type { ServiceEntry } from './clusters.js'
import { hostMatches, serviceHostname } from './hosts.js'
import { TranslationCode, cmp } from './messages.js'
import { DEFAULT_RETRIES, NO_HEADERS, destinationPort } from './route-parts.js'
import type { RouteContext } from './virtual-service-routes.js'
import type {
  HeaderOperations,
  HeaderOps,
  HttpMatch,
  HttpRoute,
  Mirror,
  Redirect,
  Rewrite,
  RouteAction,
  StringMatch,
  WeightedDestination,
} from '../../mesh/waypoint-config.js'

const GATEWAY_GROUP = 'gateway.networking.k8s.io'

function isServiceRef(ref: { readonly group: string; readonly kind: string }): boolean {
  return ref.kind === 'Service' && (ref.group === '' || ref.group === 'core')
}

/** Does this parentRef attach the route to `svc` (on `port`) served by waypoint `ns/name`? */
function attaches(
  route: HTTPRoute,
  ref: ParentReference,
  svc: ServiceEntry,
  port: number,
  waypoint: { namespace: string; name: string },
): boolean {
  const ns = ref.namespace ?? route.metadata.namespace
  if (isServiceRef(ref)) return ns === svc.mesh.namespace && ref.name === svc.mesh.name && (ref.port === undefined || ref.port === port)
  if (ref.kind === 'Gateway' && ref.group === GATEWAY_GROUP && ns === waypoint.namespace && ref.name === waypoint.name) {
    return route.spec.hostnames.length === 0 || route.spec.hostnames.some((h) => hostMatches(h, svc.mesh.hostname))
  }
  return false
}

export function httpRoutesFor(
  all: readonly HTTPRoute[],
  svc: ServiceEntry,
  port: number,
  waypoint: { namespace: string; name: string },
): HTTPRoute[] {
  return all
    .filter((r) => r.spec.parentRefs.some((ref) => attaches(r, ref, svc, port, waypoint)))
    .sort((a, b) => cmp(a.metadata.namespace, b.metadata.namespace) || cmp(a.metadata.name, b.metadata.name))
}

/** Reports parentRefs to Services that do not exist (the route then attaches nowhere). */
export function checkHttpRouteParents(
  all: readonly HTTPRoute[],
  hasService: (namespace: string, name: string) => boolean,
  ctx: Pick<RouteContext, 'sink'>,
): void {
  for (const r of all) {
    r.spec.parentRefs.forEach((ref, i) => {
      const ns = ref.namespace ?? r.metadata.namespace
      if (!isServiceRef(ref) || hasService(ns, ref.name)) return
      ctx.sink.add({
        code: TranslationCode.routeParentNotFound,
        severity: 'warning',
        object: objectKey(r),
        path: `spec.parentRefs[${i}]`,
        source: r.source,
        reason: `Service ${ns}/${ref.name} does not exist; this parentRef attaches the route nowhere`,
        hint: 'name an existing Service',
      })
    })
  }
}

interface Ranked {
  route: HttpRoute
  match: HttpRouteMatch | undefined
  order: number
}

export function httpRouteRoutes(routes: readonly HTTPRoute[], port: number, ctx: RouteContext): HttpRoute[] {
  const ranked: Ranked[] = []
  for (const r of routes) {
    r.spec.rules.forEach((rule, i) => {
      const path = `spec.rules[${i}]`
      const base = ruleRoute(r, rule.filters, rule.backendRefs, rule.timeouts, port, path, ctx)
      const name = rule.name ?? `${objectKey(r)}#${i}`
      const matches = rule.matches.length === 0 ? [undefined] : rule.matches
      matches.forEach((m, j) => {
        ranked.push({
          route: { ...base, name: matches.length > 1 ? `${name}.${j}` : name, matches: m === undefined ? [] : [httpMatch(m)] },
          match: m,
          order: ranked.length,
        })
      })
    })
  }
  return ranked.sort(precedence).map((r) => r.route)
}

function precedence(a: Ranked, b: Ranked): number {
  const pa = a.match?.path ?? { type: 'PathPrefix', value: '/' }
  const pb = b.match?.path ?? { type: 'PathPrefix', value: '/' }
  const typeRank = (t: string): number => (t === 'Exact' ? 0 : t === 'PathPrefix' ? 1 : 2)
  return (
    typeRank(pa.type) - typeRank(pb.type) ||
    pb.value.length - pa.value.length ||
    Number(b.match?.method !== undefined) - Number(a.match?.method !== undefined) ||
    (b.match?.headers.length ?? 0) - (a.match?.headers.length ?? 0) ||
    (b.match?.queryParams.length ?? 0) - (a.match?.queryParams.length ?? 0) ||
    a.order - b.order
  )
}

function pathMatch(p: HttpRouteMatch['path']): StringMatch {
  switch (p.type) {
    case 'Exact':
      return { kind: 'exact', value: p.value }
    case 'RegularExpression':
      return { kind: 'regex', value: p.value }
    case 'PathPrefix':
      return p.value === '/' ? { kind: 'prefix', value: '/' } : { kind: 'pathSeparatedPrefix', value: p.value.replace(/\/+$/, '') }
  }
}

function httpMatch(m: HttpRouteMatch): HttpMatch {
  const value = (type: string, v: string): StringMatch => (type === 'Exact' ? { kind: 'exact', value: v } : { kind: 'regex', value: v })
  return {
    path: pathMatch(m.path),
    ignoreUriCase: false,
    method: m.method === undefined ? null : { kind: 'exact', value: m.method },
    scheme: null,
    authority: null,
    headers: m.headers.map((h) => ({ name: h.name.toLowerCase(), match: value(h.type, h.value) })),
    withoutHeaders: [],
    queryParams: m.queryParams.map((q) => ({ name: q.name, match: value(q.type, q.value) })),
  }
}

function modifier(h: HeaderModifier): HeaderOps {
  const lower = (l: readonly { name: string; value: string }[]) => l.map((x) => ({ name: x.name.toLowerCase(), value: x.value }))
  return { set: lower(h.set), add: lower(h.add), remove: h.remove.map((n) => n.toLowerCase()) }
}

function headersOf(filters: readonly HttpRouteFilter[]): HeaderOperations {
  let out: HeaderOperations = NO_HEADERS
  for (const f of filters) {
    if (f.type === 'RequestHeaderModifier') out = { ...out, request: modifier(f.requestHeaderModifier) }
    if (f.type === 'ResponseHeaderModifier') out = { ...out, response: modifier(f.responseHeaderModifier) }
  }
  return out
}

type RuleParts = Omit<HttpRoute, 'name' | 'matches'>

function ruleRoute(
  r: HTTPRoute,
  filters: readonly HttpRouteFilter[],
  backends: readonly BackendRef[],
  timeouts: { readonly requestMs?: number | undefined; readonly backendRequestMs?: number | undefined } | undefined,
  port: number,
  path: string,
  ctx: RouteContext,
): RuleParts {
  let redirect: Redirect | undefined
  let rewrite: Rewrite | null = null
  const mirrors: Mirror[] = []
  filters.forEach((f, i) => {
    const at = `${path}.filters[${i}]`
    switch (f.type) {
      case 'RequestRedirect': {
        const d = f.requestRedirect
        redirect = {
          scheme: d.scheme ?? null,
          authority: d.hostname ?? null,
          port: d.port ?? null,
          statusCode: d.statusCode,
          path: d.path?.type === 'ReplaceFullPath' ? d.path.replaceFullPath : null,
          pathPrefix: d.path?.type === 'ReplacePrefixMatch' ? d.path.replacePrefixMatch : null,
        }
        break
      }
      case 'URLRewrite':
        rewrite = {
          uriPrefix: f.urlRewrite.path?.type === 'ReplacePrefixMatch' ? f.urlRewrite.path.replacePrefixMatch : null,
          fullPath: f.urlRewrite.path?.type === 'ReplaceFullPath' ? f.urlRewrite.path.replaceFullPath : null,
          uriRegex: null,
          authority: f.urlRewrite.hostname ?? null,
        }
        break
      case 'RequestMirror':
        mirrors.push({
          ...backend(r, f.requestMirror.backendRef, port, `${at}.requestMirror.backendRef`, ctx),
          percentage: f.requestMirror.percent ?? 100,
        })
        break
      case 'ExtensionRef':
        ctx.sink.add({
          code: TranslationCode.unsupportedField,
          severity: 'warning',
          object: objectKey(r),
          path: at,
          source: r.source,
          reason: 'ExtensionRef filters are not supported by the waypoint; ignored',
          hint: '',
        })
        break
      case 'RequestHeaderModifier':
      case 'ResponseHeaderModifier':
        break
    }
  })
  const action: RouteAction = redirect !== undefined ? { kind: 'redirect', redirect } : forward(r, backends, port, path, ctx)
  const perTry = timeouts?.backendRequestMs
  return {
    action,
    timeoutMs: timeouts?.requestMs === undefined || timeouts.requestMs === 0 ? null : timeouts.requestMs,
    retries: perTry === undefined || perTry === 0 ? DEFAULT_RETRIES : { ...DEFAULT_RETRIES, perTryTimeoutMs: perTry },
    fault: null,
    mirrors,
    rewrite,
    headers: headersOf(filters),
  }
}

/** Gateway API: no backends, or only zero weights, is answered 500 by the implementation. */
function forward(r: HTTPRoute, backends: readonly BackendRef[], port: number, path: string, ctx: RouteContext): RouteAction {
  const destinations: WeightedDestination[] = []
  backends.forEach((b, i) => {
    if (!isServiceRef(b)) {
      ctx.sink.add({
        code: TranslationCode.unsupportedField,
        severity: 'warning',
        object: objectKey(r),
        path: `${path}.backendRefs[${i}]`,
        source: r.source,
        reason: `backendRef kind ${b.kind} is not supported; only Services`,
        hint: '',
      })
      return
    }
    destinations.push({ ...backend(r, b, port, `${path}.backendRefs[${i}]`, ctx), weight: b.weight, headers: headersOf(b.filters) })
  })
  if (destinations.every((d) => d.weight === 0)) return { kind: 'directResponse', status: 500, body: null }
  return { kind: 'forward', destinations }
}

function backend(r: HTTPRoute, b: Omit<BackendRef, 'weight' | 'filters'>, port: number, path: string, ctx: RouteContext) {
  const hostname = serviceHostname(b.name, b.namespace ?? r.metadata.namespace)
  const target = ctx.mesh.serviceByHostname(hostname)
  const p = destinationPort(b.port, port, target)
  const { name, problem } = ctx.clusters.add(hostname, p, null)
  if (problem === 'unknown-host') {
    ctx.sink.add({
      code: TranslationCode.unknownDestination,
      severity: 'error',
      object: objectKey(r),
      path,
      source: r.source,
      reason: `Service ${b.namespace ?? r.metadata.namespace}/${b.name} does not exist; requests routed there get 503`,
      hint: 'name an existing Service',
    })
  }
  return { cluster: name, hostname, port: p, subset: null }
}
