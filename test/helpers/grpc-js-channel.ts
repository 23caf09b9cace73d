// grpc-js credentials for istiod's 15012, for the tests that call istiod through grpc-js (an
// independent client; the proxies use src/xds/grpc-client on node:http2): the same trust and
// server-identity check.
import { credentials } from '@grpc/grpc-js'
import type { ChannelCredentials } from '@grpc/grpc-js'
import { serverIdentityCheck, type ChannelTls } from '../../src/xds/channel-tls.js'

export function channelCredentials(tls: ChannelTls): ChannelCredentials {
  return credentials.createSsl(
    Buffer.from(tls.rootCertPem),
    tls.clientCert ? Buffer.from(tls.clientCert.keyPem) : null,
    tls.clientCert ? Buffer.from(tls.clientCert.certChainPem) : null,
    { checkServerIdentity: serverIdentityCheck(tls.serverIdentity) },
  )
}
