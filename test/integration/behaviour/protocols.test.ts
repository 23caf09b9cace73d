// Behaviour suite, both modes, same YAML (test/helpers/behaviour-scenario.ts): what the proxies carry
// besides HTTP/1.1 requests — h2 from the caller (prior knowledge) routed like HTTP/1.1, and a TCP
// Service port proxied at L4, bytes exact both ways with half-close.
import t from 'tap'
import { randomBytes } from 'node:crypto'
import type net from 'node:net'
import { MESH_MODES, startMeshUnderTest } from '../../helpers/mesh-under-test.js'

function exchange(socket: net.Socket, payload: Buffer): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = []
    socket.on('data', (c: Buffer) => chunks.push(c))
    socket.once('end', () => resolve(Buffer.concat(chunks)))
    socket.once('error', reject)
    socket.end(payload)
  })
}

for (const mode of MESH_MODES) {
  t.test(`${mode}: protocols`, { timeout: 60_000 }, async (t) => {
    const m = await startMeshUnderTest(t, mode)

    await t.test('h2 from the caller is routed like HTTP/1.1 (header match → v2; fault abort)', async (t) => {
      const r = await m.h2Request({ path: '/reviews/h2', headers: { 'x-canary': 'always' } })
      t.equal(r.status, 200, r.body)
      t.equal((JSON.parse(r.body) as { pod: string }).pod, 'reviews-v2')
      t.equal((await m.h2Request({ path: '/fault-abort/h2' })).status, 418)
      t.equal((await m.h2Request({ method: 'POST', path: '/reviews/h2' })).status, 403, 'the L7 policy applies to h2 too')
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
