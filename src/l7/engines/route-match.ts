// Picks the HTTP route for a request on a served service port, as Envoy's router does with the
// route table istiod builds: routes in order, first match wins; a route matches if ANY of its
// matches does (an empty list matches everything); a match needs EVERY field it sets to pass.
// No route → 404 with response flag NR (Envoy's "route_not_found", empty body).
//
// Field semantics (Envoy RouteMatch, as Istio translates HTTPMatchRequest):
//  - path: `exact`, `regex` and Gateway API `pathSeparatedPrefix` look at `:path` without the query
//    string; `prefix` looks at the whole `:path` (Envoy's `prefix` is a plain prefix of `:path`).
//    `ignoreUriCase` applies to exact and prefix forms only (Istio docs: not to regex);
//  - method, authority, scheme: header matchers on `:method`, `:authority`, `:scheme`;
//  - headers: repeated headers are joined with `,` before matching (Envoy);
//    `prefix: ""` is Istio's catch-all = Envoy `present_match` (header present, any value);
//  - withoutHeaders: the same matchers with `invert_match`. Envoy quirk kept on purpose: an ABSENT
//    header never satisfies an inverted string matcher (envoyproxy/envoy#21828; Istio does not set
//    `treat_missing_header_as_empty`), only an inverted presence matcher (= "header absent");
//  - queryParams: the first value of the parameter, percent-decoded; absent → no match.
import type { HttpMatch, HttpRoute, NamedMatch, StringMatch } from '../../mesh/waypoint-config.js'
import type { LocalReply } from './local-reply.js'
import { matchString } from './string-match.js'

/** Request headers as the data path hands them over: lower-cased names. */
export type RequestHeaders = Readonly<Record<string, string | readonly string[] | undefined>>

/** What route matching reads of a request. */
export interface RequestHead {
  readonly method: string
  /** `:path` including the query string. */
  readonly path: string
  readonly authority: string
  readonly scheme: string
  readonly headers: RequestHeaders
}

export type MatchField = 'path' | 'method' | 'authority' | 'scheme' | 'headers' | 'withoutHeaders' | 'queryParams'

export type RouteDecision =
  | {
      readonly kind: 'route'
      readonly route: HttpRoute
      readonly routeIndex: number
      /** Index in `route.matches`; null when the route has no matches (matches everything). */
      readonly matchIndex: number | null
      /** The path matcher that selected the route (what a `uriPrefix` rewrite replaces); null = Envoy's implicit prefix `/`. */
      readonly pathMatch: StringMatch | null
      readonly ignoreUriCase: boolean
      readonly reason: string
    }
  | {
      readonly kind: 'noRoute'
      readonly reply: LocalReply
      /** Per route, the first field of its last match that failed: for logs and `explain`. */
      readonly misses: readonly { readonly route: string; readonly field: MatchField | 'noMatches' }[]
      readonly reason: string
    }

export const NO_ROUTE_REPLY: LocalReply = Object.freeze({ status: 404, body: '', responseFlag: 'NR' })

export function matchRoute(routes: readonly HttpRoute[], req: RequestHead): RouteDecision {
  const misses: { route: string; field: MatchField | 'noMatches' }[] = []
  for (let routeIndex = 0; routeIndex < routes.length; routeIndex++) {
    const route = routes[routeIndex]!
    if (route.matches.length === 0) {
      return {
        kind: 'route',
        route,
        routeIndex,
        matchIndex: null,
        pathMatch: null,
        ignoreUriCase: false,
        reason: `route ${route.name} matches every request`,
      }
    }
    let lastMiss: MatchField = 'path'
    for (let matchIndex = 0; matchIndex < route.matches.length; matchIndex++) {
      const m = route.matches[matchIndex]!
      const miss = firstMismatch(m, req)
      if (miss === undefined) {
        return {
          kind: 'route',
          route,
          routeIndex,
          matchIndex,
          pathMatch: m.path,
          ignoreUriCase: m.ignoreUriCase,
          reason: `route ${route.name} match ${matchIndex}`,
        }
      }
      lastMiss = miss
    }
    misses.push({ route: route.name, field: lastMiss })
  }
  const reason = routes.length === 0 ? 'no routes on this port' : `none of ${routes.length} routes matched`
  return { kind: 'noRoute', reply: NO_ROUTE_REPLY, misses, reason }
}

/** The first field (in the order above) that fails, or undefined if the match passes. */
export function firstMismatch(m: HttpMatch, req: RequestHead): MatchField | undefined {
  if (m.path !== null && !pathMatches(m.path, req.path, m.ignoreUriCase)) return 'path'
  if (m.method !== null && !matchString(m.method, req.method)) return 'method'
  if (m.authority !== null && !matchString(m.authority, req.authority)) return 'authority'
  if (m.scheme !== null && !matchString(m.scheme, req.scheme)) return 'scheme'
  if (!m.headers.every((h) => headerMatches(h, req.headers, false))) return 'headers'
  if (!m.withoutHeaders.every((h) => headerMatches(h, req.headers, true))) return 'withoutHeaders'
  if (m.queryParams.length > 0) {
    const query = parseQuery(req.path)
    if (!m.queryParams.every((q) => queryParamMatches(q, query))) return 'queryParams'
  }
  return undefined
}

export function pathMatches(m: StringMatch, path: string, ignoreCase: boolean): boolean {
  if (m.kind === 'prefix') return matchString(m, path, ignoreCase)
  const withoutQuery = stripQuery(path)
  return matchString(m, withoutQuery, m.kind === 'regex' ? false : ignoreCase)
}

export function stripQuery(path: string): string {
  const q = path.search(/[?#]/)
  return q < 0 ? path : path.slice(0, q)
}

/** Istio's catch-all header match (`prefix: ""`) becomes Envoy's `present_match`. */
function isPresence(m: StringMatch): boolean {
  return m.kind === 'prefix' && m.value === ''
}

function headerValue(headers: RequestHeaders, name: string): string | undefined {
  const v = headers[name]
  if (v === undefined) return undefined
  return typeof v === 'string' ? v : v.join(',')
}

function headerMatches(h: NamedMatch, headers: RequestHeaders, invert: boolean): boolean {
  const value = headerValue(headers, h.name)
  if (isPresence(h.match)) return (value !== undefined) !== invert
  if (value === undefined) return false
  return matchString(h.match, value) !== invert
}

/** First value of each parameter, percent-decoded (`+` stays `+`, as in Envoy). */
export function parseQuery(path: string): ReadonlyMap<string, string> {
  const out = new Map<string, string>()
  const q = path.indexOf('?')
  if (q < 0) return out
  const hash = path.indexOf('#', q)
  const query = path.slice(q + 1, hash < 0 ? undefined : hash)
  for (const part of query.split('&')) {
    if (part === '') continue
    const eq = part.indexOf('=')
    const name = decode(eq < 0 ? part : part.slice(0, eq))
    const value = eq < 0 ? '' : decode(part.slice(eq + 1))
    if (!out.has(name)) out.set(name, value)
  }
  return out
}

function decode(s: string): string {
  try {
    return decodeURIComponent(s)
  } catch {
    return s
  }
}

function queryParamMatches(q: NamedMatch, query: ReadonlyMap<string, string>): boolean {
  const value = query.get(q.name)
  if (value === undefined) return false
  return matchString(q.match, value)
}
