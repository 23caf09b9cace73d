// The hand-encoded workload certificate (src/identity/leaf-certificate.ts, via the CA's signCsr) read
// back by an independent ASN.1 parser (@peculiar/x509) and by node:crypto: every extension byte for
// byte what @peculiar/x509 encodes for the same values (the generator the CA used before), and the
// CA's reading of requests @peculiar/x509 builds (src/identity/certification-request.ts, der.ts).
import 'reflect-metadata'
import t from 'tap'
import { X509Certificate } from 'node:crypto'
import * as x509 from '@peculiar/x509'
import { createCsr, crypto, CsrErrorCode, parseCsr } from '../../../src/identity/csr.js'
import { children, DerError, readOnly, readTlv, TAG } from '../../../src/identity/der.js'
import { SpiffeId } from '../../../src/identity/spiffe-id.js'
import { createTestPki } from '../../helpers/pki.js'

const alice = SpiffeId.parse('spiffe://cluster.local/ns/shop/sa/alice')
const HOUR = 3_600_000

const cases: { name: string; notBefore: number; dnsNames?: string[]; ipAddresses?: string[] }[] = [
  { name: 'a workload (UTCTime validity)', notBefore: Date.UTC(2030, 0, 1) },
  { name: 'a workload valid past 2050 (GeneralizedTime)', notBefore: Date.UTC(2050, 5, 1, 12, 30, 15) },
  {
    name: "istiod's serving certificate (DNS and IP SANs)",
    notBefore: Date.UTC(2030, 0, 1),
    dnsNames: ['istiod.istio-system.svc', 'istiod'],
    ipAddresses: ['127.0.0.1', '::1', 'fd00::12:0:1'],
  },
  {
    name: 'IPv6 SANs in short and long forms (all-zero, trailing ::, no ::)',
    notBefore: Date.UTC(2030, 0, 1),
    ipAddresses: ['::', '2001:db8::', 'fe80:0:0:0:1:2:3:4'],
  },
]

for (const c of cases) {
  t.test(`the CA's certificate for ${c.name} has exactly the extensions @peculiar/x509 encodes`, async (t) => {
    const pki = await createTestPki({ now: () => c.notBefore })
    t.teardown(() => pki.close())
    const { csrPem } = await createCsr(alice)
    const { certChainPem } = await pki.ca.signCsr(csrPem, {
      ttlMs: 2 * HOUR,
      ...(c.dnsNames ? { dnsNames: c.dnsNames } : {}),
      ...(c.ipAddresses ? { ipAddresses: c.ipAddresses } : {}),
    })
    const leafPem = certChainPem[0]!
    t.match(leafPem, /^-----BEGIN CERTIFICATE-----\n(?:[A-Za-z0-9+/=]{1,64}\n)+-----END CERTIFICATE-----\n$/)
    const leaf = new x509.X509Certificate(leafPem)
    const root = new x509.X509Certificate(pki.rootPem)
    t.ok(await leaf.verify({ publicKey: root.publicKey, signatureOnly: true }, crypto), 'signed by the root (@peculiar/x509)')
    t.ok(new X509Certificate(leafPem).verify(new X509Certificate(pki.rootPem).publicKey), 'signed by the root (node:crypto)')
    t.equal(leaf.subject, '', 'empty subject')
    t.equal(leaf.issuer, root.subject)
    t.same(
      Buffer.from(leaf.publicKey.rawData),
      Buffer.from(new x509.Pkcs10CertificateRequest(csrPem).publicKey.rawData),
      "the request's key",
    )
    t.equal(leaf.notBefore.getTime(), c.notBefore)
    t.equal(leaf.notAfter.getTime(), c.notBefore + 2 * HOUR)
    t.match(leaf.signatureAlgorithm, { name: 'ECDSA', hash: { name: 'SHA-256' } })
    const expected = [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyEncipherment, true),
      new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth, x509.ExtendedKeyUsage.clientAuth]),
      new x509.SubjectAlternativeNameExtension(
        [
          { type: 'url', value: alice.toString() },
          ...(c.dnsNames ?? []).map((value) => ({ type: 'dns' as const, value })),
          ...(c.ipAddresses ?? []).map((value) => ({ type: 'ip' as const, value })),
        ],
        true,
      ),
      await x509.AuthorityKeyIdentifierExtension.create(root.publicKey, false, crypto),
    ]
    t.same(
      leaf.extensions.map((e) => [e.type, e.critical, Buffer.from(e.rawData).toString('hex')]),
      expected.map((e) => [e.type, e.critical, Buffer.from(e.rawData).toString('hex')]),
    )
  })
}

// @peculiar/x509 encodes an IPv6 address with an embedded IPv4 tail wrongly (its dotted part read
// as hex groups), so these are checked against the octets themselves.
t.test('an iPAddress SAN is the 4 or 16 octets of the address, an embedded IPv4 tail included', async (t) => {
  const cases: [string, string][] = [
    ['10.1.2.3', '0a010203'],
    ['::ffff:10.1.2.3', '00000000000000000000ffff0a010203'],
    ['64:ff9b::192.0.2.33', '0064ff9b0000000000000000c0000221'],
    ['::1.2.3.4', '00000000000000000000000001020304'],
    ['fd00:1:2:3:4:5:6:7', 'fd000001000200030004000500060007'],
  ]
  const pki = await createTestPki()
  t.teardown(() => pki.close())
  const { csrPem } = await createCsr(alice)
  const { certChainPem } = await pki.ca.signCsr(csrPem, { ttlMs: HOUR, ipAddresses: cases.map(([ip]) => ip) })
  const san = new x509.X509Certificate(certChainPem[0]!).getExtension(x509.SubjectAlternativeNameExtension)!
  const names = children(readOnly(Buffer.from(san.value), TAG.sequence).content).filter((n) => n.tag === TAG.ip)
  t.same(
    names.map((n) => n.content.toString('hex')),
    cases.map(([, octets]) => octets),
  )
})

t.test('requests that @peculiar/x509 builds (ECDSA P-384, RSA) are read and verified', async (t) => {
  const algorithms = [
    { key: { name: 'ECDSA', namedCurve: 'P-384' }, signing: { name: 'ECDSA', hash: 'SHA-384' } },
    {
      key: { name: 'RSASSA-PKCS1-v1_5', modulusLength: 2048, publicExponent: new Uint8Array([1, 0, 1]), hash: 'SHA-256' },
      signing: { name: 'RSASSA-PKCS1-v1_5' },
    },
  ]
  for (const a of algorithms) {
    const keys = await crypto.subtle.generateKey(a.key, true, ['sign', 'verify'])
    const csr = await x509.Pkcs10CertificateRequestGenerator.create(
      {
        name: 'O=shop',
        keys,
        signingAlgorithm: a.signing,
        extensions: [
          new x509.SubjectAlternativeNameExtension(
            [
              { type: 'dns', value: 'x.example' },
              { type: 'url', value: alice.toString() },
            ],
            true,
          ),
        ],
      },
      crypto,
    )
    const parsed = await parseCsr(csr.toString('pem'))
    t.ok(parsed.identity.equals(alice), a.key.name)
    t.same(parsed.spki, Buffer.from(csr.publicKey.rawData))
  }
})

t.test('malformed DER is refused with the CSR code, never read past its end', async (t) => {
  const { csrPem } = await createCsr(alice)
  const body = Buffer.from(csrPem.replace(/-----[A-Z ]+-----|\n/g, ''), 'base64')
  const armour = (b: Buffer): string => `-----BEGIN CERTIFICATE REQUEST-----\n${b.toString('base64')}\n-----END CERTIFICATE REQUEST-----\n`
  for (const [name, bytes] of [
    ['truncated', body.subarray(0, body.length - 5)],
    ['trailing bytes', Buffer.concat([body, Buffer.from([0])])],
    ['empty', Buffer.alloc(0)],
    ['a length past the end', Buffer.from([0x30, 0x84, 0x7f, 0xff, 0xff, 0xff])],
  ] as const) {
    await t.rejects(parseCsr(armour(bytes)), { code: CsrErrorCode.invalid }, name)
  }
  for (const [name, bytes] of [
    ['indefinite length', [0x30, 0x80, 0x00, 0x00]],
    ['multi-byte tag', [0x1f, 0x01, 0x00]],
  ] as const) {
    let thrown: unknown
    try {
      readTlv(Buffer.from(bytes))
    } catch (err) {
      thrown = err
    }
    t.ok(thrown instanceof DerError, name)
  }
})
