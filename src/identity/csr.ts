// Key pairs and PKCS#10 certificate requests for workload identities: what ztunnel sends to the CA
// (an ECDSA P-256 key and a CSR whose only identity is the SPIFFE ID as a URI SAN), and the CA's
// check of one.
import 'reflect-metadata' // @peculiar/x509's ASN.1 schema decorators need it loaded first
import { webcrypto } from 'node:crypto'
import * as x509 from '@peculiar/x509'
import { AmbientError } from '../errors.js'
import { SpiffeId } from './spiffe-id.js'

// Passed explicitly to every @peculiar/x509 call rather than set on its global provider.
export const crypto = webcrypto

const SUBJECT_ALT_NAME_OID = '2.5.29.17'

export const EC_KEY = { name: 'ECDSA', namedCurve: 'P-256' } as const
export const SIGNING = { name: 'ECDSA', hash: 'SHA-256' } as const

export const CsrErrorCode = {
  invalid: 'IDENTITY_CSR_INVALID',
} as const

export async function exportKeyPem(key: webcrypto.CryptoKey): Promise<string> {
  const der = await crypto.subtle.exportKey('pkcs8', key)
  return `${x509.PemConverter.encode(der, 'PRIVATE KEY')}\n`
}

export async function importKeyPem(pem: string): Promise<webcrypto.CryptoKey> {
  return crypto.subtle.importKey('pkcs8', x509.PemConverter.decodeFirst(pem), EC_KEY, false, ['sign'])
}

// Building a CSR needs no ASN.1 library (certification-request.ts); callers that only build one (the
// certificate manager) import it from there, so that this module's library is loaded only to parse.
export { createCsr } from './certification-request.js'

export interface ParsedCsr {
  readonly identity: SpiffeId
  readonly publicKey: x509.PublicKey
}

/**
 * Parses and checks a CSR: the signature must verify (proof of possession of the key), and it must
 * carry exactly one URI SAN that is an Istio SPIFFE ID. Anything else is the requester's fault.
 */
export async function parseCsr(csrPem: string): Promise<ParsedCsr> {
  let csr: x509.Pkcs10CertificateRequest
  try {
    csr = new x509.Pkcs10CertificateRequest(csrPem)
  } catch (err) {
    throw invalid('CSR does not parse', err)
  }
  let signatureOk: boolean
  try {
    signatureOk = await csr.verify(crypto)
  } catch (err) {
    throw invalid('CSR signature cannot be checked', err)
  }
  if (!signatureOk) throw invalid('CSR signature does not verify')
  const uris: string[] = []
  for (const ext of csr.getExtensions(SUBJECT_ALT_NAME_OID)) {
    const san = new x509.SubjectAlternativeNameExtension(ext.rawData)
    for (const name of san.names.items) if (name.type === 'url') uris.push(name.value)
  }
  if (uris.length !== 1) throw invalid(`CSR must carry exactly one URI SAN, found ${uris.length}`, undefined, { uris })
  let identity: SpiffeId
  try {
    identity = SpiffeId.parse(uris[0]!)
  } catch (err) {
    throw invalid(`CSR URI SAN "${uris[0]}" is not a SPIFFE ID`, err)
  }
  return { identity, publicKey: csr.publicKey }
}

function invalid(message: string, cause?: unknown, details?: Record<string, unknown>): AmbientError {
  return new AmbientError(CsrErrorCode.invalid, message, { side: 'downstream', cause, ...(details ? { details } : {}) })
}
