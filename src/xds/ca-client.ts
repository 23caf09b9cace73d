// ztunnel's side of istiod's CA: a CertificateSigner (src/identity/signer.ts) that sends the CSR
// to `IstioCertificateService/CreateCertificate` with the node's bearer token, asking on behalf of
// the workload (`ImpersonatedIdentity`), so the certificate manager can use istiod instead of an
// in-process CA. Refusals come back as coded errors (XDS_UNAUTHENTICATED, XDS_PERMISSION_DENIED,
// XDS_BAD_REQUEST); anything else is XDS_UNAVAILABLE, which the certificate manager retries.
import { Client } from '@grpc/grpc-js'
import type { ServiceError } from '@grpc/grpc-js'
import { AmbientError } from '../errors.js'
import type { CertificateSigner, SignRequest } from '../identity/signer.js'
import { bearerMetadata, resolveToken } from './bearer-token.js'
import type { TokenSource } from './bearer-token.js'
import { XdsErrorCode } from './errors.js'
import { channelCredentials } from './grpc-channel.js'
import type { ChannelTls } from './grpc-channel.js'
import type { CertificateResponse } from './grpc-definitions.js'
import { IMPERSONATED_IDENTITY, ISTIO_CERTIFICATE_SERVICE } from './grpc-definitions.js'
import { fromGrpcError } from './grpc-status.js'

export interface CaClientOptions {
  /** istiod's `host:port`. */
  readonly target: string
  readonly tls: ChannelTls
  readonly token: TokenSource
  /** Per-call deadline. Default 10 s. */
  readonly timeoutMs?: number
  /** Extra call metadata next to the bearer token (Istio's ztunnel: `clusterid`). */
  readonly headers?: Readonly<Record<string, string>>
}

export interface CaClient extends CertificateSigner {
  close(): void
}

export function createCaClient(options: CaClientOptions): CaClient {
  const client = new Client(options.target, channelCredentials(options.tls))
  const method = ISTIO_CERTIFICATE_SERVICE.CreateCertificate
  return {
    async sign(req: SignRequest) {
      const metadata = bearerMetadata(await resolveToken(options.token), options.headers)
      const request = {
        csr: req.csrPem,
        // Whole seconds, rounded up so that a requested lifetime is never shortened.
        validityDuration: Math.ceil(req.ttlMs / 1000),
        metadata: { fields: { [IMPERSONATED_IDENTITY]: { stringValue: req.identity.toString() } } },
      }
      const res = await new Promise<CertificateResponse>((resolve, reject) => {
        client.makeUnaryRequest(
          method.path,
          method.requestSerialize,
          method.responseDeserialize,
          request,
          metadata,
          { deadline: Date.now() + (options.timeoutMs ?? 10_000) },
          (err: ServiceError | null, value?: CertificateResponse) => {
            if (err) reject(fromGrpcError(err, `CreateCertificate for ${req.identity}`))
            else resolve(value ?? {})
          },
        )
      })
      const chain = res.certChain ?? []
      if (chain.length === 0)
        throw new AmbientError(XdsErrorCode.unavailable, `CreateCertificate for ${req.identity}: empty certificate chain`, {
          side: 'upstream',
        })
      return { certChainPem: chain }
    },
    close() {
      client.close()
    },
  }
}
