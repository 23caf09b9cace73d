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

// The names a `Connection` header lists, per header text: clients send the same few values
// (`keep-alive`, `close`) on every request, so each is parsed once. Bounded: a client sending a new
// text each time only gets the cache emptied now and then.
const MAX_LISTED_TEXTS = 64
const listedByText = new Map<string, ReadonlySet<string>>()

function connectionListed(connection: string | string[]): ReadonlySet<string> {
  const text = String(connection)
  let listed = listedByText.get(text)
  if (listed === undefined) {
    listed = new Set(
      text
        .split(',')
        .map((s) => s.trim().toLowerCase())
        .filter(Boolean),
    )
    if (listedByText.size >= MAX_LISTED_TEXTS) listedByText.clear()
    listedByText.set(text, listed)
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

/** stripHopByHop(stripPseudo(headers)) in one copy: what a request carries on to the next hop. */
export function forwardableHeaders(headers: Readonly<Record<string, string | string[] | undefined>>): Record<string, string | string[]> {
  return copyForwardable(headers, true)
}

function copyForwardable(
  headers: Readonly<Record<string, string | string[] | undefined>>,
  dropPseudo: boolean,
): Record<string, string | string[]> {
  const connection = headers.connection
  const listed = connection === undefined ? NONE_LISTED : connectionListed(connection)
  const out: Record<string, string | string[]> = {}
  for (const k in headers) {
    const v = headers[k]
    if (v === undefined || HOP_BY_HOP.has(k) || listed.has(k) || (dropPseudo && k.charCodeAt(0) === 0x3a)) continue
    out[k] = v
  }
  return out
}
