// Socket addresses as the planners see them: canonical IP text plus a port, and the one way to
// print an HBONE `:authority` (IPv6 bracketed, ambient-reference.md "HBONE"). Pure: no node:net.
import ipaddr from 'ipaddr.js'

export interface SocketAddress {
  readonly ip: string
  readonly port: number
}

/**
 * Canonical IP text as src/mesh stores it (IPv4 dotted quad, IPv6 compressed lowercase), or
 * undefined when the text is not an IP. An IPv4-mapped IPv6 address (`::ffff:10.0.0.1`, what a
 * dual-stack socket reports) becomes the IPv4 address, so it finds the same workload.
 */
export function canonicalIp(text: string): string | undefined {
  // ipaddr.js also accepts legacy IPv4 forms (`10.1`, octal, hex); mesh addresses never use them.
  if (ipaddr.IPv4.isValid(text) && !ipaddr.IPv4.isValidFourPartDecimal(text)) return undefined
  if (!ipaddr.isValid(text)) return undefined
  return ipaddr.process(text).toString()
}

export function isValidPort(port: number): boolean {
  return Number.isInteger(port) && port >= 1 && port <= 65535
}

/** `ip:port`, with the IP bracketed when it is IPv6 (`[fd00::1]:80`). */
export function formatAuthority(addr: SocketAddress): string {
  return addr.ip.includes(':') ? `[${addr.ip}]:${addr.port}` : `${addr.ip}:${addr.port}`
}
