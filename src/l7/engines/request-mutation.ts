// What the waypoint changes on a request before forwarding it, and on the response before
// returning it: path and authority rewrites, then header operations. Pure: takes the head, returns
// a new one; the data path applies it.
//
// Rewrites (Envoy RouteAction, as Istio translates HTTPRewrite / Gateway API URLRewrite):
//  - `fullPath` (ReplaceFullPath) replaces the whole path, keeping the query string;
//  - `uriPrefix` is Envoy's `prefix_rewrite`: the part of the path the route matched is swapped:
//    the prefix for prefix matches, the whole path (query kept) for exact and regex matches, and
//    for a match without a path, Envoy's implicit prefix `/` (so `/v2` on `/foo` gives `/v2foo`, a
//    classic surprise we keep). For Gateway API PathPrefix matches we follow the Gateway API
//    ReplacePrefixMatch contract istiod implements (`/foo` → `/` on `/foo/bar` gives `/bar`, not
//    Envoy's raw `//bar`);
//  - `uriRegex` is Envoy's `regex_rewrite`: every match in the path (not the query) is substituted;
//    RE2's `\1` group references become JavaScript's `$1`;
//  - `authority` is `host_rewrite_literal`.
// Istio validation allows only one path rewrite; if several arrive we apply fullPath, else
// uriPrefix, else uriRegex.
//
// Header operations (Envoy HeaderParser): removes first, then `set` (overwrite) and `add` (append
// another value). Destination-level operations run before route-level ones, so the route's `set`
// wins (Envoy evaluates the most specific level first by default and the later one overwrites).
// Pseudo-headers cannot be touched by header operations (Envoy rejects them); Istio turns a request
// `set` of `host` into an authority rewrite, and so do we. Values are literal: Envoy's `%VAR%`
// substitutions are not expanded.
import type { HeaderOps, HttpRoute, Rewrite, StringMatch, WeightedDestination } from '../../mesh/waypoint-config.js'
import { searchRegex, trimTrailingSlash } from './string-match.js'

export type HeaderValues = Readonly<Record<string, string | readonly string[] | undefined>>
export type Headers = Record<string, string | string[]>

/** Which match chose the route (from RouteDecision): what a prefix rewrite replaces. */
export interface MatchedPath {
  readonly pathMatch: StringMatch | null
  readonly ignoreUriCase: boolean
}

export interface RequestToMutate {
  /** `:path` with the query string. */
  readonly path: string
  readonly authority: string
  readonly headers: HeaderValues
}

export interface MutatedRequest {
  readonly path: string
  readonly authority: string
  readonly headers: Headers
  /** The path before a rewrite (Envoy puts it in `x-envoy-original-path`); null if unchanged. */
  readonly originalPath: string | null
}

export function mutateRequest(
  req: RequestToMutate,
  route: HttpRoute,
  destination: WeightedDestination | null,
  matched: MatchedPath,
): MutatedRequest {
  const path = rewritePath(req.path, route.rewrite, matched)
  let authority = route.rewrite?.authority ?? req.authority
  const headers = toHeaders(req.headers)
  if (destination !== null) authority = applyRequestOps(headers, destination.headers.request, authority)
  authority = applyRequestOps(headers, route.headers.request, authority)
  return { path, authority, headers, originalPath: path === req.path ? null : req.path }
}

/**
 * Whether mutateRequest would change the request: a rewrite, or a header operation at either level.
 * Most routes have none; the data path then sends the head it has instead of a copy of it.
 */
export function changesRequest(route: HttpRoute, destination: WeightedDestination | null): boolean {
  return route.rewrite !== null || !noOps(route.headers.request) || (destination !== null && !noOps(destination.headers.request))
}

/** Whether mutateResponseHeaders would change the headers (a response header operation at either level). */
export function changesResponse(route: HttpRoute, destination: WeightedDestination | null): boolean {
  return !noOps(route.headers.response) || (destination !== null && !noOps(destination.headers.response))
}

export function mutateResponseHeaders(headers: HeaderValues, route: HttpRoute, destination: WeightedDestination | null): Headers {
  const out = toHeaders(headers)
  if (destination !== null) applyOpsInPlace(out, destination.headers.response)
  return applyOpsInPlace(out, route.headers.response)
}

export function rewritePath(path: string, rewrite: Rewrite | null, matched: MatchedPath): string {
  if (rewrite === null) return path
  const q = path.search(/[?#]/)
  const bare = q < 0 ? path : path.slice(0, q)
  const query = q < 0 ? '' : path.slice(q)
  if (rewrite.fullPath !== null) return rewrite.fullPath + query
  if (rewrite.uriPrefix !== null) return prefixRewrite(path, bare, query, rewrite.uriPrefix, matched)
  if (rewrite.uriRegex !== null) {
    const re = searchRegex(rewrite.uriRegex.match)
    if (re === null) return path
    return bare.replace(re, rewrite.uriRegex.rewrite.replace(/\$/g, '$$$$').replace(/\\(\d)/g, '$$$1')) + query
  }
  return path
}

function prefixRewrite(path: string, bare: string, query: string, replacement: string, matched: MatchedPath): string {
  const m = matched.pathMatch
  if (m === null) return replacement + path.slice(1)
  switch (m.kind) {
    case 'prefix':
      return replacement + path.slice(m.value.length)
    case 'exact':
    case 'regex':
      return replacement + query
    case 'pathSeparatedPrefix': {
      const rest = bare.slice(trimTrailingSlash(m.value).length)
      const joined = replacement.endsWith('/') && rest.startsWith('/') ? replacement + rest.slice(1) : replacement + rest
      return (joined === '' ? '/' : joined) + query
    }
  }
}

/** Remove, then set (overwrite), then add (append). Names are compared lower-cased. */
export function applyHeaderOps(headers: HeaderValues, ops: HeaderOps): Headers {
  return applyOpsInPlace(toHeaders(headers), ops)
}

/** A request level's operations on `headers`; returns the authority, which a `set` of `host` rewrites. */
function applyRequestOps(headers: Headers, ops: HeaderOps, authority: string): string {
  if (noOps(ops)) return authority
  const host = ops.set.find((h) => h.name.toLowerCase() === 'host')
  applyOpsInPlace(headers, ops)
  return host === undefined ? authority : host.value
}

/** Most routes and destinations have no header operations: nothing to walk then. */
function noOps(ops: HeaderOps): boolean {
  return ops.remove.length === 0 && ops.set.length === 0 && ops.add.length === 0
}

/** applyHeaderOps on a copy this module just made (one copy per mutation, not one per level). */
function applyOpsInPlace(out: Headers, ops: HeaderOps): Headers {
  if (noOps(ops)) return out
  for (const name of ops.remove) {
    const n = name.toLowerCase()
    if (!n.startsWith(':')) delete out[n]
  }
  for (const { name, value } of ops.set) {
    const n = name.toLowerCase()
    if (!n.startsWith(':') && n !== 'host') out[n] = value
  }
  for (const { name, value } of ops.add) {
    const n = name.toLowerCase()
    if (n.startsWith(':') || n === 'host') continue
    const existing = out[n]
    out[n] = existing === undefined ? value : [...(typeof existing === 'string' ? [existing] : existing), value]
  }
  return out
}

function toHeaders(h: HeaderValues): Headers {
  const out: Headers = {}
  for (const k in h) {
    const v = h[k]
    if (v === undefined) continue
    out[k] = typeof v === 'string' ? v : [...v]
  }
  return out
}
