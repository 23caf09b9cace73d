// How a proxy trusts istiod's 15012: the mesh root, and an optional check of the server's identity.
// Node's default hostname check is replaced: the local cluster dials 127.0.0.1 while istiod's
// certificate names `spiffe://<td>/ns/istio-system/sa/istiod` (or a DNS name), so the check
// compares SANs with what the caller expects instead. Shared by our node:http2 client
// (grpc/session.ts) and the grpc-js credentials of the tests that call istiod through grpc-js (test/helpers/grpc-js-channel.ts).
import type { PeerCertificate } from 'node:tls'

export interface ChannelTls {
  /** Trust anchor(s) for istiod's certificate (PEM). */
  readonly rootCertPem: string
  /**
   * A URI (SPIFFE ID), DNS or IP SAN istiod's certificate must carry (Istio's ztunnel checks the
   * host it dials: `istiod.istio-system.svc`). Absent: any certificate that
   * chains to the root is accepted (the mesh CA signs only mesh identities).
   */
  readonly serverIdentity?: string
  /** Our own certificate, when we have one (mutual TLS is optional on 15012). */
  readonly clientCert?: { readonly certChainPem: string; readonly keyPem: string }
}

/** A `checkServerIdentity` for tls.connect: undefined when istiod's certificate names `expected`. */
export function serverIdentityCheck(expected: string | undefined): (host: string, cert: PeerCertificate) => Error | undefined {
  return (_host, cert) => {
    if (expected === undefined) return undefined
    const sans = (cert.subjectaltname ?? '').split(', ').map((s) => s.replace(/^(URI|DNS|IP Address):/, ''))
    return sans.includes(expected)
      ? undefined
      : new Error(`istiod certificate does not name ${expected} (SANs: ${cert.subjectaltname ?? 'none'})`)
  }
}
