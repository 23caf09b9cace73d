import { Client, Metadata, status as Status } from '@grpc/grpc-js'
import type { ServiceError } from '@grpc/grpc-js'
import t from 'tap'
import { workloadCertificate } from '../../../src/identity/certificate.js'
import { createCsr } from '../../../src/identity/csr.js'
import { caSigner } from '../../../src/identity/signer.js'
import type { CertificateSigner } from '../../../src/identity/signer.js'
import { SpiffeId } from '../../../src/identity/spiffe-id.js'
import { createCaClient } from '../../../src/xds/ca-client.js'
import { createCaService, validityMs } from '../../../src/xds/ca-service.js'
import { XdsErrorCode } from '../../../src/xds/errors.js'
import { bearerMetadata, channelCredentials } from '../../helpers/grpc-js-channel.js'
import type { CertificateRequest, CertificateResponse } from '../../../src/xds/grpc-definitions.js'
import { IMPERSONATED_IDENTITY, ISTIO_CERTIFICATE_SERVICE } from '../../../src/xds/grpc-definitions.js'
import { startGrpcServer } from '../../../src/xds/grpc-server.js'
import { createTestPki } from '../../helpers/pki.js'
import { ISTIOD_ID, TOKENS } from './harness.js'

const HOUR = 3_600_000
const WEB = SpiffeId.parse('spiffe://cluster.local/ns/default/sa/web')
const DB = SpiffeId.parse('spiffe://cluster.local/ns/default/sa/db')
/** Which identities have a pod on which node. */
const PODS: Record<string, readonly string[]> = { node1: [WEB.toString()], node2: [DB.toString()] }

t.test('CA service over TLS', async (t) => {
  const pki = await createTestPki()
  t.teardown(() => pki.close())
  const istiodCert = await pki.issue(ISTIOD_ID)
  const asked: string[] = []
  const ca = createCaService({
    ca: pki.ca,
    authenticate: (token) => TOKENS[token],
    mayImpersonate: (node, id) => {
      asked.push(`${node} ${id}`)
      return PODS[node]?.includes(id.toString()) ?? false
    },
    maxTtlMs: 2 * HOUR,
  })
  const server = await startGrpcServer({
    port: 0,
    services: [ca],
    shutdownGraceMs: 200,
    tls: { rootCertPem: pki.rootPem, certChainPem: istiodCert.certChainPem.join(''), keyPem: istiodCert.keyPem },
  })
  t.teardown(() => server.close())
  const tls = { rootCertPem: pki.rootPem, serverIdentity: ISTIOD_ID }
  const node1 = createCaClient({ target: server.target, tls, token: 'token-node1' })
  t.teardown(() => node1.close())

  const signFor = async (signer: CertificateSigner, identity: SpiffeId, ttlMs: number) => {
    const { csrPem, keyPem } = await createCsr(identity)
    const { certChainPem } = await signer.sign({ csrPem, ttlMs, identity })
    return workloadCertificate({ keyPem, chainPem: certChainPem })
  }

  await t.test('a node gets a certificate for a pod scheduled on it, with the requested validity', async (t) => {
    const cert = await signFor(node1, WEB, HOUR)
    t.equal(cert.identity.toString(), WEB.toString())
    t.same(cert.rootsPem, [pki.rootPem], 'the chain ends with the mesh root')
    t.equal(cert.notAfter.getTime() - cert.notBefore.getTime(), HOUR)
    t.same(asked.at(-1), `node1 ${WEB}`)
  })

  await t.test('the validity is capped', async (t) => {
    const cert = await signFor(node1, WEB, 48 * HOUR)
    t.equal(cert.notAfter.getTime() - cert.notBefore.getTime(), 2 * HOUR)
  })

  await t.test("a node may not impersonate another node's pod", async (t) => {
    await t.rejects(signFor(node1, DB, HOUR), {
      code: XdsErrorCode.permissionDenied,
      message: /node1 may not obtain a certificate for spiffe:\/\/cluster.local\/ns\/default\/sa\/db/,
    })
    const node2 = createCaClient({ target: server.target, tls, token: 'token-node2' })
    t.teardown(() => node2.close())
    t.equal((await signFor(node2, DB, HOUR)).identity.toString(), DB.toString(), 'its own node may')
  })

  await t.test('a wrong token is refused', async (t) => {
    const stranger = createCaClient({ target: server.target, tls, token: 'nope' })
    t.teardown(() => stranger.close())
    await t.rejects(signFor(stranger, WEB, HOUR), { code: XdsErrorCode.unauthenticated })
  })

  // Raw calls for the requests our client never builds.
  const raw = new Client(server.target, channelCredentials(tls))
  t.teardown(() => raw.close())
  const call = (req: CertificateRequest, metadata: Metadata) =>
    new Promise<ServiceError | CertificateResponse>((resolve) => {
      const m = ISTIO_CERTIFICATE_SERVICE.CreateCertificate
      raw.makeUnaryRequest(m.path, m.requestSerialize, m.responseDeserialize, req, metadata, (err, res) => resolve(err ?? res!))
    })
  const { csrPem } = await createCsr(WEB)

  await t.test('no token: UNAUTHENTICATED', async (t) => {
    t.match(await call({ csr: csrPem }, new Metadata()), { code: Status.UNAUTHENTICATED, details: /missing bearer token/ })
  })

  await t.test('bad requests: INVALID_ARGUMENT with the reason', async (t) => {
    const auth = bearerMetadata('token-node1')
    t.match(await call({ csr: 'not a csr' }, auth), { code: Status.INVALID_ARGUMENT, details: /CSR does not parse/ })
    t.match(await call({ csr: csrPem, metadata: { fields: { [IMPERSONATED_IDENTITY]: { stringValue: DB.toString() } } } }, auth), {
      code: Status.INVALID_ARGUMENT,
      details: /differs from the CSR's identity/,
    })
    t.match(await call({ csr: csrPem, metadata: { fields: { [IMPERSONATED_IDENTITY]: { numberValue: 3 } } } }, auth), {
      code: Status.INVALID_ARGUMENT,
      details: /must be a SPIFFE ID string/,
    })
    t.match(await call({ csr: csrPem, validityDuration: -5 }, auth), { code: Status.INVALID_ARGUMENT, details: /negative/ })
  })

  await t.test('no ImpersonatedIdentity and no validity: the CSR identity, default lifetime, same node check', async (t) => {
    const res = (await call({ csr: csrPem }, bearerMetadata('token-node1'))) as CertificateResponse
    t.equal(res.certChain?.length, 2)
    t.match(await call({ csr: (await createCsr(DB)).csrPem }, bearerMetadata('token-node1')), { code: Status.PERMISSION_DENIED })
  })

  await t.test('the in-process signer and the gRPC one are interchangeable', async (t) => {
    const local = await signFor(caSigner(pki.ca), WEB, HOUR)
    const remote = await signFor(node1, WEB, HOUR)
    t.equal(local.identity.toString(), remote.identity.toString())
  })
})

t.test('validityMs: seconds, default, cap', async (t) => {
  t.equal(validityMs(0, 5, 100), 5)
  t.equal(validityMs(0.05, 5, 100), 50)
  t.equal(validityMs(3600, 5, 100), 100)
  t.throws(() => validityMs(-1, 5, 100), { code: XdsErrorCode.badRequest })
})
