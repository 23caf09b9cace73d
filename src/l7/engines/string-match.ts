// Route-side string matching (Istio's StringMatch as Envoy's StringMatcher runs it) and RE2-style
// regular expressions on JavaScript's RegExp.
//
// Envoy's `safe_regex` is RE2 and always a FULL match: `/v1` does not match `/v1/x`. We anchor the
// pattern as `^(?:…)$`. RE2 features JavaScript lacks are translated where it is cheap: a leading
// flag group `(?i)` / `(?s)` / `(?is)` becomes RegExp flags, `\A` and `\z` become `^` and `$`.
// RE2 rejects lookarounds and backreferences; istiod validates regexes, so we do not re-check.
// A pattern JavaScript cannot compile never matches (Envoy would have refused the config).
import type { StringMatch } from '../../mesh/waypoint-config.js'

// Compiled patterns, memoised by source: compilation is pure, so this cache cannot change a
// decision. Bounded so that configs that churn regexes do not grow it without limit.
const MAX_CACHED = 1024
const cache = new Map<string, RegExp | null>()

/** The full-match RegExp for an RE2 pattern, or null if JavaScript cannot compile it. */
export function fullMatchRegex(pattern: string): RegExp | null {
  return compile(pattern, true, false)
}

/** The RegExp that finds every occurrence (for `regex_rewrite`), or null if it does not compile. */
export function searchRegex(pattern: string): RegExp | null {
  return compile(pattern, false, true)
}

function compile(pattern: string, anchored: boolean, global: boolean): RegExp | null {
  const key = `${anchored ? 'a' : 's'}${global ? 'g' : '-'}${pattern}`
  const hit = cache.get(key)
  if (hit !== undefined || cache.has(key)) return hit ?? null
  let source = pattern
  let flags = global ? 'g' : ''
  const inline = /^\(\?([is]+)\)/.exec(source)
  if (inline) {
    source = source.slice(inline[0].length)
    for (const f of new Set(inline[1])) flags += f
  }
  source = source.replace(/\\A/g, '^').replace(/\\z/g, '$')
  if (anchored) source = `^(?:${source})$`
  let re: RegExp | null
  try {
    re = new RegExp(source, `${flags}u`)
  } catch {
    try {
      re = new RegExp(source, flags)
    } catch {
      re = null
    }
  }
  if (cache.size >= MAX_CACHED) cache.clear()
  cache.set(key, re)
  return re
}

/**
 * Envoy's StringMatcher: exact and prefix compare bytes (optionally ignoring ASCII case), regex is a
 * full match, and Gateway API's path-separated prefix matches at a `/` boundary.
 */
export function matchString(m: StringMatch, value: string, ignoreCase = false): boolean {
  switch (m.kind) {
    case 'exact':
      return ignoreCase ? value.toLowerCase() === m.value.toLowerCase() : value === m.value
    case 'prefix':
      return ignoreCase ? value.toLowerCase().startsWith(m.value.toLowerCase()) : value.startsWith(m.value)
    case 'regex':
      return fullMatchRegex(m.value)?.test(value) ?? false
    case 'pathSeparatedPrefix':
      return pathSeparatedPrefixMatches(m.value, value, ignoreCase)
  }
}

/**
 * Gateway API PathPrefix (Envoy `path_separated_prefix`): `/foo` matches `/foo`, `/foo/` and
 * `/foo/bar`, never `/foobar`. A trailing `/` in the prefix is ignored (`/foo/` = `/foo`), and `/`
 * matches every path.
 */
export function pathSeparatedPrefixMatches(prefix: string, path: string, ignoreCase = false): boolean {
  const p = trimTrailingSlash(ignoreCase ? prefix.toLowerCase() : prefix)
  const v = ignoreCase ? path.toLowerCase() : path
  if (p === '') return v.startsWith('/')
  if (!v.startsWith(p)) return false
  return v.length === p.length || v[p.length] === '/'
}

export function trimTrailingSlash(prefix: string): string {
  return prefix.endsWith('/') ? prefix.replace(/\/+$/, '') : prefix
}
