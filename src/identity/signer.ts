// Where the certificate manager gets certificates from. Today the in-process mesh CA; later istiod's
// gRPC CA service (istio.v1.auth.IstioCertificateService/CreateCertificate), whose answer has the
// same shape: the chain leaf first, root last.
import type { MeshCa } from './ca.js'
import type { SpiffeId } from './spiffe-id.js'

export interface SignRequest {
  readonly csrPem: string
  readonly ttlMs: number
  /** Who is asking: a remote CA authenticates this (ztunnel impersonates its local workloads). */
  readonly identity: SpiffeId
}

export interface CertificateSigner {
  sign(req: SignRequest): Promise<{ certChainPem: string[] }>
}

/** The in-process CA as a signer; the CSR must name exactly the requested identity. */
export function caSigner(ca: Pick<MeshCa, 'signCsr'>): CertificateSigner {
  return {
    sign: (req) => ca.signCsr(req.csrPem, { ttlMs: req.ttlMs, expectedIdentity: req.identity }),
  }
}
