// Which mirrors (Envoy request_mirror_policies, Istio `mirror`/`mirrors` + `mirrorPercentage`) fire
// for a request, and the authority the shadow copy carries. Each mirror draws on its own.
// Envoy sends the shadow request fire-and-forget and drops its reply; the data path must never
// let a mirror's failure or latency touch the main request.
//
// Authority: Envoy appends `-shadow` to the host part, before any port (`reviews:9080` →
// `reviews-shadow:9080`, `[fd00::1]:80` → `[fd00::1]-shadow:80`), computed from the request's
// authority after route rewrites (the router shadows the request it forwards).
import type { Mirror } from '../../mesh/waypoint-config.js'
import { chance, type Random } from '../../random.js'

export interface MirrorDecision {
  readonly mirror: Mirror
  /** The `:authority` of the shadow request. */
  readonly authority: string
}

export function decideMirrors(mirrors: readonly Mirror[], authority: string, random: Random): MirrorDecision[] {
  const shadow = shadowAuthority(authority)
  const out: MirrorDecision[] = []
  for (const mirror of mirrors) {
    if (chance(random, mirror.percentage)) out.push({ mirror, authority: shadow })
  }
  return out
}

export function shadowAuthority(authority: string): string {
  const port = portStart(authority)
  return port < 0 ? `${authority}-shadow` : `${authority.slice(0, port)}-shadow${authority.slice(port)}`
}

/** Index of the `:` that starts the port, or -1. A colon inside `[...]` (IPv6) is not a port. */
function portStart(authority: string): number {
  const colon = authority.lastIndexOf(':')
  if (colon < 0) return -1
  const close = authority.lastIndexOf(']')
  if (authority.startsWith('[') && close > colon) return -1
  if (!authority.startsWith('[') && authority.indexOf(':') !== colon) return -1 // bare IPv6, no port
  return /^\d+$/.test(authority.slice(colon + 1)) ? colon : -1
}
