// Key pairs and PKCS#10 certificate requests for workload identities: what ztunnel sends to the CA
// (an ECDSA P-256 key and a CSR whose only identity is the SPIFFE ID as a URI SAN), and the CA's
// check of one. Both are DER by hand (certification-request.ts): no ASN.1 library is loaded.
import { webcrypto, type KeyObject } from 'node:crypto'
import { AmbientError } from '../errors.js'
import { parseCertificationRequest } from './certification-request.js'
import { SpiffeId } from './spiffe-id.js'

// WebCrypto, for the callers (tests, the root's creation) that hand it to @peculiar/x509.
export const crypto = webcrypto

export const EC_KEY = { name: 'ECDSA', namedCurve: 'P-256' } as const
export const SIGNING = { name: 'ECDSA', hash: 'SHA-256' } as const

export const CsrErrorCode = {
  invalid: 'IDENTITY_CSR_INVALID',
} as const

export { createCsr } from './certification-request.js'

export interface ParsedCsr {
  readonly identity: SpiffeId
  readonly publicKey: KeyObject
  /** The request's SubjectPublicKeyInfo (DER), copied into the certificate. */
  readonly spki: Buffer
}

/**
 * Parses and checks a CSR: the signature must verify (proof of possession of the key), and it must
 * carry exactly one URI SAN that is an Istio SPIFFE ID. Anything else is the requester's fault.
 */
export async function parseCsr(csrPem: string): Promise<ParsedCsr> {
  let csr: ReturnType<typeof parseCertificationRequest>
  try {
    csr = parseCertificationRequest(csrPem)
  } catch (err) {
    throw invalid('CSR does not parse', err)
  }
  if (!csr.signatureValid) throw invalid('CSR signature does not verify')
  const uris = csr.uris
  if (uris.length !== 1) throw invalid(`CSR must carry exactly one URI SAN, found ${uris.length}`, undefined, { uris })
  let identity: SpiffeId
  try {
    identity = SpiffeId.parse(uris[0]!)
  } catch (err) {
    throw invalid(`CSR URI SAN "${uris[0]}" is not a SPIFFE ID`, err)
  }
  return { identity, publicKey: csr.publicKey, spki: csr.spki }
}

function invalid(message: string, cause?: unknown, details?: Record<string, unknown>): AmbientError {
  return new AmbientError(CsrErrorCode.invalid, message, { side: 'downstream', cause, ...(details ? { details } : {}) })
}
