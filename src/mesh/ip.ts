// IP text as the mesh model stores it. Every index in MeshState is keyed by canonical IP text, so
// the same address must always print the same way: IPv4 dotted quad, IPv6 RFC 5952 (lowercase,
// compressed), and IPv4-mapped IPv6 (`::ffff:a.b.c.d`, what a dual-stack Node socket reports for an
// IPv4 peer) folded to plain IPv4. Parse at the edge: raw text past src/mesh is already canonical.
//
// Candidate to move down to src/net once another layer (ztunnel's socket addresses) needs it.
import ipaddr from 'ipaddr.js'
import type { CidrMatch } from '../authz/policy.js'

/**
 * Canonical text of an IP, or undefined if `text` is not one. Stricter than ipaddr.js's `isValid`:
 * IPv4 must be four decimal parts without leading zeros ("010.0.0.1" is octal to some parsers and
 * decimal to others; "10.1" is a shorthand nobody means in YAML), and IPv6 zone ids are refused
 * (a zone names a local interface, which is meaningless in mesh config).
 */
export function canonicalIp(text: string): string | undefined {
  const parsed = parseIp(text)
  return parsed === undefined ? undefined : formatIp(parsed)
}

/** True if `text` is already canonical IP text (what MeshState checks on every value it stores). */
export function isCanonicalIp(text: string): boolean {
  return canonicalIp(text) === text
}

/** The family of canonical IP text. */
export function ipFamily(canonical: string): 4 | 6 {
  return canonical.includes(':') ? 6 : 4
}

/**
 * Parses `a.b.c.d/len`, `x::y/len` or a bare IP (= /32 or /128, as Istio's ipBlocks treat it).
 * The address is kept as written (canonicalised, not masked) so explanations quote the user's
 * value; evaluators compare prefixes. An IPv4-mapped IPv6 CIDR with length ≥ 96 folds to IPv4.
 */
export function parseCidr(text: string): CidrMatch | undefined {
  if (typeof text !== 'string') return undefined
  const slash = text.indexOf('/')
  const addrText = slash < 0 ? text : text.slice(0, slash)
  const lenText = slash < 0 ? undefined : text.slice(slash + 1)
  const addr = parseIp(addrText)
  if (addr === undefined) return undefined
  const written = ipaddr.parse(addrText)
  const max = written.kind() === 'ipv4' ? 32 : 128
  let length = max
  if (lenText !== undefined) {
    if (!/^(0|[1-9]\d{0,2})$/.test(lenText)) return undefined
    length = Number(lenText)
    if (length > max) return undefined
  }
  if (written.kind() === 'ipv6' && addr.kind() === 'ipv4') {
    // ::ffff:10.0.0.0/104 is 10.0.0.0/8; a mapped prefix shorter than /96 spans non-IPv4 space.
    if (length < 96) return undefined
    length -= 96
  }
  return Object.freeze({ address: formatIp(addr), length })
}

/** `network/ip`, the key ztunnel's address indexes use (network '' is the default network). */
export function networkAddressKey(network: string, ip: string): string {
  return `${network}/${ip}`
}

function parseIp(text: string): ipaddr.IPv4 | ipaddr.IPv6 | undefined {
  if (typeof text !== 'string') return undefined
  if (ipaddr.IPv4.isValidFourPartDecimal(text)) return ipaddr.IPv4.parse(text)
  if (text.includes('%') || !ipaddr.IPv6.isValid(text)) return undefined
  const v6 = ipaddr.IPv6.parse(text)
  return v6.isIPv4MappedAddress() ? v6.toIPv4Address() : v6
}

function formatIp(addr: ipaddr.IPv4 | ipaddr.IPv6): string {
  return addr.kind() === 'ipv4' ? addr.toString() : (addr as ipaddr.IPv6).toRFC5952String()
}
