// istiod's gRPC server on node:http2 (src/xds/grpc-server.ts) over real TLS on 127.0.0.1: requests it
// refuses before any handler runs, the receive limit, deadlines, client resets, unary cardinality,
// bearer tokens, one body shared by two clients' syncs, and a grpc-js client (an independent gRPC
// implementation) doing Delta ADS and a CSR against it.
import assert from 'node:assert/strict'
import { connect, constants, type ClientHttp2Session, type IncomingHttpHeaders } from 'node:http2'
import { Client, Metadata, status as Status } from '@grpc/grpc-js'
import type { ServiceError } from '@grpc/grpc-js'
import t from 'tap'
import { createCsr } from '../../../src/identity/csr.js'
import { SpiffeId } from '../../../src/identity/spiffe-id.js'
import { createCaService } from '../../../src/xds/ca-service.js'
import { TYPE_URL } from '../../../src/xds/convert.js'
import { startCall, type CallOptions } from '../../../src/xds/grpc/call.js'
import { GrpcCode } from '../../../src/xds/grpc/codes.js'
import { openSession } from '../../../src/xds/grpc/session.js'
import type { GrpcStatus } from '../../../src/xds/grpc/status.js'
import type { CertificateResponse, DeltaRequest, DeltaResponse } from '../../../src/xds/grpc-definitions.js'
import { AGGREGATED_DISCOVERY_SERVICE, ISTIO_CERTIFICATE_SERVICE } from '../../../src/xds/grpc-definitions.js'
import type { GrpcServerCall, GrpcServiceBinding } from '../../../src/xds/grpc-server.js'
import { eventually } from '../../helpers/eventually.js'
import { bearerMetadata, channelCredentials } from '../../helpers/grpc-js-channel.js'
import { workload } from '../../helpers/mesh-view.js'
import { createTestPki } from '../../helpers/pki.js'
import { connectZtunnel, ISTIOD_ID, startIstiod } from './harness.js'

const ADS = AGGREGATED_DISCOVERY_SERVICE.DeltaAggregatedResources
const CSR = ISTIO_CERTIFICATE_SERVICE.CreateCertificate
const WEB = SpiffeId.parse('spiffe://cluster.local/ns/default/sa/web')

/** A test service: `/test.Hold/Hold` keeps every call open and records how it ended. */
function holdService() {
  const calls: { call: GrpcServerCall; cancelled: string | undefined; messages: number }[] = []
  const binding: GrpcServiceBinding = {
    methods: {
      '/test.Hold/Hold': {
        kind: 'stream',
        handle(call) {
          const rec = { call, cancelled: undefined as string | undefined, messages: 0 }
          calls.push(rec)
          call.onCancel((reason) => (rec.cancelled = reason))
          call.read({ onMessage: () => rec.messages++, onHalfClose: () => undefined })
        },
      },
    },
  }
  return { binding, calls }
}

t.test("istiod's gRPC server on node:http2", async (t) => {
  const pki = await createTestPki()
  t.teardown(() => pki.close())
  const hold = holdService()
  const ca = createCaService({
    ca: pki.ca,
    authenticate: (token) => (token === 'token-node1' ? 'node1' : undefined),
    mayImpersonate: (node, id) => node === 'node1' && id.equals(WEB),
  })
  const istiod = await startIstiod(pki, { extra: [ca, hold.binding], maxReceiveMessageBytes: 64 * 1024 })
  t.teardown(() => istiod.close())
  for (let i = 0; i < 300; i++) istiod.setWorkload(workload({ name: `w-${i}`, addresses: [`10.1.${i >> 8}.${i & 255}`] }))
  const tls = { rootCertPem: pki.rootPem, serverIdentity: ISTIOD_ID }

  const sessions: ClientHttp2Session[] = []
  t.teardown(() => sessions.forEach((s) => s.destroy()))
  const session = () => {
    const s = openSession(istiod.grpc.target, tls)
    s.on('error', () => undefined)
    sessions.push(s)
    return s
  }
  /** One call with our client: the messages it got and its status. */
  const call = (options: CallOptions, messages: readonly Uint8Array[], opts: { end?: boolean; cancelAfterMs?: number } = {}) =>
    new Promise<{ status: GrpcStatus; messages: Buffer[] }>((resolve) => {
      const got: Buffer[] = []
      const c = startCall(session(), options, { onMessage: (m) => got.push(m), onStatus: (status) => resolve({ status, messages: got }) })
      for (const m of messages) c.write(m)
      if (opts.end ?? true) c.end()
    })
  /** A raw request: the response headers (a refusal is trailers-only: its status is in them). */
  const raw = (headers: Record<string, string>) =>
    new Promise<IncomingHttpHeaders>((resolve, reject) => {
      const s = connect(`https://${istiod.grpc.target}`, { ca: pki.rootPem, servername: '', checkServerIdentity: () => undefined })
      sessions.push(s)
      s.on('error', reject)
      const req = s.request({ ':method': 'POST', ':path': ADS.path, 'content-type': 'application/grpc', ...headers }, { endStream: true })
      req.on('response', resolve)
      req.on('error', reject)
      req.resume()
    })
  const auth = { authorization: 'Bearer token-node1' }

  await t.test('an unknown method: trailers-only UNIMPLEMENTED', async (t) => {
    const h = await raw({ ':path': '/istio.v1.auth.Nope/Create' })
    t.match(h, {
      ':status': 200,
      'content-type': 'application/grpc',
      'grpc-status': '12',
      'grpc-message': /^unknown method \/istio.v1.auth.Nope\/Create$/,
    })
    const ours = await call(
      { path: '/envoy.service.discovery.v3.AggregatedDiscoveryService/StreamAggregatedResources', metadata: auth },
      [],
    )
    t.equal(ours.status.code, GrpcCode.UNIMPLEMENTED, 'as our client reads it')
  })

  await t.test('not application/grpc: HTTP 415 with grpc-status UNIMPLEMENTED', async (t) => {
    t.match(await raw({ 'content-type': 'application/json' }), { ':status': 415, 'grpc-status': '12' })
    t.match(await raw({ ':method': 'PUT' }), { ':status': 405, 'grpc-status': '12' })
    t.match(await raw({ 'grpc-encoding': 'gzip' }), { ':status': 200, 'grpc-status': '12' })
  })

  await t.test('a request message over the receive limit: RESOURCE_EXHAUSTED', async (t) => {
    const big = await call({ path: CSR.path, metadata: auth }, [new Uint8Array(64 * 1024 + 1)])
    t.equal(big.status.code, GrpcCode.RESOURCE_EXHAUSTED)
    t.match(big.status.details, /over the limit of 65536/)
    const stream = await call({ path: ADS.path, metadata: auth }, [new Uint8Array(100 * 1024)], { end: false })
    t.equal(stream.status.code, GrpcCode.RESOURCE_EXHAUSTED, 'on a stream too')
  })

  await t.test('bearer token missing or not accepted: UNAUTHENTICATED, on both services', async (t) => {
    const subscribe = ADS.requestSerialize({ typeUrl: TYPE_URL.address, resourceNamesSubscribe: ['*'] })
    const csr = CSR.requestSerialize({ csr: (await createCsr(WEB)).csrPem })
    for (const [name, metadata] of [
      ['missing', {}],
      ['wrong', { authorization: 'Bearer nope' }],
      ['not a bearer', { authorization: 'Basic token-node1' }],
    ] as const) {
      const ads = await call({ path: ADS.path, metadata }, [subscribe], { end: false })
      t.same(ads.status.code, GrpcCode.UNAUTHENTICATED, `ADS: ${name}`)
      t.equal(ads.messages.length, 0)
      const cert = await call({ path: CSR.path, metadata }, [csr])
      t.same(cert.status.code, GrpcCode.UNAUTHENTICATED, `CA: ${name}`)
    }
    t.equal(istiod.ads.status().connections.length, 0)
  })

  await t.test('CSR unary with our client: one response, OK; zero or two request messages: UNIMPLEMENTED', async (t) => {
    const csr = CSR.requestSerialize({ csr: (await createCsr(WEB)).csrPem })
    const one = await call({ path: CSR.path, metadata: auth }, [csr])
    t.equal(one.status.code, GrpcCode.OK)
    t.equal(one.messages.length, 1)
    t.equal(CSR.responseDeserialize(one.messages[0]!).certChain?.length, 2)
    t.match((await call({ path: CSR.path, metadata: auth }, [])).status, { code: GrpcCode.UNIMPLEMENTED, details: /got 0/ })
    t.match((await call({ path: CSR.path, metadata: auth }, [csr, csr])).status, { code: GrpcCode.UNIMPLEMENTED, details: /got 2/ })
    t.match((await call({ path: CSR.path, metadata: auth }, [Uint8Array.of(0xff)])).status, {
      code: GrpcCode.INVALID_ARGUMENT,
      details: /IstioCertificateRequest does not decode/,
    })
  })

  await t.test('a deadline ends the call DEADLINE_EXCEEDED and tells the handler', async (t) => {
    const before = hold.calls.length
    // The client's own timer would win at the same deadline: send grpc-timeout by hand, no timer of ours.
    const s = session()
    const req = s.request({ ':method': 'POST', ':path': '/test.Hold/Hold', 'content-type': 'application/grpc', 'grpc-timeout': '30m' })
    const headers = await new Promise<IncomingHttpHeaders>((resolve) => req.on('response', resolve))
    req.resume()
    t.match(headers, { ':status': 200, 'grpc-status': String(GrpcCode.DEADLINE_EXCEEDED), 'grpc-message': 'deadline of 30 ms exceeded' })
    const rec = await eventually(() => hold.calls.find((c, i) => i >= before && c.cancelled !== undefined) ?? null)
    t.match(rec.cancelled, /deadline of 30 ms exceeded/)
  })

  await t.test("a client's reset (RST_STREAM CANCEL) reaches the handler as a cancel", async (t) => {
    const before = hold.calls.length
    const c = startCall(session(), { path: '/test.Hold/Hold' }, { onMessage: () => undefined, onStatus: () => undefined })
    c.write(Uint8Array.of(1, 2, 3))
    const rec = await eventually(() => (hold.calls.length > before && hold.calls.at(-1)!.messages === 1 ? hold.calls.at(-1)! : null))
    t.equal(rec.cancelled, undefined)
    c.cancel()
    await eventually(() => rec.cancelled !== undefined)
    t.match(rec.cancelled, new RegExp(`RST_STREAM code ${constants.NGHTTP2_CANCEL}`))
    t.ok(rec.call.ended)
    t.notOk(rec.call.write(Uint8Array.of(1)), 'nothing more is written')
  })

  await t.test('messages larger than the write-ahead arrive whole and in order, then the status', async (t) => {
    const before = hold.calls.length
    const got: Buffer[] = []
    const status = new Promise<GrpcStatus>((resolve) => {
      const c = startCall(session(), { path: '/test.Hold/Hold' }, { onMessage: (m) => got.push(m), onStatus: resolve })
      c.write(Uint8Array.of(1))
    })
    const rec = await eventually(() => (hold.calls.length > before && hold.calls.at(-1)!.messages === 1 ? hold.calls.at(-1)! : null))
    // 3 MiB in parts of several sizes (the sync body is written as parts), then a small message.
    const big = Buffer.from(Array.from({ length: 3 * 1024 * 1024 }, (_, i) => (i * 7) & 255))
    t.ok(rec.call.write([big.subarray(0, 10), big.subarray(10, 1_500_000), big.subarray(1_500_000)]))
    t.ok(rec.call.write(Uint8Array.of(9, 9)))
    rec.call.end({ code: GrpcCode.OK, details: '' })
    t.equal((await status).code, GrpcCode.OK)
    t.equal(got.length, 2)
    t.ok(got[0]!.equals(big), 'the 3 MiB message, byte for byte')
    t.same([...got[1]!], [9, 9])
  })

  await t.test("two clients' syncs: the same bytes, both ACKed; a half-close ends the stream OK", async (t) => {
    const z1 = connectZtunnel(pki, istiod.grpc.target, 'token-node1', 'ztunnel~10.0.0.1~node1')
    const z2 = connectZtunnel(pki, istiod.grpc.target, 'token-node2', 'ztunnel~10.0.0.2~node2')
    t.teardown(() => Promise.all([z1.client.close(), z2.client.close()]))
    await eventually(() => z1.client.synced && z2.client.synced)
    t.equal(z1.addresses.size, 300)
    t.same([...z1.client.versions(TYPE_URL.address)], [...z2.client.versions(TYPE_URL.address)])
    await eventually(() => istiod.metrics.acks >= 4)
    t.equal(istiod.ads.joinStats().fullSendReuses, 2, 'the second client was sent the first one’s body')
    const subscribe = ADS.requestSerialize({ typeUrl: TYPE_URL.authorization, resourceNamesSubscribe: ['*'] })
    const done = await call({ path: ADS.path, metadata: auth }, [subscribe])
    t.equal(done.status.code, GrpcCode.OK, 'the server ends a half-closed stream with OK')
    t.equal(done.messages.length, 1, 'after answering the request it had')
  })

  await t.test('a grpc-js client: Delta ADS sync + ACK, and a CSR', async (t) => {
    const client = new Client(istiod.grpc.target, channelCredentials(tls))
    t.teardown(() => client.close())
    const stream = client.makeBidiStreamRequest<DeltaRequest, DeltaResponse>(
      ADS.path,
      ADS.requestSerialize,
      ADS.responseDeserialize,
      bearerMetadata('token-node1'),
    )
    const responses: DeltaResponse[] = []
    const ended = new Promise<{ code: number }>((resolve) => {
      stream.on('status', resolve)
      stream.on('error', () => undefined)
    })
    stream.on('data', (r: DeltaResponse) => responses.push(r))
    stream.write({ node: { id: 'grpc-js~node1' }, typeUrl: TYPE_URL.address, resourceNamesSubscribe: ['*'] })
    await eventually(() => responses.length === 1)
    t.equal(responses[0]!.resources?.length, 300)
    stream.write({ typeUrl: TYPE_URL.address, responseNonce: responses[0]!.nonce ?? '' })
    await eventually(() => istiod.ads.status().connections.some((c) => c.subscriptions[0]?.lastNonceAcked === responses[0]!.nonce))
    istiod.setWorkload(workload({ name: 'w-new', addresses: ['10.2.0.1'] }))
    istiod.ads.push(TYPE_URL.address)
    await eventually(() => responses.length === 2)
    t.same(
      responses[1]!.resources?.map((r) => r.name),
      [workload({ name: 'w-new', addresses: ['10.2.0.1'] }).uid],
    )
    stream.end()
    t.equal((await ended).code, Status.OK)

    const res = await new Promise<ServiceError | CertificateResponse>((resolve) =>
      client.makeUnaryRequest(CSR.path, CSR.requestSerialize, CSR.responseDeserialize, { csr: '' }, new Metadata(), (err, r) =>
        resolve(err ?? r!),
      ),
    )
    t.match(res, { code: Status.UNAUTHENTICATED, details: /missing bearer token/ })
    const { csrPem } = await createCsr(WEB)
    const signed = await new Promise<ServiceError | CertificateResponse>((resolve) =>
      client.makeUnaryRequest(
        CSR.path,
        CSR.requestSerialize,
        CSR.responseDeserialize,
        { csr: csrPem },
        bearerMetadata('token-node1'),
        (err, r) => resolve(err ?? r!),
      ),
    )
    assert.ok(!('code' in signed), `signed: ${JSON.stringify(signed)}`)
    t.equal(signed.certChain?.length, 2)
  })
})
