// Our node:http2 gRPC client (src/xds/grpc/) against a raw node:http2 TLS server that
// answers the way we tell it to, including the ways a server, a proxy in between or the network
// misbehave. The interop with a real gRPC server is in delta-ads.test.ts and ca.test.ts (grpc-js's).
import t from 'tap'
import { constants, createSecureServer, type Http2Server, type IncomingHttpHeaders, type ServerHttp2Stream } from 'node:http2'
import type { AddressInfo, Socket } from 'node:net'
import type { TLSSocket } from 'node:tls'
import { SpiffeId } from '../../../src/identity/spiffe-id.js'
import { createCaClient } from '../../../src/xds/ca-client.js'
import { createDeltaAdsClient } from '../../../src/xds/delta-client.js'
import { XdsErrorCode } from '../../../src/xds/errors.js'
import { startCall, type CallOptions } from '../../../src/xds/grpc/call.js'
import { GrpcCode } from '../../../src/xds/grpc/codes.js'
import { GrpcClientErrorCode } from '../../../src/xds/grpc/errors.js'
import { encodeMessage } from '../../../src/xds/grpc/framing.js'
import { openSession, SESSION_WINDOW_BYTES, STREAM_WINDOW_BYTES } from '../../../src/xds/grpc/session.js'
import type { GrpcStatus } from '../../../src/xds/grpc/status.js'
import { GrpcStatusError, unaryCall } from '../../../src/xds/grpc/unary.js'
import { eventually } from '../../helpers/eventually.js'
import { createTestPki } from '../../helpers/pki.js'
import { ISTIOD_ID } from './harness.js'

const GRPC = { ':status': 200, 'content-type': 'application/grpc' }
const trailers = (stream: ServerHttp2Stream, fields: Record<string, string>) => {
  stream.on('wantTrailers', () => stream.sendTrailers(fields))
}
/** The server's TCP sockets (under TLS), to cut one under its HTTP/2 session. */
const tcp = new Set<Socket>()
const msgs = (...texts: string[]) => Buffer.concat(texts.map((s) => encodeMessage(Buffer.from(s))))

/** How the server answers each path. */
const behaviours: Record<string, (stream: ServerHttp2Stream) => void> = {
  '/t/split': (stream) => {
    stream.respond(GRPC, { waitForTrailers: true })
    trailers(stream, { 'grpc-status': '0' })
    const wire = msgs('one', 'two', 'three')
    for (let i = 0; i < wire.length; i += 2) stream.write(wire.subarray(i, i + 2)) // prefixes and bodies cut in DATA frames
    stream.end()
  },
  '/t/joined': (stream) => {
    stream.respond(GRPC, { waitForTrailers: true })
    trailers(stream, { 'grpc-status': '0' })
    stream.end(msgs('one', 'two', 'three')) // three messages, one frame
  },
  '/t/echo': (stream) => {
    stream.respond(GRPC, { waitForTrailers: true })
    trailers(stream, { 'grpc-status': '0' })
    stream.pipe(stream) // request messages back as sent
  },
  '/t/refused': (stream) => {
    stream.respond(GRPC, { waitForTrailers: true })
    trailers(stream, { 'grpc-status': '16', 'grpc-message': 'token%20%22x%22 refused' })
    stream.end()
  },
  '/t/trailers-only': (stream) => stream.respond({ ...GRPC, 'grpc-status': '7', 'grpc-message': 'not%20yours' }, { endStream: true }),
  '/t/http-503': (stream) => {
    stream.respond({ ':status': 503, 'content-type': 'text/plain' })
    stream.end('upstream overloaded')
  },
  '/t/no-status': (stream) => {
    stream.respond(GRPC)
    stream.end(msgs('one'))
  },
  '/t/rst': (stream) => {
    stream.respond(GRPC)
    stream.write(msgs('one'))
    stream.close(constants.NGHTTP2_INTERNAL_ERROR)
  },
  '/t/refused-stream': (stream) => stream.close(constants.NGHTTP2_REFUSED_STREAM),
  '/t/goaway': (stream) => {
    stream.respond(GRPC)
    stream.session!.goaway(constants.NGHTTP2_NO_ERROR)
    stream.session!.destroy()
  },
  '/t/socket': (stream) => {
    stream.respond(GRPC)
    // The TCP connection itself, reset under the session (no GOAWAY, no RST_STREAM).
    const { remotePort } = stream.session!.socket
    ;[...tcp].find((s) => s.remotePort === remotePort)?.resetAndDestroy()
  },
  '/t/compressed': (stream) => {
    stream.respond(GRPC)
    stream.write(Buffer.from([1, 0, 0, 0, 1, 0x78]))
  },
  '/t/too-large': (stream) => {
    stream.respond(GRPC)
    stream.write(Buffer.from([0, 0, 0, 0, 100]))
  },
  '/t/truncated': (stream) => {
    stream.respond(GRPC, { waitForTrailers: true })
    trailers(stream, { 'grpc-status': '0' })
    stream.end(msgs('whole').subarray(0, 7))
  },
  '/t/two': (stream) => {
    stream.respond(GRPC, { waitForTrailers: true })
    trailers(stream, { 'grpc-status': '0' })
    stream.end(msgs('a', 'b'))
  },
  '/t/none': (stream) => {
    stream.respond(GRPC, { waitForTrailers: true })
    trailers(stream, { 'grpc-status': '0' })
    stream.end()
  },
  '/t/hold': (stream) => stream.respond(GRPC), // never ends
}

interface Seen {
  headers: IncomingHttpHeaders
  clientSan: string | undefined
  stream: ServerHttp2Stream
}

t.test('the node:http2 gRPC client against a raw HTTP/2 server', async (t) => {
  const pki = await createTestPki()
  t.teardown(() => pki.close())
  const cert = await pki.issue(ISTIOD_ID)
  const seen: Seen[] = []
  const server: Http2Server = createSecureServer({
    key: cert.keyPem,
    cert: cert.certChainPem.join(''),
    ca: pki.rootPem,
    requestCert: true,
    rejectUnauthorized: false,
  })
  server.on('stream', (stream, headers) => {
    const peer = (stream.session!.socket as TLSSocket).getPeerCertificate()
    seen.push({ headers, clientSan: peer.subjectaltname, stream })
    stream.on('error', () => undefined)
    const behave = behaviours[String(headers[':path'])]
    if (behave === undefined) stream.respond({ ':status': 404 }, { endStream: true })
    else behave(stream)
  })
  server.on('sessionError', () => undefined)
  server.on('connection', (socket: Socket) => {
    tcp.add(socket)
    socket.on('close', () => tcp.delete(socket))
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.teardown(() => new Promise<void>((resolve) => server.close(() => resolve())))
  const target = `127.0.0.1:${(server.address() as AddressInfo).port}`
  const tls = { rootCertPem: pki.rootPem, serverIdentity: ISTIOD_ID }
  const session = openSession(target, tls)
  session.on('error', () => undefined)
  t.teardown(() => session.destroy())

  const call = (options: CallOptions, request = ['ping'], s = session) =>
    new Promise<{ messages: string[]; status: GrpcStatus }>((resolve) => {
      const messages: string[] = []
      const c = startCall(s, options, {
        onMessage: (b) => messages.push(b.toString()),
        onStatus: (status) => resolve({ messages, status }),
      })
      for (const r of request) c.write(Buffer.from(r))
      c.end()
    })

  await t.test('request headers: POST, application/grpc, te: trailers, metadata, grpc-timeout', async (t) => {
    const r = await call({ path: '/t/echo', metadata: { authorization: 'Bearer tok', clusterid: 'Kubernetes' }, timeoutMs: 5000 }, [
      'a',
      'bc',
    ])
    t.same(r.messages, ['a', 'bc'], 'request messages framed and echoed back')
    t.equal(r.status.code, GrpcCode.OK)
    const h = seen.at(-1)!.headers
    t.match(h, {
      ':method': 'POST',
      ':scheme': 'https',
      ':path': '/t/echo',
      'content-type': 'application/grpc',
      te: 'trailers',
      authorization: 'Bearer tok',
      clusterid: 'Kubernetes',
      'grpc-timeout': '5000m',
    })
    t.equal(seen.at(-1)!.clientSan, undefined, 'no client certificate unless given')
    const none = await call({ path: '/t/echo' })
    t.notOk('grpc-timeout' in seen.at(-1)!.headers, 'no deadline, no grpc-timeout')
    t.equal(none.status.code, GrpcCode.OK)
  })

  await t.test("receive windows: a first sync's megabytes need no WINDOW_UPDATE every 64 KiB", async (t) => {
    let announced: number | undefined
    server.once('stream', (stream) => (announced = stream.session?.remoteSettings.initialWindowSize))
    await call({ path: '/t/echo' })
    t.equal(announced, STREAM_WINDOW_BYTES, "each stream's window, in our SETTINGS")
    await eventually(() => session.state.effectiveLocalWindowSize === SESSION_WINDOW_BYTES)
    t.pass("the connection's window")
  })

  const outcomes: { path: string; code: number; messages?: string[]; details?: RegExp; causeCode?: string; reset?: number }[] = [
    { path: '/t/split', code: GrpcCode.OK, messages: ['one', 'two', 'three'] },
    { path: '/t/joined', code: GrpcCode.OK, messages: ['one', 'two', 'three'] },
    { path: '/t/refused', code: GrpcCode.UNAUTHENTICATED, details: /^token "x" refused$/ },
    { path: '/t/trailers-only', code: GrpcCode.PERMISSION_DENIED, messages: [], details: /^not yours$/ },
    { path: '/t/http-503', code: GrpcCode.UNAVAILABLE, messages: [], details: /HTTP status 503 without grpc-status/ },
    { path: '/t/unknown-path', code: GrpcCode.UNIMPLEMENTED, details: /HTTP status 404/ },
    { path: '/t/no-status', code: GrpcCode.UNKNOWN, messages: ['one'], details: /without grpc-status/ },
    { path: '/t/rst', code: GrpcCode.UNAVAILABLE, details: /RST_STREAM|stream/i },
    { path: '/t/refused-stream', code: GrpcCode.UNAVAILABLE },
    {
      path: '/t/compressed',
      code: GrpcCode.INTERNAL,
      messages: [],
      causeCode: GrpcClientErrorCode.compressed,
      reset: constants.NGHTTP2_CANCEL,
    },
    { path: '/t/truncated', code: GrpcCode.INTERNAL, causeCode: GrpcClientErrorCode.truncated },
  ]
  for (const o of outcomes)
    await t.test(`${o.path} ends with ${o.code}`, async (t) => {
      const r = await call({ path: o.path })
      t.equal(r.status.code, o.code, `${r.status.details}`)
      if (o.messages !== undefined) t.same(r.messages, o.messages)
      if (o.details !== undefined) t.match(r.status.details, o.details)
      if (o.causeCode !== undefined) t.match(r.status.cause, { code: o.causeCode })
      if (o.reset !== undefined) {
        const stream = seen.at(-1)!.stream
        await eventually(() => stream.closed)
        t.equal(stream.rstCode, o.reset, 'the client reset the stream')
      }
    })

  await t.test('a message over the limit is RESOURCE_EXHAUSTED', async (t) => {
    const r = await call({ path: '/t/too-large', maxMessageBytes: 10 })
    t.equal(r.status.code, GrpcCode.RESOURCE_EXHAUSTED)
    t.match(r.status.cause, { code: GrpcClientErrorCode.tooLarge })
  })

  await t.test('cancel ends the call CANCELLED and sends RST_STREAM CANCEL', async (t) => {
    let status: GrpcStatus | undefined
    const before = seen.length
    const c = startCall(session, { path: '/t/hold' }, { onMessage: () => undefined, onStatus: (s) => (status = s) })
    c.write(Buffer.from('x'))
    await eventually(() => seen.length > before)
    c.cancel()
    t.equal(status?.code, GrpcCode.CANCELLED)
    t.equal(c.ended, true)
    t.equal(c.write(Buffer.from('late')), false, 'nothing is written after the end')
    const stream = seen.at(-1)!.stream
    await eventually(() => stream.closed)
    t.equal(stream.rstCode, constants.NGHTTP2_CANCEL)
  })

  await t.test('a deadline ends the call DEADLINE_EXCEEDED and resets the stream', async (t) => {
    const r = await call({ path: '/t/hold', timeoutMs: 30 })
    t.equal(r.status.code, GrpcCode.DEADLINE_EXCEEDED)
    t.equal(seen.at(-1)!.headers['grpc-timeout'], '30m')
    const stream = seen.at(-1)!.stream
    await eventually(() => stream.closed)
    t.equal(stream.rstCode, constants.NGHTTP2_CANCEL)
  })

  await t.test('unary: one message, or a coded status', async (t) => {
    t.equal((await unaryCall(session, { path: '/t/echo' }, Buffer.from('u'))).toString(), 'u')
    for (const [path, code] of [
      ['/t/two', GrpcCode.INTERNAL],
      ['/t/none', GrpcCode.INTERNAL],
      ['/t/trailers-only', GrpcCode.PERMISSION_DENIED],
    ] as const) {
      const err = await unaryCall(session, { path }, Buffer.from('u')).then(
        () => undefined,
        (e: unknown) => e,
      )
      t.ok(err instanceof GrpcStatusError, path)
      t.equal((err as GrpcStatusError).status.code, code, path)
    }
  })

  // These end the connection: each on its own session.
  for (const path of ['/t/goaway', '/t/socket'])
    await t.test(`${path}: the connection goes away under the call → UNAVAILABLE`, async (t) => {
      const own = openSession(target, tls)
      own.on('error', () => undefined)
      t.teardown(() => own.destroy())
      const r = await call({ path }, ['x'], own)
      t.equal(r.status.code, GrpcCode.UNAVAILABLE, r.status.details)
    })

  await t.test('TLS: a certificate that does not name the expected identity is refused', async (t) => {
    const wrong = openSession(target, { rootCertPem: pki.rootPem, serverIdentity: 'spiffe://cluster.local/ns/evil/sa/istiod' })
    wrong.on('error', () => undefined)
    t.teardown(() => wrong.destroy())
    const r = await call({ path: '/t/echo' }, ['x'], wrong)
    t.equal(r.status.code, GrpcCode.UNAVAILABLE)
    t.match(r.status.details, /does not name spiffe:\/\/cluster.local\/ns\/evil\/sa\/istiod/)
  })

  await t.test('TLS: our certificate is sent when we have one; ALPN is h2', async (t) => {
    const ours = await pki.issue('spiffe://cluster.local/ns/istio-system/sa/ztunnel')
    const mtls = openSession(target, { ...tls, clientCert: { certChainPem: ours.certChainPem.join(''), keyPem: ours.keyPem } })
    mtls.on('error', () => undefined)
    t.teardown(() => mtls.destroy())
    t.equal((await call({ path: '/t/echo' }, ['x'], mtls)).status.code, GrpcCode.OK)
    t.equal(seen.at(-1)!.clientSan, 'URI:spiffe://cluster.local/ns/istio-system/sa/ztunnel')
    t.equal((mtls.socket as TLSSocket).alpnProtocol, 'h2')
  })

  await t.test('CA client: statuses become the coded errors the certificate manager expects', async (t) => {
    const id = SpiffeId.parse('spiffe://cluster.local/ns/default/sa/web')
    const sign = (path: string) => {
      const ca = createCaClient({ target, tls, token: 'tok' })
      t.teardown(() => ca.close())
      // Point the client's one method at a misbehaving path by serving it there.
      behaviours['/istio.v1.auth.IstioCertificateService/CreateCertificate'] = behaviours[path]!
      return ca.sign({ csrPem: 'csr', ttlMs: 1000, identity: id })
    }
    await t.rejects(sign('/t/trailers-only'), { code: XdsErrorCode.permissionDenied, message: /PERMISSION_DENIED not yours/ })
    await t.rejects(sign('/t/refused'), { code: XdsErrorCode.unauthenticated })
    await t.rejects(sign('/t/http-503'), { code: XdsErrorCode.unavailable, message: /UNAVAILABLE HTTP status 503/ })
    await t.rejects(sign('/t/compressed'), { code: XdsErrorCode.unavailable, message: /INTERNAL compressed message/ })
    await t.rejects(sign('/t/rst'), { code: XdsErrorCode.unavailable })
    t.match(seen.at(-1)!.headers, { authorization: 'Bearer tok', 'grpc-timeout': '10000m' })
  })

  await t.test('Delta ADS client: a refused stream is UNAVAILABLE and retried; close() resets with CANCEL', async (t) => {
    const path = '/envoy.service.discovery.v3.AggregatedDiscoveryService/DeltaAggregatedResources'
    behaviours[path] = behaviours['/t/refused-stream']!
    const client = createDeltaAdsClient({
      target,
      tls,
      token: 'tok',
      nodeId: 'n1',
      headers: { clusterid: 'Kubernetes' },
      backoff: { initialMs: 1, maxMs: 5 },
      types: { address: { typeUrl: 'type.googleapis.com/istio.workload.Address', decode: (b) => b } },
      handler: () => undefined,
    })
    t.teardown(() => client.close())
    client.start()
    await eventually(() => client.stats().connects >= 2)
    t.match(client.lastError, /^14 UNAVAILABLE: .*REFUSED_STREAM/)
    t.match(seen.at(-1)!.headers, { authorization: 'Bearer tok', clusterid: 'Kubernetes' })
    t.notOk('grpc-timeout' in seen.at(-1)!.headers, 'a stream has no deadline')
    behaviours[path] = behaviours['/t/hold']!
    const before = seen.length
    await eventually(() => seen.length > before && seen.at(-1)!.headers[':path'] === path)
    const held = seen.at(-1)!.stream
    await client.close()
    await eventually(() => held.closed)
    t.equal(held.rstCode, constants.NGHTTP2_CANCEL)
  })
})
