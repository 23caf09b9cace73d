// IP addresses and CIDRs as L4 authorization compares them. ztunnel holds `source_ips` and
// `destination_ips` as `IpNet` and asks `net.contains(conn.ip)`; an IPv4 net never contains an IPv6
// address and vice versa. We normalise IPv4-mapped IPv6 (`::ffff:a.b.c.d`) to IPv4 on both sides,
// because Node reports IPv4 peers of dual-stack sockets in that form and a policy written for
// `10.0.0.0/8` must still match them (reference: "IPs are CIDRs").
import ipaddr from 'ipaddr.js'
import { parseIp, type Ip } from '../net/ip.js'
import type { CidrMatch } from './policy.js'

const MAPPED_PREFIX_BITS = 96

/**
 * Parses `a.b.c.d/n`, `x::y/n` or a bare address (= /32 or /128), as istiod's `stringToIP` does.
 * Host bits are kept (Go's `netip.ParsePrefix` keeps them too; containment masks them).
 * A mapped IPv6 prefix of /96 or longer becomes the equivalent IPv4 prefix.
 */
export function parseCidr(text: string): CidrMatch | undefined {
  const slash = text.indexOf('/')
  const addrText = slash < 0 ? text : text.slice(0, slash)
  const lenText = slash < 0 ? undefined : text.slice(slash + 1)
  if (!addrText.includes(':')) {
    if (!ipaddr.IPv4.isValidFourPartDecimal(addrText)) return undefined
    const length = lenText === undefined ? 32 : prefixLength(lenText, 32)
    return length === undefined ? undefined : freeze(ipaddr.IPv4.parse(addrText).toString(), length)
  }
  if (addrText.includes('%') || !ipaddr.IPv6.isValid(addrText)) return undefined
  const v6 = ipaddr.IPv6.parse(addrText)
  const length = lenText === undefined ? 128 : prefixLength(lenText, 128)
  if (length === undefined) return undefined
  if (v6.isIPv4MappedAddress() && length >= MAPPED_PREFIX_BITS) {
    return freeze(v6.toIPv4Address().toString(), length - MAPPED_PREFIX_BITS)
  }
  return freeze(v6.toString(), length)
}

/** Does the CIDR contain the address? Different families never match (ztunnel's `IpNet::contains`). */
export function cidrContains(cidr: CidrMatch, ip: Ip): boolean {
  const net = parseIp(cidr.address)
  if (net === undefined || net.kind() !== ip.kind()) return false
  // ipaddr.js `match` requires the same family, checked above.
  return ip.match(net, cidr.length)
}

/** `10.0.0.0/8`, the form Istio's policies are written in. */
export function formatCidr(cidr: CidrMatch): string {
  return `${cidr.address}/${cidr.length}`
}

function prefixLength(text: string, max: number): number | undefined {
  if (!/^\d{1,3}$/.test(text)) return undefined
  const n = Number(text)
  return n <= max ? n : undefined
}

function freeze(address: string, length: number): CidrMatch {
  return Object.freeze({ address, length })
}
