// The workload credential every other module consumes (HBONE client and server, config dumps), and
// read-only helpers over PEM certificates. node:crypto's X509Certificate is enough for reading; only
// issuing needs @peculiar/x509 (see ca.ts).
import { X509Certificate } from 'node:crypto'
import { AmbientError } from '../errors.js'
import { SpiffeId } from './spiffe-id.js'

export interface WorkloadCertificate {
  readonly identity: SpiffeId
  readonly keyPem: string // PKCS#8 private key
  readonly certChainPem: readonly string[] // leaf first, intermediates, WITHOUT the root
  readonly rootsPem: readonly string[] // trust anchors
  readonly notBefore: Date
  readonly notAfter: Date
  readonly serialNumber: string // hex
}

export const CertificateErrorCode = {
  pemInvalid: 'IDENTITY_PEM_INVALID',
  sanInvalid: 'IDENTITY_SAN_INVALID',
  chainInvalid: 'IDENTITY_CHAIN_INVALID',
} as const

const PEM_BLOCK = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g

/** Splits a PEM bundle into one PEM string per certificate, in order; each one must parse. */
export function parsePemChain(pem: string): string[] {
  const blocks = [...pem.matchAll(PEM_BLOCK)].map((m) => `${m[0].trim()}\n`)
  if (blocks.length === 0) throw new AmbientError(CertificateErrorCode.pemInvalid, 'no PEM certificate found', { side: 'config' })
  blocks.forEach((b) => toX509(b))
  return blocks
}

export function toX509(cert: X509Certificate | string): X509Certificate {
  if (cert instanceof X509Certificate) return cert
  try {
    return new X509Certificate(cert)
  } catch (err) {
    throw new AmbientError(CertificateErrorCode.pemInvalid, 'certificate does not parse', { side: 'config', cause: err })
  }
}

/** Every URI SAN of the certificate, verbatim. */
export function uriSans(cert: X509Certificate | string): string[] {
  const text = toX509(cert).subjectAltName
  if (!text) return []
  // Node renders SANs as `URI:a, DNS:b`; values containing ", " would be JSON-quoted, which a
  // SPIFFE ID (restricted alphabet) never is, so a plain split is exact for what we look for.
  return text
    .split(', ')
    .filter((entry) => entry.startsWith('URI:'))
    .map((entry) => entry.slice('URI:'.length))
}

/** The URI SANs that are well-formed Istio SPIFFE IDs; others are ignored. */
export function spiffeIdentities(cert: X509Certificate | string): SpiffeId[] {
  const ids: SpiffeId[] = []
  for (const uri of uriSans(cert)) {
    if (!uri.startsWith('spiffe://')) continue
    try {
      ids.push(SpiffeId.parse(uri))
    } catch {
      // a foreign or malformed SPIFFE URI names nobody we know: skip it
    }
  }
  return ids
}

/** The one identity of a workload certificate: exactly one URI SAN, and a valid SPIFFE ID. */
export function certificateIdentity(cert: X509Certificate | string): SpiffeId {
  const uris = uriSans(cert)
  if (uris.length !== 1) {
    throw new AmbientError(CertificateErrorCode.sanInvalid, `expected exactly one URI SAN, found ${uris.length}`, {
      side: 'downstream',
      details: { uris },
    })
  }
  try {
    return SpiffeId.parse(uris[0]!)
  } catch (err) {
    throw new AmbientError(CertificateErrorCode.sanInvalid, `URI SAN "${uris[0]}" is not a SPIFFE ID`, { side: 'downstream', cause: err })
  }
}

/** Normalises node's colon-less uppercase hex to lowercase hex, as istioctl prints serials. */
export function serialHex(cert: X509Certificate): string {
  return cert.serialNumber.toLowerCase()
}

/** Builds the credential from what a CA returned (leaf first, root last) and the private key. */
export function workloadCertificate(parts: {
  keyPem: string
  chainPem: readonly string[]
  rootsPem?: readonly string[]
}): WorkloadCertificate {
  const chain = parts.chainPem.flatMap((pem) => parsePemChain(pem))
  if (chain.length === 0) throw new AmbientError(CertificateErrorCode.chainInvalid, 'empty certificate chain')
  // Istio's CreateCertificate answers leaf, intermediates, root; without explicit roots the last
  // self-signed certificate is the trust anchor and is kept out of the presented chain.
  let certChain: string[]
  let roots = parts.rootsPem ? parts.rootsPem.flatMap((pem) => parsePemChain(pem)) : []
  if (roots.length === 0) {
    const last = toX509(chain[chain.length - 1]!)
    if (chain.length < 2 || !last.checkIssued(last))
      throw new AmbientError(CertificateErrorCode.chainInvalid, 'chain does not end with a root certificate')
    certChain = chain.slice(0, -1)
    roots = [chain[chain.length - 1]!]
  } else {
    certChain = chain.filter((pem) => !roots.includes(pem))
  }
  const leaf = toX509(certChain[0]!)
  return Object.freeze({
    identity: certificateIdentity(leaf),
    keyPem: parts.keyPem,
    certChainPem: Object.freeze(certChain),
    rootsPem: Object.freeze(roots),
    notBefore: new Date(leaf.validFrom),
    notAfter: new Date(leaf.validTo),
    serialNumber: serialHex(leaf),
  })
}

/**
 * Checks that the chain (leaf first) links by signature up to one of the roots and that every
 * certificate is valid at `atMs`. Returns the failure reason, or undefined when it verifies.
 */
export function chainProblem(chainPem: readonly string[], rootsPem: readonly string[], atMs: number): string | undefined {
  const chain = chainPem.map((pem) => toX509(pem))
  const roots = rootsPem.map((pem) => toX509(pem))
  if (chain.length === 0) return 'empty chain'
  for (const c of [...chain, ...roots]) {
    if (atMs < Date.parse(c.validFrom)) return `certificate ${serialHex(c)} is not yet valid`
    if (atMs > Date.parse(c.validTo)) return `certificate ${serialHex(c)} has expired`
  }
  for (let i = 0; i + 1 < chain.length; i++) {
    if (!signedBy(chain[i]!, chain[i + 1]!)) return `certificate ${i} is not signed by certificate ${i + 1}`
  }
  const top = chain[chain.length - 1]!
  return roots.some((root) => signedBy(top, root)) ? undefined : 'chain does not lead to a trusted root'
}

function signedBy(child: X509Certificate, issuer: X509Certificate): boolean {
  return child.checkIssued(issuer) && child.verify(issuer.publicKey)
}

export type CertificateState = 'Available' | 'NotYetValid' | 'Expired'

export interface CertificateInfo {
  readonly identity: string
  readonly state: string
  readonly serialNumber: string
  readonly validFrom: string // RFC 3339
  readonly expirationTime: string // RFC 3339
}

/** A config-dump row in the spirit of ztunnel's `certificates` section. */
export function certificateInfo(cert: WorkloadCertificate, nowMs: number = Date.now(), state?: string): CertificateInfo {
  const derived: CertificateState =
    nowMs < cert.notBefore.getTime() ? 'NotYetValid' : nowMs > cert.notAfter.getTime() ? 'Expired' : 'Available'
  return {
    identity: cert.identity.toString(),
    state: state ?? derived,
    serialNumber: cert.serialNumber,
    validFrom: cert.notBefore.toISOString(),
    expirationTime: cert.notAfter.toISOString(),
  }
}
