// grpc-js credentials and bearer metadata for istiod's 15012, for the tests that call istiod through
// grpc-js (an independent client; the proxies use src/xds/grpc on node:http2): the same trust
// and server-identity check, the same headers.
import { credentials, Metadata } from '@grpc/grpc-js'
import type { ChannelCredentials } from '@grpc/grpc-js'
import { bearerHeaders } from '../../src/xds/bearer-headers.js'
import { serverIdentityCheck, type ChannelTls } from '../../src/xds/channel-tls.js'

export function channelCredentials(tls: ChannelTls): ChannelCredentials {
  return credentials.createSsl(
    Buffer.from(tls.rootCertPem),
    tls.clientCert ? Buffer.from(tls.clientCert.keyPem) : null,
    tls.clientCert ? Buffer.from(tls.clientCert.certChainPem) : null,
    { checkServerIdentity: serverIdentityCheck(tls.serverIdentity) },
  )
}

/** The bearer token, plus any other headers the caller sends (Istio's proxies add `clusterid`). */
export function bearerMetadata(token: string, headers: Readonly<Record<string, string>> = {}): Metadata {
  const m = new Metadata()
  for (const [k, v] of Object.entries(bearerHeaders(token, headers))) m.set(k, v)
  return m
}
