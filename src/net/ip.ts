// IP addresses, parsed once at the edge and compared as values inside. Every index in mesh state is
// keyed by canonical IP text, so the same address must always print the same way: IPv4 dotted quad,
// IPv6 RFC 5952, and IPv4-mapped IPv6 (`::ffff:a.b.c.d`, what a dual-stack Node socket reports for an
// IPv4 peer) folded to plain IPv4 (ztunnel's policies match such peers as IPv4 too). Pure.
import ipaddr from 'ipaddr.js'

/** A parsed address; IPv4-mapped IPv6 is always IPv4 here. */
export type Ip = ipaddr.IPv4 | ipaddr.IPv6

/**
 * Parses one address strictly: dotted-quad IPv4 without leading zeros (Go's `netip` rules, which
 * istiod uses) or IPv6 without a zone. IPv4-mapped IPv6 becomes IPv4. Undefined if invalid.
 */
export function parseIp(text: string): Ip | undefined {
  if (ipaddr.IPv4.isValidFourPartDecimal(text)) return ipaddr.IPv4.parse(text)
  if (!text.includes(':') || text.includes('%') || !ipaddr.IPv6.isValid(text)) return undefined
  const v6 = ipaddr.IPv6.parse(text)
  return v6.isIPv4MappedAddress() ? v6.toIPv4Address() : v6
}

/** Canonical text of an address (IPv4 dotted, IPv6 RFC 5952), or undefined if it does not parse. */
export function canonicalIp(text: string): string | undefined {
  return parseIp(text)?.toString()
}

/** True if `text` is already canonical IP text (what mesh state checks on every value it stores). */
export function isCanonicalIp(text: string): boolean {
  if (typeof text !== 'string') return false
  // Text without a colon is IPv4 or nothing: canonical exactly when it is a dotted quad of decimal
  // octets ≤ 255 without leading zeros (what parseIp accepts and prints back unchanged). Mesh state
  // checks every address it stores, so this common case skips the parser.
  if (!text.includes(':')) return isCanonicalIpv4(text)
  return canonicalIp(text) === text
}

const DOT = 0x2e
const ZERO = 0x30
const NINE = 0x39

/** Four decimal octets ≤ 255 joined by dots, none with a leading zero: one pass over the characters. */
function isCanonicalIpv4(text: string): boolean {
  let octets = 0
  let value = 0
  let digits = 0
  for (let i = 0; i <= text.length; i++) {
    const c = i === text.length ? DOT : text.charCodeAt(i)
    if (c === DOT) {
      if (digits === 0 || ++octets > 4) return false
      value = 0
      digits = 0
    } else if (c >= ZERO && c <= NINE) {
      if (digits === 1 && value === 0) return false // a leading zero
      value = value * 10 + (c - ZERO)
      if (++digits > 3 || value > 255) return false
    } else return false
  }
  return octets === 4
}

/** IPv6 text (canonical or not) contains a colon; IPv4 and hostnames never do. */
export function isIpv6Text(text: string): boolean {
  return text.includes(':')
}
