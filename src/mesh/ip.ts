// IP text as the mesh model stores it. Every index in MeshState is keyed by canonical IP text, so
// the same address must always print the same way: IPv4 dotted quad, IPv6 RFC 5952, and
// IPv4-mapped IPv6 (`::ffff:a.b.c.d`, what a dual-stack Node socket reports for an IPv4 peer)
// folded to plain IPv4. Parse at the edge: raw text past src/mesh is already canonical.
//
// The parsing itself lives once, in src/authz/cidr.ts (policies compare the same addresses); this
// module adds what the mesh indexes need. Both belong in src/net once a third layer needs them.
import { canonicalIp, parseCidr } from '../authz/cidr.js'

export { canonicalIp, parseCidr }

/** True if `text` is already canonical IP text (what MeshState checks on every value it stores). */
export function isCanonicalIp(text: string): boolean {
  return typeof text === 'string' && canonicalIp(text) === text
}

/** `network/ip`, the key ztunnel's address indexes use (network '' is the default network). */
export function networkAddressKey(network: string, ip: string): string {
  return `${network}/${ip}`
}
