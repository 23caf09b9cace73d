// Which protocol a tunnel carries, from the port's declared protocol or the first bytes (Istio's
// protocol sniffing for undeclared ports; the HTTP version on http ports). Pure.
import type { PortProtocol } from '../mesh/waypoint-config.js'
import { assertNever } from '../errors.js'

export type TunnelProtocol = 'http1' | 'h2' | 'tcp'

/** How long to sniff: bytes still undecided after this take `undecidedProtocol`. */
export const DEFAULT_SNIFF_TIMEOUT_MS = 100

/** The HTTP/2 connection preface (RFC 9113 §3.4). */
export const H2_PREFACE = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n')

// Request methods we recognise at the start of an HTTP/1 request line (RFC 9110 §9 + WebDAV's
// common ones, as Envoy's HTTP inspector does); the space after the token is part of the check.
const HTTP1_METHODS = [
  'GET',
  'HEAD',
  'POST',
  'PUT',
  'DELETE',
  'CONNECT',
  'OPTIONS',
  'TRACE',
  'PATCH',
  'PROPFIND',
  'PROPPATCH',
  'MKCOL',
  'COPY',
  'MOVE',
  'LOCK',
  'UNLOCK',
  'REPORT',
  'SEARCH',
  'PURGE',
] as const
const LONGEST_METHOD = Math.max(...HTTP1_METHODS.map((m) => m.length)) + 1

/**
 * What still has to be sniffed on a port: `any` protocol (undeclared ports: Istio's protocol
 * sniffing), or only the HTTP version (`http` ports: Envoy's codec AUTO takes h2 with prior
 * knowledge as well as HTTP/1.1).
 */
export type Sniffing = 'any' | 'http-version'

/** What the port declares: a protocol, or what is left to sniff. */
export function declaredProtocol(protocol: PortProtocol): TunnelProtocol | Sniffing {
  switch (protocol) {
    case 'HTTP':
      return 'http-version'
    case 'HTTP2':
    case 'GRPC':
      return 'h2'
    case 'TCP':
      return 'tcp'
    case 'UNKNOWN':
      return 'any'
    default:
      return assertNever(protocol, 'port protocol')
  }
}

export function isSniffing(d: TunnelProtocol | Sniffing): d is Sniffing {
  return d === 'any' || d === 'http-version'
}

/** The protocol when sniffing ends undecided (the sniff timeout passed, or the peer ended first). */
export function undecidedProtocol(what: Sniffing): TunnelProtocol {
  return what === 'any' ? 'tcp' : 'http1'
}

/**
 * From the first bytes: `undecided` while the bytes are a prefix of something HTTP could still be
 * (the caller reads more, or gives up at its sniff timeout: `undecidedProtocol`). For `http-version`
 * only the h2 preface is looked for; anything else is HTTP/1.1 (its parser judges the bytes).
 */
export function sniffProtocol(head: Buffer, what: Sniffing = 'any'): TunnelProtocol | 'undecided' {
  const n = Math.min(head.length, H2_PREFACE.length)
  if (n > 0 && head.subarray(0, n).equals(H2_PREFACE.subarray(0, n))) return head.length >= H2_PREFACE.length ? 'h2' : 'undecided'
  if (what === 'http-version') return head.length === 0 ? 'undecided' : 'http1'
  const text = head.subarray(0, LONGEST_METHOD).toString('latin1')
  let prefixOfSome = false
  for (const method of HTTP1_METHODS) {
    const token = `${method} `
    if (text.startsWith(token)) return 'http1'
    if (token.startsWith(text)) prefixOfSome = true
  }
  return prefixOfSome ? 'undecided' : 'tcp'
}
