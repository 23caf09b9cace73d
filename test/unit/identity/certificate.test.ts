import 'reflect-metadata'
import t from 'tap'
import { once } from 'node:events'
import type { AddressInfo } from 'node:net'
import tls from 'node:tls'
import * as x509 from '@peculiar/x509'
import {
  CertificateErrorCode,
  certificateIdentity,
  certificateInfo,
  chainProblem,
  parsePemChain,
  spiffeIdentities,
  uriSans,
  workloadCertificate,
} from '../../../src/identity/certificate.js'
import { crypto } from '../../../src/identity/csr.js'
import { SpiffeId } from '../../../src/identity/spiffe-id.js'
import { createTestPki } from '../../helpers/pki.js'

const HOUR = 3_600_000
const T0 = Date.UTC(2030, 0, 1)

async function selfSigned(uris: string[]): Promise<string> {
  const keys = await crypto.subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, true, ['sign', 'verify'])
  const ext = uris.length ? [new x509.SubjectAlternativeNameExtension(uris.map((value) => ({ type: 'url' as const, value })))] : []
  const cert = await x509.X509CertificateGenerator.createSelfSigned(
    { name: 'CN=test', keys, extensions: ext, signingAlgorithm: { name: 'ECDSA', hash: 'SHA-256' } },
    crypto,
  )
  return cert.toString('pem')
}

t.test('parsePemChain splits a bundle and refuses garbage', async (t) => {
  const pki = await createTestPki()
  t.teardown(() => pki.close())
  const cert = await pki.issue('spiffe://cluster.local/ns/a/sa/b')
  const bundle = `junk before\n${cert.certChainPem[0]}\n\n${pki.rootPem}trailing`
  t.same(parsePemChain(bundle), [cert.certChainPem[0], pki.rootPem])
  t.throws(() => parsePemChain('nothing here'), { code: CertificateErrorCode.pemInvalid })
  t.throws(() => parsePemChain('-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----'), { code: CertificateErrorCode.pemInvalid })
})

t.test('URI SANs and identities', async (t) => {
  const two = await selfSigned([
    'spiffe://cluster.local/ns/a/sa/b',
    'https://example.org',
    'spiffe://cluster.local/bad',
    'spiffe://cluster.local/ns/c/sa/d',
  ])
  t.same(uriSans(two), [
    'spiffe://cluster.local/ns/a/sa/b',
    'https://example.org',
    'spiffe://cluster.local/bad',
    'spiffe://cluster.local/ns/c/sa/d',
  ])
  t.same(spiffeIdentities(two).map(String), ['spiffe://cluster.local/ns/a/sa/b', 'spiffe://cluster.local/ns/c/sa/d'])
  t.throws(() => certificateIdentity(two), { code: CertificateErrorCode.sanInvalid })
  const none = await selfSigned([])
  t.same(uriSans(none), [])
  t.throws(() => certificateIdentity(none), { code: CertificateErrorCode.sanInvalid })
  const notSpiffe = await selfSigned(['https://x'])
  t.throws(() => certificateIdentity(notSpiffe), { code: CertificateErrorCode.sanInvalid })
  t.ok(certificateIdentity(await selfSigned(['spiffe://td/ns/a/sa/b'])).equals(SpiffeId.parse('spiffe://td/ns/a/sa/b')))
})

t.test('workloadCertificate takes the root off a CA answer and checks the chain', async (t) => {
  const pki = await createTestPki()
  t.teardown(() => pki.close())
  const issued = await pki.issue('spiffe://cluster.local/ns/a/sa/b')
  const fromAnswer = workloadCertificate({ keyPem: issued.keyPem, chainPem: [...issued.certChainPem, pki.rootPem] })
  t.same(fromAnswer.certChainPem, issued.certChainPem)
  t.same(fromAnswer.rootsPem, [pki.rootPem])
  t.equal(fromAnswer.serialNumber, issued.serialNumber)
  t.ok(Object.isFrozen(fromAnswer))
  t.throws(() => workloadCertificate({ keyPem: issued.keyPem, chainPem: issued.certChainPem }), { code: CertificateErrorCode.chainInvalid })
  t.throws(() => workloadCertificate({ keyPem: issued.keyPem, chainPem: [] }), { code: CertificateErrorCode.chainInvalid })
  const other = await createTestPki()
  t.teardown(() => other.close())
  t.match(chainProblem(issued.certChainPem, [other.rootPem], Date.now()), /trusted root/)
  t.equal(chainProblem([], [pki.rootPem], Date.now()), 'empty chain')
  t.match(chainProblem([...issued.certChainPem, issued.certChainPem[0]!], [pki.rootPem], Date.now()), /not signed by/)
})

t.test('certificateInfo', async (t) => {
  const pki = await createTestPki({ now: () => T0 })
  t.teardown(() => pki.close())
  const cert = await pki.issue('spiffe://cluster.local/ns/a/sa/b', { ttlMs: HOUR })
  t.same(certificateInfo(cert, T0), {
    identity: 'spiffe://cluster.local/ns/a/sa/b',
    state: 'Available',
    serialNumber: cert.serialNumber,
    validFrom: new Date(T0).toISOString(),
    expirationTime: new Date(T0 + HOUR).toISOString(),
  })
  t.equal(certificateInfo(cert, T0 + 2 * HOUR).state, 'Expired')
  t.equal(certificateInfo(cert, T0 - 1).state, 'NotYetValid')
  t.equal(certificateInfo(cert, T0, 'renewing-failed').state, 'renewing-failed')
  t.equal(certificateInfo(await pki.issue('spiffe://cluster.local/ns/a/sa/c', { notBefore: new Date(Date.now()) })).state, 'Available')
})

t.test('issued certificates work for mutual TLS 1.3 with node:tls', async (t) => {
  const pki = await createTestPki()
  t.teardown(() => pki.close())
  const server = await pki.issue('spiffe://cluster.local/ns/a/sa/server')
  const client = await pki.issue('spiffe://cluster.local/ns/a/sa/client')
  const options = (c: typeof server) => ({
    key: c.keyPem,
    cert: c.certChainPem.join(''),
    ca: [...c.rootsPem],
    minVersion: 'TLSv1.3' as const,
  })
  const seen: string[] = []
  const srv = tls.createServer({ ...options(server), requestCert: true, rejectUnauthorized: true }, (socket) => {
    seen.push(uriSans(socket.getPeerX509Certificate()!)[0]!)
    socket.end('ok')
  })
  srv.listen(0, '127.0.0.1')
  await once(srv, 'listening')
  t.teardown(() => srv.close())
  const socket = tls.connect({
    ...options(client),
    host: '127.0.0.1',
    port: (srv.address() as AddressInfo).port,
    checkServerIdentity: (_host, cert) =>
      cert.subjectaltname === 'URI:spiffe://cluster.local/ns/a/sa/server' ? undefined : new Error('wrong server'),
  })
  let reply = ''
  socket.setEncoding('utf8').on('data', (d: string) => (reply += d))
  await once(socket, 'end')
  t.equal(reply, 'ok')
  t.equal(socket.authorized, true)
  t.same(seen, ['spiffe://cluster.local/ns/a/sa/client'])
})
