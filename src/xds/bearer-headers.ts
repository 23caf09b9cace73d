// `authorization: Bearer <token>` plus the proxy's other call metadata (Istio's proxies add
// `clusterid`): how a node proxy authenticates to istiod's xDS and CA services (Istio: a Kubernetes
// service account token; here whatever istiod's injected `authenticate` accepts). Plain headers, so
// that the proxies' client (grpc/) needs no gRPC library; bearer-token.ts reads them on
// istiod's side.

export const AUTHORIZATION_HEADER = 'authorization'

/** A fixed token, or a function called on every connection (tokens rotate). */
export type TokenSource = string | (() => string | Promise<string>)

export async function resolveToken(source: TokenSource): Promise<string> {
  return typeof source === 'string' ? source : source()
}

/** The call's metadata as headers (lower-case names); the bearer token wins over a given `authorization`. */
export function bearerHeaders(token: string, headers: Readonly<Record<string, string>> = {}): Record<string, string> {
  const out: Record<string, string> = {}
  for (const [k, v] of Object.entries(headers)) out[k.toLowerCase()] = v
  out[AUTHORIZATION_HEADER] = `Bearer ${token}`
  return out
}
