// Parsing an `ip:port` authority (HBONE's `:authority`, `forwarded: for=`), the one edge where a
// socket address arrives as text: IPv6 in brackets, no hostnames (a CONNECT names a concrete
// endpoint). Pure; the HBONE server answers a failure with 400.
import { formatAuthority, PORT_MAX, type SocketAddress } from './address.js'
import { parseIp } from './ip.js'

export { formatAuthority }

/**
 * An `ip:port` as parsed: canonical IP text (IPv4-mapped IPv6 folded to IPv4) and a port 0-65535.
 * Port 0 parses: Istio answers it with 503 ("illegal port"), a decision of the inbound side, not a
 * malformed authority.
 */
export type Authority = SocketAddress

export type AuthorityParse = { readonly ok: true; readonly authority: Authority } | { readonly ok: false; readonly reason: string }

const PORT = /^[0-9]{1,5}$/

export function parseAuthority(text: string | undefined): AuthorityParse {
  if (text === undefined || text === '') return bad('missing :authority')
  let host: string
  let portText: string
  let ip: string | undefined
  if (text.startsWith('[')) {
    const close = text.indexOf(']')
    if (close < 0 || text[close + 1] !== ':') return bad(`malformed :authority "${text}": expected [ipv6]:port`)
    host = text.slice(1, close)
    portText = text.slice(close + 2)
    ip = host.includes(':') ? parseIp(host)?.toString() : undefined
    if (ip === undefined) return bad(`malformed :authority "${text}": "${host}" is not an IPv6 address`)
  } else {
    const colon = text.lastIndexOf(':')
    if (colon < 0) return bad(`malformed :authority "${text}": expected ip:port`)
    host = text.slice(0, colon)
    portText = text.slice(colon + 1)
    if (host.includes(':') && parseIp(host) !== undefined) return bad(`malformed :authority "${text}": IPv6 must be in brackets`)
    ip = host.includes(':') ? undefined : parseIp(host)?.toString()
    if (ip === undefined) return bad(`malformed :authority "${text}": "${host}" is not an IP address`)
  }
  if (!PORT.test(portText)) return bad(`malformed :authority "${text}": bad port "${portText}"`)
  const port = Number(portText)
  if (port > PORT_MAX) return bad(`malformed :authority "${text}": port ${port} out of range`)
  return { ok: true, authority: Object.freeze({ ip, port }) }
}

function bad(reason: string): AuthorityParse {
  return { ok: false, reason }
}
