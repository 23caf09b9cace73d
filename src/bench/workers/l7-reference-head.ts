// The HTTP/1.1 head scanning of the reference L7 hop (l7-reference-proxy.ts): just what an L7 proxy
// must know to frame messages on keep-alive connections — where a request's or a response's body ends
// (Content-Length), whether the connection closes after it — and nothing else (the head's bytes are
// forwarded as they came). Chunked bodies, upgrades and CONNECT are refused with a plain status: the
// bench sends GETs and its app answers with Content-Length.

export type RequestScan =
  { ok: true; bodyBytes: number; close: boolean; isHead: boolean } | { ok: false; status: 400 | 501; reason: string }

export type ResponseScan = { ok: true; status: number; bodyBytes: number; close: boolean; interim: boolean } | { ok: false; reason: string }

interface Fields {
  contentLength: number | undefined
  close: boolean
  keepAlive: boolean
  chunked: boolean
  upgrade: boolean
  error: string | undefined
}

function scanFields(lines: readonly string[]): Fields {
  const f: Fields = { contentLength: undefined, close: false, keepAlive: false, chunked: false, upgrade: false, error: undefined }
  for (let i = 1; i < lines.length; i++) {
    const line = lines[i]!
    const colon = line.indexOf(':')
    if (colon <= 0) {
      f.error = `malformed header line ${JSON.stringify(line.slice(0, 40))}`
      return f
    }
    const name = line.slice(0, colon).trim().toLowerCase()
    const value = line.slice(colon + 1).trim()
    if (name === 'content-length') {
      if (!/^\d{1,15}$/.test(value) || (f.contentLength !== undefined && f.contentLength !== Number(value))) {
        f.error = `bad content-length ${JSON.stringify(value.slice(0, 20))}`
        return f
      }
      f.contentLength = Number(value)
    } else if (name === 'transfer-encoding') f.chunked = true
    else if (name === 'upgrade') f.upgrade = true
    else if (name === 'connection') {
      for (const token of value.toLowerCase().split(',')) {
        const t = token.trim()
        if (t === 'close') f.close = true
        else if (t === 'keep-alive') f.keepAlive = true
        else if (t === 'upgrade') f.upgrade = true
      }
    }
  }
  return f
}

/** Scans a request head (its text up to, not including, the blank line). */
export function scanRequestHead(head: string): RequestScan {
  const lines = head.split('\r\n')
  const parts = lines[0]!.split(' ')
  if (parts.length !== 3 || parts[0] === '' || parts[1] === '' || !/^HTTP\/1\.[01]$/.test(parts[2]!))
    return { ok: false, status: 400, reason: `malformed request line ${JSON.stringify(lines[0]!.slice(0, 60))}` }
  const f = scanFields(lines)
  if (f.error !== undefined) return { ok: false, status: 400, reason: f.error }
  if (f.chunked)
    return { ok: false, status: 501, reason: 'the reference L7 hop does not forward chunked (transfer-encoding) request bodies' }
  if (f.upgrade) return { ok: false, status: 501, reason: 'the reference L7 hop does not forward upgrades' }
  if (parts[0] === 'CONNECT') return { ok: false, status: 501, reason: 'the reference L7 hop does not forward CONNECT' }
  const http10 = parts[2] === 'HTTP/1.0'
  return { ok: true, bodyBytes: f.contentLength ?? 0, close: f.close || (http10 && !f.keepAlive), isHead: parts[0] === 'HEAD' }
}

/** Scans a response head (up to, not including, the blank line) to a request that was HEAD or not. */
export function scanResponseHead(head: string, requestWasHead: boolean): ResponseScan {
  const lines = head.split('\r\n')
  const m = /^HTTP\/1\.([01]) (\d{3})(?: |$)/.exec(lines[0]!)
  if (m === null) return { ok: false, reason: `malformed status line ${JSON.stringify(lines[0]!.slice(0, 60))}` }
  const status = Number(m[2])
  const f = scanFields(lines)
  if (f.error !== undefined) return { ok: false, reason: f.error }
  if (status === 101) return { ok: false, reason: 'upgrade responses are not forwarded' }
  const close = f.close || (m[1] === '0' && !f.keepAlive)
  if (status < 200) return { ok: true, status, bodyBytes: 0, close: false, interim: true }
  if (requestWasHead || status === 204 || status === 304) return { ok: true, status, bodyBytes: 0, close, interim: false }
  if (f.chunked) return { ok: false, reason: 'chunked responses are not forwarded' }
  if (f.contentLength === undefined) return { ok: false, reason: 'a response without Content-Length is not forwarded' }
  return { ok: true, status, bodyBytes: f.contentLength, close, interim: false }
}
