// ztunnel's side of istiod's CA: a CertificateSigner (src/identity/signer.ts) that sends the CSR
// to `IstioCertificateService/CreateCertificate` with the node's bearer token, asking on behalf of
// the workload (`ImpersonatedIdentity`), so the certificate manager can use istiod instead of an
// in-process CA. Refusals come back as coded errors (XDS_UNAUTHENTICATED, XDS_PERMISSION_DENIED,
// XDS_BAD_REQUEST); anything else is XDS_UNAVAILABLE, which the certificate manager retries.
// The call runs on node:http2 (./grpc/), one connection kept while it lasts.
import type { ClientHttp2Session } from 'node:http2'
import { AmbientError, errorMessage } from '../errors.js'
import type { CertificateSigner, SignRequest } from '../identity/signer.js'
import { bearerHeaders, resolveToken } from './bearer-headers.js'
import type { TokenSource } from './bearer-headers.js'
import type { ChannelTls } from './channel-tls.js'
import { XdsErrorCode } from './errors.js'
import { GrpcCode } from './grpc/codes.js'
import { openSession } from './grpc/session.js'
import { statusError } from './grpc/status.js'
import { GrpcStatusError, unaryCall } from './grpc/unary.js'
import { IMPERSONATED_IDENTITY, ISTIO_CERTIFICATE_SERVICE } from './grpc-definitions.js'

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
  const method = ISTIO_CERTIFICATE_SERVICE.CreateCertificate
  let session: ClientHttp2Session | undefined
  let closed = false

  /** The open connection, or a new one (after a failure, the next call reconnects). */
  function connection(): ClientHttp2Session {
    if (session !== undefined && !session.closed && !session.destroyed) return session
    const s = openSession(options.target, options.tls)
    s.on('error', () => undefined) // the call on it reports the failure
    s.on('close', () => {
      if (session === s) session = undefined
    })
    s.on('goaway', () => {
      if (session === s) session = undefined
    })
    session = s
    return s
  }

  return {
    async sign(req: SignRequest) {
      const what = `CreateCertificate for ${req.identity}`
      const metadata = bearerHeaders(await resolveToken(options.token), options.headers)
      if (closed) throw statusError({ code: GrpcCode.UNAVAILABLE, details: 'client closed' }, what)
      const request = method.requestSerialize({
        csr: req.csrPem,
        // Whole seconds, rounded up so that a requested lifetime is never shortened.
        validityDuration: Math.ceil(req.ttlMs / 1000),
        metadata: { fields: { [IMPERSONATED_IDENTITY]: { stringValue: req.identity.toString() } } },
      })
      let res
      try {
        const bytes = await unaryCall(connection(), { path: method.path, metadata, timeoutMs: options.timeoutMs ?? 10_000 }, request)
        res = method.responseDeserialize(bytes)
      } catch (err) {
        if (err instanceof GrpcStatusError) throw statusError(err.status, what)
        throw statusError({ code: GrpcCode.INTERNAL, details: `response does not decode: ${errorMessage(err)}`, cause: err }, what)
      }
      const chain = res.certChain ?? []
      if (chain.length === 0)
        throw new AmbientError(XdsErrorCode.unavailable, `${what}: empty certificate chain`, {
          side: 'upstream',
        })
      return { certChainPem: chain }
    },
    close() {
      closed = true
      session?.close()
      session = undefined
    },
  }
}
