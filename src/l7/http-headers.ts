// Headers a proxy never forwards either way: hop-by-hop ones (RFC 9110 §7.6.1, plus those named in
// `Connection`) and the ones HTTP/2 forbids; and HTTP/2 pseudo-headers, which are not headers of the
// message. Used on requests and responses, upstream and downstream.

// Hop-by-hop headers (RFC 9110 §7.6.1) and the ones HTTP/2 forbids; never forwarded either way.
export const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'transfer-encoding',
  'upgrade',
  'host',
  'http2-settings',
])

const NONE_LISTED: ReadonlySet<string> = new Set()

export function stripPseudo(headers: Readonly<Record<string, string | string[] | number | undefined>>): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {}
  for (const k in headers) {
    const v = headers[k]
    if (k.charCodeAt(0) === 0x3a /* : */ || v === undefined) continue
    out[k] = typeof v === 'number' ? String(v) : v
  }
  return out
}

export function stripHopByHop(headers: Readonly<Record<string, string | string[] | undefined>>): Record<string, string | string[]> {
  return copyForwardable(headers, false)
}

/**
 * stripHopByHop(stripPseudo(headers)) in one copy: what a request carries on to the next hop. `drop`:
 * more names (lower case) this hop consumes and does not pass on (a sidecar's metadata headers);
 * leaving them out of the copy spares a `delete` after it, which would make the copy a slow dictionary.
 */
export function forwardableHeaders(
  headers: Readonly<Record<string, string | string[] | undefined>>,
  drop: ReadonlySet<string> = NONE_LISTED,
): Record<string, string | string[]> {
  return copyForwardable(headers, true, drop)
}

function copyForwardable(
  headers: Readonly<Record<string, string | string[] | undefined>>,
  dropPseudo: boolean,
  drop: ReadonlySet<string> = NONE_LISTED,
): Record<string, string | string[]> {
  const connection = headers.connection
  // One token (`keep-alive`, `close`: what clients send) needs no set of the names it lists; a list
  // and `drop` go in one set: one lookup per header either way.
  const single = typeof connection === 'string' && connection.indexOf(',') === -1
  const one = single ? connection.trim().toLowerCase() || undefined : undefined
  const listed = connection === undefined || single ? drop : listedNames(connection, drop)
  const out: Record<string, string | string[]> = {}
  for (const k in headers) {
    const v = headers[k]
    if (v === undefined || HOP_BY_HOP.has(k) || k === one || listed.has(k) || (dropPseudo && k.charCodeAt(0) === 0x3a)) continue
    out[k] = v
  }
  return out
}

function listedNames(connection: string | string[], drop: ReadonlySet<string>): ReadonlySet<string> {
  return new Set([
    ...drop,
    ...String(connection)
      .split(',')
      .map((s) => s.trim().toLowerCase())
      .filter(Boolean),
  ])
}
