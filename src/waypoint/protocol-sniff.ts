// Which protocol a tunnel carries, from the port's declared protocol or the first bytes (Istio's
// protocol sniffing for undeclared ports). Pure.
import type { PortProtocol } from '../mesh/waypoint-config.js'
import { assertNever } from '../errors.js'

export type TunnelProtocol = 'http1' | 'h2' | 'tcp'

/** Undeclared ports: bytes that are still a prefix of HTTP after this are treated as TCP. */
export const DEFAULT_SNIFF_TIMEOUT_MS = 100

/** The HTTP/2 connection preface (RFC 9113 §3.4). */
export const H2_PREFACE = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n')

// Request methods we recognise at the start of an HTTP/1 request line (RFC 9110 §9 + WebDAV's
// common ones, as Envoy's HTTP inspector does); the space after the token is part of the check.
const HTTP1_METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'CONNECT', 'OPTIONS', 'TRACE', 'PATCH',
  'PROPFIND', 'PROPPATCH', 'MKCOL', 'COPY', 'MOVE', 'LOCK', 'UNLOCK', 'REPORT', 'SEARCH', 'PURGE'] as const
const LONGEST_METHOD = Math.max(...HTTP1_METHODS.map((m) => m.length)) + 1

/** What the port declares, or `sniff` when it declares nothing (UNKNOWN). */
export function declaredProtocol(protocol: PortProtocol): TunnelProtocol | 'sniff' {
  switch (protocol) {
    case 'HTTP':
      return 'http1'
    case 'HTTP2':
    case 'GRPC':
      return 'h2'
    case 'TCP':
      return 'tcp'
    case 'UNKNOWN':
      return 'sniff'
    default:
      return assertNever(protocol, 'port protocol')
  }
}

/**
 * From the first bytes: `undecided` while the bytes are a prefix of something HTTP could still be
 * (the caller reads more, or gives up at its sniff timeout and treats the flow as TCP).
 */
export function sniffProtocol(head: Buffer): TunnelProtocol | 'undecided' {
  const n = Math.min(head.length, H2_PREFACE.length)
  if (n > 0 && head.subarray(0, n).equals(H2_PREFACE.subarray(0, n))) return head.length >= H2_PREFACE.length ? 'h2' : 'undecided'
  const text = head.subarray(0, LONGEST_METHOD).toString('latin1')
  let prefixOfSome = false
  for (const method of HTTP1_METHODS) {
    const token = `${method} `
    if (text.startsWith(token)) return 'http1'
    if (token.startsWith(text)) prefixOfSome = true
  }
  return prefixOfSome ? 'undecided' : 'tcp'
}
