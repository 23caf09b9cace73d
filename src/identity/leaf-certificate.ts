// The workload certificate the mesh CA signs (X.509 v3, RFC 5280), DER-encoded by hand (der.ts) and
// signed with node:crypto: Istio's shape, an empty subject and the identity as a critical URI SAN,
// with basicConstraints CA:false (critical), keyUsage digitalSignature + keyEncipherment (critical),
// extKeyUsage serverAuth + clientAuth, and the issuer's key identifier. A ztunnel that is its own CA
// (local config) signs its pods' certificates with this and loads no ASN.1 library (issue 14, RSS).
// test/unit/identity/leaf-certificate.test.ts reads the result with @peculiar/x509 and compares each
// extension byte for byte with the one @peculiar/x509 encodes for the same values.
import { createHash, sign, type KeyObject, type X509Certificate } from 'node:crypto'
import { isIPv4, isIPv6 } from 'node:net'
import { children, der, derUnsignedInteger, expectTag, pem, readOnly, TAG } from './der.js'
import { OID_ECDSA_WITH_SHA256 } from './certification-request.js'

const OID = {
  basicConstraints: Buffer.from('0603551d13', 'hex'), // 2.5.29.19
  keyUsage: Buffer.from('0603551d0f', 'hex'), // 2.5.29.15
  extKeyUsage: Buffer.from('0603551d25', 'hex'), // 2.5.29.37
  subjectAltName: Buffer.from('0603551d11', 'hex'), // 2.5.29.17
  authorityKeyIdentifier: Buffer.from('0603551d23', 'hex'), // 2.5.29.35
  serverAuth: Buffer.from('06082b06010505070301', 'hex'), // 1.3.6.1.5.5.7.3.1
  clientAuth: Buffer.from('06082b06010505070302', 'hex'), // 1.3.6.1.5.5.7.3.2
} as const
const CRITICAL = Buffer.from('0101ff', 'hex')
const VERSION_3 = Buffer.from('a003020102', 'hex')
/** keyUsage digitalSignature (bit 0) + keyEncipherment (bit 2): one byte, 5 unused bits. */
const KEY_USAGE_BITS = Buffer.from('030205a0', 'hex')

export interface LeafCertificateRequest {
  /** The issuer's certificate (its subject becomes the issuer; its key identifies it) and private key (ECDSA P-256). */
  readonly issuer: X509Certificate
  readonly issuerKey: KeyObject
  /** The certified key's SubjectPublicKeyInfo, DER. */
  readonly spki: Buffer
  /** Serial number, hex (unsigned). */
  readonly serialHex: string
  readonly notBefore: Date
  readonly notAfter: Date
  readonly uris: readonly string[]
  readonly dnsNames?: readonly string[]
  readonly ipAddresses?: readonly string[]
}

/** The signed certificate, PEM (one block, ending in a newline). */
export function signLeafCertificate(req: LeafCertificateRequest): string {
  const algorithm = der(TAG.sequence, OID_ECDSA_WITH_SHA256)
  const names = [
    ...req.uris.map((u) => der(TAG.uri, Buffer.from(u, 'ascii'))),
    ...(req.dnsNames ?? []).map((d) => der(TAG.dns, Buffer.from(d, 'ascii'))),
    ...(req.ipAddresses ?? []).map((ip) => der(TAG.ip, ipBytes(ip))),
  ]
  const extensions = der(
    TAG.context3,
    der(
      TAG.sequence,
      extension(OID.basicConstraints, true, der(TAG.sequence)),
      extension(OID.keyUsage, true, KEY_USAGE_BITS),
      extension(OID.extKeyUsage, false, der(TAG.sequence, OID.serverAuth, OID.clientAuth)),
      extension(OID.subjectAltName, true, der(TAG.sequence, ...names)),
      extension(OID.authorityKeyIdentifier, false, der(TAG.sequence, der(0x80, keyIdentifier(req.issuer)))),
    ),
  )
  const tbs = der(
    TAG.sequence,
    VERSION_3,
    derUnsignedInteger(Buffer.from(req.serialHex.length % 2 ? `0${req.serialHex}` : req.serialHex, 'hex')),
    algorithm,
    subjectName(req.issuer),
    der(TAG.sequence, time(req.notBefore), time(req.notAfter)),
    der(TAG.sequence), // empty subject: the identity is the SAN
    req.spki,
    extensions,
  )
  const signature = sign('sha256', tbs, { key: req.issuerKey, dsaEncoding: 'der' })
  return pem('CERTIFICATE', der(TAG.sequence, tbs, algorithm, der(TAG.bitString, Buffer.from([0]), signature)))
}

function extension(oid: Buffer, critical: boolean, value: Buffer): Buffer {
  return der(TAG.sequence, oid, ...(critical ? [CRITICAL] : []), der(TAG.octetString, value))
}

/** The subject Name of a certificate, as encoded in it (TBSCertificate's sixth field, after the version). */
function subjectName(cert: X509Certificate): Buffer {
  const tbs = expectTag(children(readOnly(cert.raw, TAG.sequence).content)[0], TAG.sequence)
  const fields = children(tbs.content)
  const at = fields[0]?.tag === TAG.context0 ? 1 : 0
  return Buffer.from(expectTag(fields[at + 4], TAG.sequence).raw)
}

/** RFC 5280 4.2.1.2 method (1), as @peculiar/x509 computes it: SHA-1 of the subjectPublicKey bits. */
function keyIdentifier(cert: X509Certificate): Buffer {
  const spki = cert.publicKey.export({ type: 'spki', format: 'der' })
  const bits = expectTag(children(readOnly(spki, TAG.sequence).content)[1], TAG.bitString).content
  return createHash('sha1').update(bits.subarray(1)).digest()
}

/** UTCTime through 2049, GeneralizedTime from 2050 (RFC 5280 4.1.2.5); whole seconds, UTC. */
function time(d: Date): Buffer {
  const iso = d.toISOString() // YYYY-MM-DDTHH:MM:SS.sssZ
  const digits = `${iso.slice(0, 4)}${iso.slice(5, 7)}${iso.slice(8, 10)}${iso.slice(11, 13)}${iso.slice(14, 16)}${iso.slice(17, 19)}Z`
  const year = d.getUTCFullYear()
  return year < 2050 ? der(TAG.utcTime, Buffer.from(digits.slice(2), 'ascii')) : der(TAG.generalizedTime, Buffer.from(digits, 'ascii'))
}

/** An iPAddress SAN: 4 or 16 bytes. */
function ipBytes(ip: string): Buffer {
  if (isIPv4(ip)) return Buffer.from(ip.split('.').map(Number))
  if (!isIPv6(ip)) throw new Error(`not an IP address: ${ip}`)
  let text = ip
  const v4 = /(\d+\.\d+\.\d+\.\d+)$/.exec(text)
  if (v4 !== null) {
    const b = v4[1]!.split('.').map(Number)
    text = `${text.slice(0, -v4[1]!.length)}${((b[0]! << 8) | b[1]!).toString(16)}:${((b[2]! << 8) | b[3]!).toString(16)}`
  }
  const [head, tail] = text.split('::') as [string, string | undefined]
  const groups = (s: string | undefined): string[] => (s ? s.split(':') : [])
  const h = groups(head)
  const t = groups(tail)
  const all = tail === undefined ? h : [...h, ...Array<string>(8 - h.length - t.length).fill('0'), ...t]
  const out = Buffer.alloc(16)
  all.forEach((g, i) => out.writeUInt16BE(parseInt(g, 16), i * 2))
  return out
}
