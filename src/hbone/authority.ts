// The HBONE `:authority`: the target `ip:port` of the tunnel, IPv6 in brackets (no hostnames: a
// CONNECT names a concrete endpoint). Pure; the server turns a failure into 400.
import net from 'node:net'
import ipaddr from 'ipaddr.js'

export interface Authority {
  /** Canonical text: IPv4 dotted quad, IPv6 RFC 5952; IPv4-mapped IPv6 folded to IPv4. */
  readonly ip: string
  /**
   * 0-65535. Port 0 parses: Istio answers it with 503 ("illegal port"), a decision of the
   * callback, not a malformed authority.
   */
  readonly port: number
}

export type AuthorityParse = { readonly ok: true; readonly authority: Authority } | { readonly ok: false; readonly reason: string }

const PORT = /^[0-9]{1,5}$/

export function parseAuthority(text: string | undefined): AuthorityParse {
  if (text === undefined || text === '') return bad('missing :authority')
  let host: string
  let portText: string
  if (text.startsWith('[')) {
    const close = text.indexOf(']')
    if (close < 0 || text[close + 1] !== ':') return bad(`malformed :authority "${text}": expected [ipv6]:port`)
    host = text.slice(1, close)
    portText = text.slice(close + 2)
    if (!net.isIPv6(host) || host.includes('%')) return bad(`malformed :authority "${text}": "${host}" is not an IPv6 address`)
  } else {
    const colon = text.lastIndexOf(':')
    if (colon < 0) return bad(`malformed :authority "${text}": expected ip:port`)
    host = text.slice(0, colon)
    portText = text.slice(colon + 1)
    if (net.isIPv6(host)) return bad(`malformed :authority "${text}": IPv6 must be in brackets`)
    if (!net.isIPv4(host)) return bad(`malformed :authority "${text}": "${host}" is not an IP address`)
  }
  if (!PORT.test(portText)) return bad(`malformed :authority "${text}": bad port "${portText}"`)
  const port = Number(portText)
  if (port > 65535) return bad(`malformed :authority "${text}": port ${port} out of range`)
  return { ok: true, authority: Object.freeze({ ip: canonical(host), port }) }
}

/** The `:authority` text for an address: `ip:port`, `[ipv6]:port`. */
export function formatAuthority(authority: Authority): string {
  return net.isIPv6(authority.ip) ? `[${authority.ip}]:${authority.port}` : `${authority.ip}:${authority.port}`
}

function canonical(ip: string): string {
  if (net.isIPv4(ip)) return ip
  const v6 = ipaddr.IPv6.parse(ip)
  return v6.isIPv4MappedAddress() ? v6.toIPv4Address().toString() : v6.toString()
}

function bad(reason: string): AuthorityParse {
  return { ok: false, reason }
}
