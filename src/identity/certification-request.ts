// The PKCS#10 certification request (RFC 2986) a ztunnel sends to its CA for each local workload,
// DER-encoded by hand with node:crypto keys and signatures (der.ts): an ECDSA P-256 key, an empty
// subject, and one requested extension, a critical subjectAltName whose URIs name the identity; and
// the CA's reading of any request (parseCertificationRequest): its signature checked against its own
// key, and the URIs of its requested subjectAltName.
//
// Why not @peculiar/x509: loading it with its ASN.1 schemas costs a process about 10-13 MB of
// resident memory (issue 14). test/unit/identity/certification-request.test.ts parses each request
// with @peculiar/x509 and checks its self-signature, empty subject, critical SAN with exactly the
// identity's URIs and public key, and that the CA's own check (csr.ts) accepts it; requests built by
// @peculiar/x509 are read back here.
import { createPublicKey, generateKeyPair, sign, verify, type KeyObject } from 'node:crypto'
import { promisify } from 'node:util'
import type { SpiffeId } from './spiffe-id.js'
import { children, der, DerError, expectTag, pem, pemBody, readOnly, TAG } from './der.js'

const generateKeyPairAsync = promisify(generateKeyPair)

// Pre-encoded object identifiers (tag, length, value).
const OID_EXTENSION_REQUEST = Buffer.from('06092a864886f70d01090e', 'hex') // 1.2.840.113549.1.9.14
const OID_SUBJECT_ALT_NAME = Buffer.from('0603551d11', 'hex') // 2.5.29.17
export const OID_ECDSA_WITH_SHA256 = Buffer.from('06082a8648ce3d040302', 'hex') // 1.2.840.10045.4.3.2
const BOOLEAN_TRUE = Buffer.from('0101ff', 'hex')
const INTEGER_ZERO = Buffer.from('020100', 'hex')

/** The hash of each signature algorithm a request may be signed with (null: the key's own, Ed25519). */
const SIGNATURE_HASH: ReadonlyMap<string, string | null> = new Map([
  ['06082a8648ce3d040302', 'sha256'], // ecdsa-with-SHA256
  ['06082a8648ce3d040303', 'sha384'], // ecdsa-with-SHA384
  ['06082a8648ce3d040304', 'sha512'], // ecdsa-with-SHA512
  ['06092a864886f70d01010b', 'sha256'], // sha256WithRSAEncryption
  ['06092a864886f70d01010c', 'sha384'], // sha384WithRSAEncryption
  ['06092a864886f70d01010d', 'sha512'], // sha512WithRSAEncryption
  ['06032b6570', null], // Ed25519
])

/** CertificationRequestInfo for `publicKey` asking for a critical subjectAltName of `uris` (none: no attribute content). */
function requestInfo(publicKey: KeyObject, uris: readonly string[]): Buffer {
  const spki = publicKey.export({ type: 'spki', format: 'der' })
  const extensions =
    uris.length === 0
      ? []
      : [
          der(
            TAG.sequence,
            OID_EXTENSION_REQUEST,
            der(
              TAG.set,
              der(
                TAG.sequence,
                der(
                  TAG.sequence,
                  OID_SUBJECT_ALT_NAME,
                  BOOLEAN_TRUE,
                  der(TAG.octetString, der(TAG.sequence, ...uris.map((u) => der(TAG.uri, Buffer.from(u, 'ascii'))))),
                ),
              ),
            ),
          ),
        ]
  return der(TAG.sequence, INTEGER_ZERO, der(TAG.sequence), spki, der(TAG.context0, ...extensions))
}

/**
 * A fresh key and a CSR for `identity`. `extraUris` exists so tests can build the malformed
 * requests a CA must refuse (two URI SANs, foreign trust domain, none at all with `[]` and
 * `omitIdentity`).
 */
export async function createCsr(
  identity: SpiffeId,
  options: { extraUris?: readonly string[]; omitIdentity?: boolean } = {},
): Promise<{ csrPem: string; keyPem: string }> {
  const { publicKey, privateKey } = await generateKeyPairAsync('ec', { namedCurve: 'P-256' })
  const uris = [...(options.omitIdentity ? [] : [identity.toString()]), ...(options.extraUris ?? [])]
  const info = requestInfo(publicKey, uris)
  const signature = sign('sha256', info, { key: privateKey, dsaEncoding: 'der' })
  const csr = der(TAG.sequence, info, der(TAG.sequence, OID_ECDSA_WITH_SHA256), der(TAG.bitString, Buffer.from([0]), signature))
  const keyPem = privateKey.export({ type: 'pkcs8', format: 'pem' }).toString()
  return { csrPem: pem('CERTIFICATE REQUEST', csr), keyPem: keyPem.endsWith('\n') ? keyPem : `${keyPem}\n` }
}

/** What the CA reads from a request: the key it certifies and the URIs it asks for. */
export interface CertificationRequestContent {
  /** SubjectPublicKeyInfo, DER, as it appears in the request (and will in the certificate). */
  readonly spki: Buffer
  readonly publicKey: KeyObject
  /** The URIs of the requested subjectAltName extension, in order (none when it asks for no SAN). */
  readonly uris: string[]
  /** Whether the request's signature verifies with the key it carries (proof of possession). */
  readonly signatureValid: boolean
}

/**
 * Reads a PEM request and checks its signature with the key it carries (proof of possession).
 * Throws DerError for what is not a well-formed request.
 */
export function parseCertificationRequest(csrPem: string): CertificationRequestContent {
  const [info, algorithm, signature] = children(readOnly(pemBody(csrPem, 'CERTIFICATE REQUEST'), TAG.sequence).content)
  const [version, subject, spki, attributes] = children(expectTag(info, TAG.sequence).content)
  expectTag(version, TAG.integer)
  expectTag(subject, TAG.sequence)
  expectTag(spki, TAG.sequence)
  const oid = children(expectTag(algorithm, TAG.sequence).content)[0]
  const hash = SIGNATURE_HASH.get(expectTag(oid, TAG.oid).raw.toString('hex'))
  if (hash === undefined) throw new DerError(`unsupported signature algorithm ${oid!.raw.toString('hex')}`)
  const bits = expectTag(signature, TAG.bitString).content
  if (bits[0] !== 0) throw new DerError('signature is not a whole number of bytes')
  let publicKey: KeyObject
  try {
    publicKey = createPublicKey({ key: spki!.raw, format: 'der', type: 'spki' })
  } catch (err) {
    throw new DerError(`unreadable public key: ${String(err)}`)
  }
  return {
    signatureValid: verify(hash, info!.raw, publicKey, bits.subarray(1)),
    spki: Buffer.from(spki!.raw),
    publicKey,
    uris: attributes === undefined ? [] : requestedUris(expectTag(attributes, TAG.context0)),
  }
}

/** The URIs of the subjectAltName in the request's extensionRequest attribute. */
function requestedUris(attributes: { content: Buffer }): string[] {
  const uris: string[] = []
  for (const attribute of children(attributes.content)) {
    const [type, values] = children(expectTag(attribute, TAG.sequence).content)
    if (!expectTag(type, TAG.oid).raw.equals(OID_EXTENSION_REQUEST)) continue
    for (const extensions of children(expectTag(values, TAG.set).content)) {
      for (const extension of children(expectTag(extensions, TAG.sequence).content)) {
        const fields = children(expectTag(extension, TAG.sequence).content)
        if (!expectTag(fields[0], TAG.oid).raw.equals(OID_SUBJECT_ALT_NAME)) continue
        const value = expectTag(fields[fields.length - 1], TAG.octetString).content
        for (const name of children(readOnly(value, TAG.sequence).content))
          if (name.tag === TAG.uri) uris.push(name.content.toString('ascii'))
      }
    }
  }
  return uris
}
