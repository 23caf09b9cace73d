// Socket addresses as the planners see them: canonical IP text (src/mesh/ip.ts) plus a port, and
// the way an HBONE `:authority` is printed (IPv6 bracketed, ambient-reference.md "HBONE"). Pure:
// src/net/address.ts has the same formatting but imports node:net, which the planners must not.
export { canonicalIp } from '../mesh/ip.js'

export interface SocketAddress {
  readonly ip: string
  readonly port: number
}

export function isValidPort(port: number): boolean {
  return Number.isInteger(port) && port >= 1 && port <= 65535
}

/** `ip:port`, with the IP bracketed when it is IPv6 (`[fd00::1]:80`). Expects canonical IP text. */
export function formatAuthority(addr: SocketAddress): string {
  return addr.ip.includes(':') ? `[${addr.ip}]:${addr.port}` : `${addr.ip}:${addr.port}`
}
