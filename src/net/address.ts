// Socket addresses and ports: one vocabulary for every layer. A `SocketAddress` holds canonical IP
// text (./ip.ts) and a port; text is parsed at the edges (`:authority`, `forwarded`, SOCKS5, config)
// and printed in one way: `ip:port`, IPv6 in brackets (`[fd00::1]:80`), as HBONE's `:authority`
// and every log line write it. Pure (no sockets).
import { isIpv6Text } from './ip.js'

export interface SocketAddress {
  /** Canonical IP text. */
  readonly ip: string
  readonly port: number
}

export const PORT_MAX = 65535

/** A port a connection can name: an integer in 1..65535 (`min: 0` also admits 0, "any"/"unset"). */
export function isValidPort(port: number, min: 0 | 1 = 1): boolean {
  return Number.isInteger(port) && port >= min && port <= PORT_MAX
}

/** `1.2.3.4:80`, `[::1]:80`; a hostname prints as is (`reviews:9080`). */
export function formatHostPort(host: string, port: number): string {
  return isIpv6Text(host) ? `[${host}]:${port}` : `${host}:${port}`
}

/** `ip:port`, the IP bracketed when it is IPv6: the `:authority` of a tunnel, the text of a log line. */
export function formatAuthority(addr: SocketAddress): string {
  return formatHostPort(addr.ip, addr.port)
}
