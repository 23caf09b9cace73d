// istiod's side of the bearer token: the caller's token from the request headers of a call
// (./grpc-server-call.ts). The proxies send it through ./bearer-headers.ts.
import { AUTHORIZATION_HEADER } from './bearer-headers.js'
import type { GrpcFields } from './grpc/status.js'

const PREFIX = /^bearer\s+/i

/** The token of the call, or undefined if there is none, more than one, or the header is not a bearer token. */
export function bearerToken(metadata: GrpcFields): string | undefined {
  const value = metadata[AUTHORIZATION_HEADER]
  if (typeof value !== 'string') return undefined
  if (!PREFIX.test(value)) return undefined
  const token = value.replace(PREFIX, '').trim()
  return token === '' ? undefined : token
}
