// The PKCS#10 certification request (RFC 2986) a ztunnel sends to its CA for each local workload,
// DER-encoded by hand with node:crypto keys and signatures: an ECDSA P-256 key, an empty subject, and
// one requested extension, a critical subjectAltName whose URIs name the identity.
//
// Why not @peculiar/x509 (which parses CSRs on the CA side, csr.ts): loading it with its ASN.1
// schemas costs a process about 13 MB of resident memory (issue 14: a ztunnel fed by istiod needs
// nothing else from it). test/unit/identity/certification-request.test.ts parses each request with
// @peculiar/x509 and checks its self-signature, empty subject, critical SAN with exactly the identity's
// URIs and public key, and that the CA's own check (csr.ts) accepts it.
import { generateKeyPair, sign, type KeyObject } from 'node:crypto'
import { promisify } from 'node:util'
import type { SpiffeId } from './spiffe-id.js'

const generateKeyPairAsync = promisify(generateKeyPair)

// Pre-encoded object identifiers (tag, length, value).
const OID_EXTENSION_REQUEST = Buffer.from('06092a864886f70d01090e', 'hex') // 1.2.840.113549.1.9.14
const OID_SUBJECT_ALT_NAME = Buffer.from('0603551d11', 'hex') // 2.5.29.17
const OID_ECDSA_WITH_SHA256 = Buffer.from('06082a8648ce3d040302', 'hex') // 1.2.840.10045.4.3.2
const BOOLEAN_TRUE = Buffer.from('0101ff', 'hex')
const INTEGER_ZERO = Buffer.from('020100', 'hex')

/** DER tags. `attributes`: the request's [0] IMPLICIT (constructed); `uri`: GeneralName [6] IMPLICIT IA5String. */
const TAG = { sequence: 0x30, set: 0x31, octetString: 0x04, bitString: 0x03, attributes: 0xa0, uri: 0x86 } as const

/** One DER TLV; lengths in short form under 128, long form otherwise. */
export function der(tag: number, ...content: Buffer[]): Buffer {
  const body = Buffer.concat(content)
  const n = body.length
  let length: Buffer
  if (n < 0x80) length = Buffer.from([n])
  else {
    const bytes: number[] = []
    for (let v = n; v > 0; v = Math.floor(v / 256)) bytes.unshift(v & 0xff)
    length = Buffer.from([0x80 | bytes.length, ...bytes])
  }
  return Buffer.concat([Buffer.from([tag]), length, body])
}

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
  return der(TAG.sequence, INTEGER_ZERO, der(TAG.sequence), spki, der(TAG.attributes, ...extensions))
}

function pem(label: string, body: Buffer): string {
  const lines = body.toString('base64').match(/.{1,64}/g) ?? []
  return `-----BEGIN ${label}-----\n${lines.join('\n')}\n-----END ${label}-----\n`
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
