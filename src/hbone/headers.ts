// The CONNECT request's headers, as ztunnel sends them: `traceparent` (fresh and random per tunnel),
// `forwarded: for="<client ip:port>"` (+ `;host=<service hostname>` when the destination service is
// known) and `baggage` with the source workload's metadata. No `x-istio-*` headers.
import http2 from 'node:http2'
import type { OutgoingHttpHeaders } from 'node:http2'
import { formatAuthority } from '../net/address.js'
import { formatTraceparent, generateTraceContext, pooledRandomBytes } from '../observability/trace-context.js'
import type { Authority } from '../net/authority.js'
import { parseAuthority } from '../net/authority.js'

const { HTTP2_HEADER_METHOD, HTTP2_HEADER_AUTHORITY, HTTP2_METHOD_CONNECT } = http2.constants

export interface ConnectRequestHeaders {
  /** Where the tunnel ends: the `:authority`. */
  readonly authority: Authority
  /** The original client (the app's socket address), for `forwarded: for=`. */
  readonly forwardedFor?: Authority
  /** The destination service hostname, for `forwarded: …;host=`. */
  readonly host?: string
  /** Source workload metadata (`k8s.namespace.name`, `service.name`, …). */
  readonly baggage?: Readonly<Record<string, string>>
  /** A `traceparent` to send; default a new random one. */
  readonly traceparent?: string
}

export function connectHeaders(request: ConnectRequestHeaders): OutgoingHttpHeaders {
  const headers: OutgoingHttpHeaders = {
    [HTTP2_HEADER_METHOD]: HTTP2_METHOD_CONNECT,
    [HTTP2_HEADER_AUTHORITY]: formatAuthority(request.authority),
    traceparent: request.traceparent ?? formatTraceparent(generateTraceContext()),
  }
  if (request.forwardedFor !== undefined) headers.forwarded = formatForwarded(request.forwardedFor, request.host)
  if (request.baggage !== undefined && Object.keys(request.baggage).length > 0) headers.baggage = formatBaggage(request.baggage)
  return headers
}

// The per-tunnel traceparent's random bytes come from trace-context's pool (kept exported here).
export { pooledRandomBytes }

/** RFC 7239: `for="1.2.3.4:5"`, `for="[::1]:5"`, quoted because of the colon; `;host=` unquoted token. */
export function formatForwarded(client: Authority, host?: string): string {
  const forPart = `for="${formatAuthority(client)}"`
  return host === undefined ? forPart : `${forPart};host=${host}`
}

export interface ForwardedElement {
  readonly for?: Authority
  readonly host?: string
}

/** The first element of a `forwarded` header; unknown or malformed parameters are left out. */
export function parseForwarded(header: string | undefined): ForwardedElement {
  if (header === undefined) return {}
  const first = header.split(',')[0] ?? ''
  let forAddress: Authority | undefined
  let host: string | undefined
  for (const pair of first.split(';')) {
    const eq = pair.indexOf('=')
    if (eq < 0) continue
    const key = pair.slice(0, eq).trim().toLowerCase()
    const value = unquote(pair.slice(eq + 1).trim())
    if (key === 'for') {
      const parsed = parseAuthority(value)
      if (parsed.ok) forAddress = parsed.authority
    } else if (key === 'host' && value !== '') {
      host = value
    }
  }
  return { ...(forAddress ? { for: forAddress } : {}), ...(host !== undefined ? { host } : {}) }
}

/** W3C Baggage: `key=value` members joined by `,`, values percent-encoded. */
export function formatBaggage(entries: Readonly<Record<string, string>>): string {
  return Object.entries(entries)
    .map(([k, v]) => `${k}=${encodeURIComponent(v)}`)
    .join(',')
}

/** Members of a `baggage` header; properties after `;` are dropped, malformed members skipped. */
export function parseBaggage(header: string | undefined): Record<string, string> {
  const out: Record<string, string> = {}
  if (header === undefined) return out
  for (const member of header.split(',')) {
    const kv = member.split(';')[0] ?? ''
    const eq = kv.indexOf('=')
    if (eq <= 0) continue
    const key = kv.slice(0, eq).trim()
    try {
      out[key] = decodeURIComponent(kv.slice(eq + 1).trim())
    } catch {
      // a malformed percent-escape: skip the member, as the W3C spec allows
    }
  }
  return out
}

function unquote(value: string): string {
  return value.length >= 2 && value.startsWith('"') && value.endsWith('"') ? value.slice(1, -1).replace(/\\(.)/g, '$1') : value
}
