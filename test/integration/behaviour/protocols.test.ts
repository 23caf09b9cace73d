// Behaviour suite, both modes, same YAML (test/helpers/behaviour-scenario.ts): what the proxies carry
// besides HTTP/1.1 requests — h2 from the caller (prior knowledge) routed like HTTP/1.1, gRPC on a
// grpc port with its trailers, and a TCP Service port proxied at L4, bytes exact both ways with
// half-close.
import t from 'tap'
import { randomBytes } from 'node:crypto'
import type net from 'node:net'
import { MESH_CASES_FILE_TIMEOUT_MS, meshCases, requestsTotal, startMeshUnderTest } from '../../helpers/mesh-under-test.js'

function exchange(socket: net.Socket, payload: Buffer): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = []
    socket.on('data', (c: Buffer) => chunks.push(c))
    socket.once('end', () => resolve(Buffer.concat(chunks)))
    socket.once('error', reject)
    socket.end(payload)
  })
}

t.setTimeout(MESH_CASES_FILE_TIMEOUT_MS)
for (const c of await meshCases()) {
  t.test(`${c.name}: protocols`, { timeout: c.timeoutMs, skip: c.skip }, async (t) => {
    const m = await startMeshUnderTest(t, c)

    await t.test('h2 from the caller is routed like HTTP/1.1 (header match → v2; fault abort)', async (t) => {
      const r = await m.h2Request({ path: '/reviews/h2', headers: { 'x-canary': 'always' } })
      t.equal(r.status, 200, r.body)
      t.equal((JSON.parse(r.body) as { pod: string }).pod, 'reviews-v2')
      t.equal((await m.h2Request({ path: '/fault-abort/h2' })).status, 418)
      t.equal((await m.h2Request({ method: 'POST', path: '/reviews/h2' })).status, 403, 'the L7 policy applies to h2 too')
    })

    await t.test('gRPC on a grpc port: h2 end to end, the body and trailers pass through', async (t) => {
      const body = 'hello grpc'
      const r = await m.h2Request({
        service: 'ratings',
        port: 9090,
        method: 'POST',
        path: '/ratings.Ratings/Get',
        headers: { 'content-type': 'application/grpc', te: 'trailers' },
        body,
      })
      t.equal(r.status, 200)
      t.equal(r.body, body, 'the request body came back')
      t.equal(r.trailers?.['grpc-status'], '0')
      t.equal(r.trailers?.['grpc-message'], 'ratings-v1')
      const failed = await m.h2Request({
        service: 'ratings',
        port: 9090,
        method: 'POST',
        path: '/ratings.Ratings/Get',
        headers: { 'content-type': 'application/grpc', 'x-grpc-status': '14' },
        body,
      })
      t.equal(failed.trailers?.['grpc-status'], '14', 'a gRPC error status reaches the caller')
      t.ok(
        requestsTotal(await m.l7Metrics(), {
          reporter: m.l7Reporter,
          destination_service_name: 'ratings',
          request_protocol: 'grpc',
          grpc_response_status: '14',
        }) >= 1,
        'istio_requests_total counts it as grpc with its status',
      )
    })

    await t.test('a TCP Service port: 1 MiB both ways, byte-exact, half-close', async (t) => {
      const payload = randomBytes(1024 * 1024)
      const socket = await m.dial({ service: 'ratings', port: 9000 })
      const back = await exchange(socket, payload)
      t.equal(back.length, payload.length)
      t.ok(back.equals(payload), 'the echo is byte-exact')
    })
  })
}
