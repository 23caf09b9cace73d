// `authorization: Bearer <token>` call metadata: how a node proxy authenticates to istiod's xDS
// and CA services (Istio: a Kubernetes service account token; here whatever the injected
// `authenticate` accepts).
import { Metadata } from '@grpc/grpc-js'

const HEADER = 'authorization'
const PREFIX = /^bearer\s+/i

/** The token of the call, or undefined if there is none or the header is not a bearer token. */
export function bearerToken(metadata: Metadata): string | undefined {
  const values = metadata.get(HEADER)
  if (values.length !== 1 || typeof values[0] !== 'string') return undefined
  const value = values[0]
  if (!PREFIX.test(value)) return undefined
  const token = value.replace(PREFIX, '').trim()
  return token === '' ? undefined : token
}

/** The bearer token, plus any other headers the caller sends (Istio's proxies add `clusterid`). */
export function bearerMetadata(token: string, headers: Readonly<Record<string, string>> = {}): Metadata {
  const m = new Metadata()
  for (const [k, v] of Object.entries(headers)) m.set(k, v)
  m.set(HEADER, `Bearer ${token}`)
  return m
}

/** A fixed token, or a function called on every connection (tokens rotate). */
export type TokenSource = string | (() => string | Promise<string>)

export async function resolveToken(source: TokenSource): Promise<string> {
  return typeof source === 'string' ? source : source()
}
