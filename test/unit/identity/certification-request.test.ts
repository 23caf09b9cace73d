// The hand-encoded PKCS#10 request (src/identity/certification-request.ts) read back by an
// independent ASN.1 parser (@peculiar/x509) and by the CA's own check (parseCsr): same fields as
// the generator it replaced, a signature that verifies, the key that signed it.
import 'reflect-metadata'
import t from 'tap'
import { createPrivateKey, createPublicKey } from 'node:crypto'
import * as x509 from '@peculiar/x509'
import { createCsr } from '../../../src/identity/certification-request.js'
import { der } from '../../../src/identity/der.js'
import { CsrErrorCode, crypto, parseCsr } from '../../../src/identity/csr.js'
import { SpiffeId } from '../../../src/identity/spiffe-id.js'

const alice = SpiffeId.parse('spiffe://cluster.local/ns/shop/sa/alice')
const SAN = '2.5.29.17'

t.test('DER lengths: short form under 128 bytes, long form from 128 on', async (t) => {
  t.same([...der(0x04, Buffer.alloc(0))], [0x04, 0x00])
  t.same([...der(0x04, Buffer.alloc(127)).subarray(0, 2)], [0x04, 0x7f])
  t.same([...der(0x04, Buffer.alloc(128)).subarray(0, 3)], [0x04, 0x81, 0x80])
  t.same([...der(0x04, Buffer.alloc(300)).subarray(0, 4)], [0x04, 0x82, 0x01, 0x2c])
  t.equal(der(0x30, Buffer.alloc(70_000)).length, 70_000 + 5, '3 length bytes')
})

const cases: { name: string; options: { extraUris?: string[]; omitIdentity?: boolean }; uris: string[] }[] = [
  { name: 'the identity alone', options: {}, uris: [alice.toString()] },
  {
    name: 'a long second URI (long-form lengths)',
    options: { extraUris: [`spiffe://cluster.local/ns/shop/sa/${'b'.repeat(150)}`] },
    uris: [alice.toString(), `spiffe://cluster.local/ns/shop/sa/${'b'.repeat(150)}`],
  },
  { name: 'no URI at all', options: { omitIdentity: true }, uris: [] },
]

for (const c of cases) {
  t.test(`a CSR for ${c.name} parses, verifies and names exactly its URIs`, async (t) => {
    const { csrPem, keyPem } = await createCsr(alice, c.options)
    t.match(csrPem, /^-----BEGIN CERTIFICATE REQUEST-----\n(?:[A-Za-z0-9+/=]{1,64}\n)+-----END CERTIFICATE REQUEST-----\n$/)
    t.match(keyPem, /^-----BEGIN PRIVATE KEY-----\n[\s\S]+\n-----END PRIVATE KEY-----\n$/)
    const csr = new x509.Pkcs10CertificateRequest(csrPem)
    t.ok(await csr.verify(crypto), 'self-signature verifies')
    t.equal(csr.subject, '', 'empty subject, as Istio: the identity is the SAN')
    t.match(csr.signatureAlgorithm, { name: 'ECDSA', hash: { name: 'SHA-256' } }, 'ecdsa-with-SHA256')
    const exts = csr.getExtensions(SAN)
    if (c.uris.length === 0) t.same(exts, [], 'no SAN extension')
    else {
      t.equal(exts.length, 1)
      t.equal(exts[0]!.critical, true, 'SAN critical: the subject is empty')
      const names = new x509.SubjectAlternativeNameExtension(exts[0]!.rawData).names.items
      t.same(
        names.map((n) => [n.type, n.value]),
        c.uris.map((u) => ['url', u]),
      )
    }
    // The private key is the one the request's public key belongs to.
    const spkiOfKey = createPublicKey(createPrivateKey(keyPem)).export({ type: 'spki', format: 'der' })
    t.same(Buffer.from(csr.publicKey.rawData), spkiOfKey)
    t.equal(createPrivateKey(keyPem).asymmetricKeyDetails?.namedCurve, 'prime256v1')
  })
}

t.test("the CA's check accepts the identity alone and refuses the malformed ones", async (t) => {
  const ok = await parseCsr((await createCsr(alice)).csrPem)
  t.ok(ok.identity.equals(alice))
  await t.rejects(parseCsr((await createCsr(alice, { omitIdentity: true })).csrPem), { code: CsrErrorCode.invalid })
  await t.rejects(parseCsr((await createCsr(alice, { extraUris: ['spiffe://cluster.local/ns/shop/sa/bob'] })).csrPem), {
    code: CsrErrorCode.invalid,
  })
})

t.test('a CSR whose signed bytes were altered does not verify', async (t) => {
  const { csrPem } = await createCsr(alice)
  const body = Buffer.from(csrPem.replace(/-----[A-Z ]+-----|\n/g, ''), 'base64')
  // Inside the signed info, past its headers: a byte of the public key.
  body[40] = body[40]! ^ 0x01
  const lines = body
    .toString('base64')
    .match(/.{1,64}/g)!
    .join('\n')
  await t.rejects(parseCsr(`-----BEGIN CERTIFICATE REQUEST-----\n${lines}\n-----END CERTIFICATE REQUEST-----\n`), {
    code: CsrErrorCode.invalid,
  })
})
