// Bearer tokens as grpc-js Metadata: istiod's side reads the caller's token (`bearerToken`); tests
// and tools that call istiod through grpc-js build it (`bearerMetadata`). The proxies send the same
// headers through ./bearer-headers.ts, without grpc-js.
import { Metadata } from '@grpc/grpc-js'
import { AUTHORIZATION_HEADER, bearerHeaders } from './bearer-headers.js'

const PREFIX = /^bearer\s+/i

/** The token of the call, or undefined if there is none or the header is not a bearer token. */
export function bearerToken(metadata: Metadata): string | undefined {
  const values = metadata.get(AUTHORIZATION_HEADER)
  if (values.length !== 1 || typeof values[0] !== 'string') return undefined
  const value = values[0]
  if (!PREFIX.test(value)) return undefined
  const token = value.replace(PREFIX, '').trim()
  return token === '' ? undefined : token
}

/** The bearer token, plus any other headers the caller sends (Istio's proxies add `clusterid`). */
export function bearerMetadata(token: string, headers: Readonly<Record<string, string>> = {}): Metadata {
  const m = new Metadata()
  for (const [k, v] of Object.entries(bearerHeaders(token, headers))) m.set(k, v)
  return m
}
