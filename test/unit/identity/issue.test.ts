import 'reflect-metadata'
import t from 'tap'
import { X509Certificate } from 'node:crypto'
import * as x509 from '@peculiar/x509'
import { CaErrorCode, DEFAULT_WORKLOAD_TTL_MS, openMeshCa } from '../../../src/identity/ca.js'
import { CsrErrorCode, createCsr, crypto } from '../../../src/identity/csr.js'
import { SpiffeId } from '../../../src/identity/spiffe-id.js'
import { chainProblem, workloadCertificate } from '../../../src/identity/certificate.js'
import { createTestPki } from '../../helpers/pki.js'

const HOUR = 3_600_000
const T0 = Date.UTC(2030, 0, 1)
const alice = SpiffeId.parse('spiffe://cluster.local/ns/shop/sa/alice')

t.test('an issued certificate is a proper workload certificate', async (t) => {
  const pki = await createTestPki({ now: () => T0 })
  t.teardown(() => pki.close())
  const cert = await pki.issue(alice)
  t.ok(cert.identity.equals(alice))
  t.equal(cert.certChainPem.length, 1, 'leaf only: the root is not part of the presented chain')
  t.same(cert.rootsPem, [pki.rootPem])
  t.match(cert.keyPem, /^-----BEGIN PRIVATE KEY-----/)

  const leaf = new X509Certificate(cert.certChainPem[0]!)
  const root = new X509Certificate(pki.rootPem)
  t.equal(leaf.subjectAltName, `URI:${alice}`)
  t.same(leaf.keyUsage, ['1.3.6.1.5.5.7.3.1', '1.3.6.1.5.5.7.3.2'], 'EKU serverAuth + clientAuth')
  t.equal(leaf.ca, false)
  t.ok(leaf.checkIssued(root))
  t.ok(leaf.verify(root.publicKey), 'signed by the root')
  t.ok(root.verify(root.publicKey), 'root is self-signed')
  t.equal(leaf.publicKey.asymmetricKeyDetails?.namedCurve, 'prime256v1')
  t.equal(chainProblem(cert.certChainPem, cert.rootsPem, T0 + HOUR), undefined)

  const parsed = new x509.X509Certificate(cert.certChainPem[0]!)
  const ku = new x509.KeyUsagesExtension(parsed.getExtension('2.5.29.15')!.rawData)
  t.equal(ku.usages, x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyEncipherment)
  t.equal(parsed.getExtension('2.5.29.17')!.critical, true, 'SAN critical: the subject is empty')
  t.equal(cert.serialNumber, parsed.serialNumber.toLowerCase())

  t.equal(cert.notBefore.getTime(), T0)
  t.equal(cert.notAfter.getTime() - cert.notBefore.getTime(), DEFAULT_WORKLOAD_TTL_MS, '24 h by default')
})

t.test('TTL and notBefore are honoured; an expired certificate is reported as such', async (t) => {
  const pki = await createTestPki({ now: () => T0 })
  t.teardown(() => pki.close())
  const short = await pki.issue('spiffe://cluster.local/ns/a/sa/b', { ttlMs: HOUR })
  t.equal(short.notAfter.getTime(), T0 + HOUR)
  const expired = await pki.issue(alice, { notBefore: new Date(T0 - 2 * HOUR), ttlMs: HOUR })
  t.equal(expired.notAfter.getTime(), T0 - HOUR)
  t.match(chainProblem(expired.certChainPem, expired.rootsPem, T0), /expired/)
  t.match(chainProblem(short.certChainPem, short.rootsPem, T0 - HOUR), /not yet valid/)
})

t.test('TTL outside (0, max] is refused', async (t) => {
  const pki = await createTestPki()
  t.teardown(() => pki.close())
  const capped = await openMeshCa({ dir: pki.dir, maxTtlMs: 2 * HOUR })
  const { csrPem } = await createCsr(alice)
  for (const ttlMs of [0, -1, Number.NaN, 3 * HOUR]) {
    await t.rejects(capped.signCsr(csrPem, { ttlMs }), { code: CaErrorCode.ttlInvalid }, String(ttlMs))
  }
  t.ok(await capped.signCsr(csrPem, { ttlMs: 2 * HOUR }))
})

t.test('signCsr returns leaf then root, and validates the request', async (t) => {
  const pki = await createTestPki({ trustDomain: 'example.org' })
  t.teardown(() => pki.close())
  const me = SpiffeId.parse('spiffe://example.org/ns/a/sa/b')
  const { csrPem, keyPem } = await createCsr(me)
  const { certChainPem } = await pki.ca.signCsr(csrPem, { expectedIdentity: me })
  t.equal(certChainPem.length, 2)
  t.equal(certChainPem[1], pki.rootPem)
  t.ok(workloadCertificate({ keyPem, chainPem: certChainPem }).identity.equals(me))

  const refused: Array<[string, Promise<{ csrPem: string }>, string]> = [
    ['foreign trust domain', createCsr(SpiffeId.parse('spiffe://cluster.local/ns/a/sa/b')), CaErrorCode.trustDomainMismatch],
    ['no URI SAN', createCsr(me, { omitIdentity: true }), CsrErrorCode.invalid],
    ['two URI SANs', createCsr(me, { extraUris: ['spiffe://example.org/ns/a/sa/c'] }), CsrErrorCode.invalid],
    ['URI SAN not SPIFFE', createCsr(me, { omitIdentity: true, extraUris: ['https://example.org/x'] }), CsrErrorCode.invalid],
    ['malformed SPIFFE', createCsr(me, { omitIdentity: true, extraUris: ['spiffe://example.org/a/b'] }), CsrErrorCode.invalid],
  ]
  for (const [name, request, code] of refused) {
    await t.rejects(pki.ca.signCsr((await request).csrPem), { code, side: 'downstream' }, name)
  }
  await t.rejects(pki.ca.signCsr('not a csr'), { code: CsrErrorCode.invalid }, 'garbage')
  await t.rejects(pki.ca.signCsr(csrPem, { expectedIdentity: SpiffeId.parse('spiffe://example.org/ns/a/sa/other') }), {
    code: CaErrorCode.identityMismatch,
  })
})

t.test('a CSR whose signature does not verify is refused', async (t) => {
  const pki = await createTestPki()
  t.teardown(() => pki.close())
  // Splice another key into a signed CSR: the signature no longer matches the public key.
  const keys = await crypto.subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, true, ['sign', 'verify'])
  const other = await x509.Pkcs10CertificateRequestGenerator.create(
    {
      keys,
      signingAlgorithm: { name: 'ECDSA', hash: 'SHA-256' },
      extensions: [new x509.SubjectAlternativeNameExtension([{ type: 'url', value: alice.toString() }])],
    },
    crypto,
  )
  const { csrPem } = await createCsr(alice)
  const original = new x509.Pkcs10CertificateRequest(csrPem)
  const der = Buffer.from(original.rawData)
  const theirKey = Buffer.from(other.publicKey.rawData)
  const ourKey = Buffer.from(original.publicKey.rawData)
  const at = der.indexOf(ourKey)
  t.ok(at > 0)
  theirKey.copy(der, at)
  const tampered = x509.PemConverter.encode(der, 'CERTIFICATE REQUEST')
  await t.rejects(pki.ca.signCsr(tampered), { code: CsrErrorCode.invalid })
})

t.test('a leaf never outlives the root', async (t) => {
  const pki = await createTestPki({ now: () => T0 })
  t.teardown(() => pki.close())
  const root = new X509Certificate(pki.rootPem)
  const late = await pki.issue(alice, { notBefore: new Date(Date.parse(root.validTo) - HOUR), ttlMs: 24 * HOUR })
  t.equal(late.notAfter.getTime(), Date.parse(root.validTo))
})
