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

// The names a `Connection` header lists with the names `drop` adds, per (drop set, header text):
// clients send the same few values (`keep-alive`, `close`) on every request, so each is parsed once.
// Bounded: a client sending a new text each time only gets its drop set's cache emptied now and then.
const MAX_LISTED_TEXTS = 64
const listedByDrop = new WeakMap<ReadonlySet<string>, Map<string, ReadonlySet<string>>>()

function connectionListed(drop: ReadonlySet<string>, connection: string | string[]): ReadonlySet<string> {
  const text = String(connection)
  let byText = listedByDrop.get(drop)
  if (byText === undefined) listedByDrop.set(drop, (byText = new Map()))
  let listed = byText.get(text)
  if (listed === undefined) {
    listed = new Set([
      ...drop,
      ...text
        .split(',')
        .map((s) => s.trim().toLowerCase())
        .filter(Boolean),
    ])
    if (byText.size >= MAX_LISTED_TEXTS) byText.clear()
    byText.set(text, listed)
  }
  return listed
}

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
  // The names `Connection` lists and `drop` in one set: one lookup per header either way.
  const listed = connection === undefined ? drop : connectionListed(drop, connection)
  const out: Record<string, string | string[]> = {}
  for (const k in headers) {
    const v = headers[k]
    if (v === undefined || HOP_BY_HOP.has(k) || listed.has(k) || (dropPseudo && k.charCodeAt(0) === 0x3a)) continue
    out[k] = v
  }
  return out
}
