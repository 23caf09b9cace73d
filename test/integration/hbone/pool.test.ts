// The pool: stream cap per connection, idle release, keepalive, abandoned streams, rotation.
import t from 'tap'
import v8 from 'node:v8'
import vm from 'node:vm'
import { freezableProxy, hboneFixture, readAll } from './harness.js'
import { eventually } from '../../helpers/eventually.js'
import { HboneErrorCode } from '../../../src/hbone/errors.js'
import type { Tunnel } from '../../../src/hbone/pool.js'

t.test('more than 100 concurrent streams → a second connection', async (t) => {
  const f = await hboneFixture(t)
  const pool = f.pool()
  const tunnels: Tunnel[] = await Promise.all(Array.from({ length: 101 }, () => pool.open(f.request())))
  t.same(pool.stats(), { connections: 2, streams: 101 })
  t.equal(f.server.stats().sessions, 2)
  t.equal(f.server.stats().streams, 101)
  // Every tunnel works.
  const replies = tunnels.map((tunnel, i) => {
    const reply = readAll(tunnel.stream)
    tunnel.stream.end(`t${i}`)
    return reply
  })
  const got = await Promise.all(replies)
  t.ok(got.every((r, i) => r.data.toString() === `t${i}`))
  await eventually(() => pool.stats().streams === 0 && f.server.stats().streams === 0)
  // A new tunnel reuses a pooled connection.
  const again = await pool.open(f.request())
  t.equal(pool.stats().connections, 2)
  again.stream.end()
  again.stream.resume()
})

t.test('connections of another key are not shared', async (t) => {
  const f = await hboneFixture(t)
  const pool = f.pool()
  const a = await pool.open(f.request())
  const b = await pool.open(f.request({ expectedIdentities: [f.serverCert.identity, f.clientCert.identity] }))
  t.equal(pool.stats().connections, 2)
  for (const x of [a, b]) {
    x.stream.resume()
    x.stream.end()
  }
})

t.test('idle connections are released', async (t) => {
  const f = await hboneFixture(t)
  const pool = f.pool({ idleTimeoutMs: 50 })
  const tunnel = await pool.open(f.request())
  const reply = readAll(tunnel.stream)
  tunnel.stream.end('x')
  t.equal((await reply).data.toString(), 'x', 'the tunnel carried its data')
  await eventually(() => pool.stats().connections === 0)
  t.same(pool.stats(), { connections: 0, streams: 0 }, 'released after the idle timeout')
  await eventually(() => f.server.stats().sessions === 0)
  t.equal(f.server.stats().sessions, 0, 'the server saw the connection close')
})

t.test('keepalive drops a connection whose peer stops answering', async (t) => {
  const f = await hboneFixture(t)
  const proxy = await freezableProxy(t, f.serverAddress.port)
  const pool = f.pool({ keepalive: { intervalMs: 20, timeoutMs: 100 } })
  const tunnel = await pool.open(f.request({ destination: { host: '127.0.0.1', port: proxy.port } }))
  const reply = readAll(tunnel.stream)
  proxy.freeze()
  const got = await reply
  t.equal(got.ending, 'error', 'the tunnel on it fails')
  await f.logs.waitFor((r) => r.event === 'hbone_keepalive_timeout')
  await eventually(() => pool.stats().connections === 0 && pool.stats().streams === 0)
  t.ok(f.logs.filter((r) => r.event === 'hbone_connection_closed' && r.code === HboneErrorCode.keepaliveTimeout).length === 1)
})

t.test('answered keepalives and an open tunnel keep the connection past the idle timeout', async (t) => {
  const f = await hboneFixture(t)
  const proxy = await freezableProxy(t, f.serverAddress.port)
  const pool = f.pool({ idleTimeoutMs: 20, keepalive: { intervalMs: 10, timeoutMs: 200 } })
  const tunnel = await pool.open(f.request({ destination: { host: '127.0.0.1', port: proxy.port } }))
  const reply = readAll(tunnel.stream)
  // PINGs are the clock: 20 of them at 10 ms span many idle timeouts.
  const before = proxy.chunksUp()
  await eventually(() => proxy.chunksUp() - before >= 20)
  t.equal(pool.stats().connections, 1, 'still pooled while a stream is open')
  tunnel.stream.end('alive')
  t.equal((await reply).data.toString(), 'alive')
  t.equal(f.logs.filter((r) => r.event === 'hbone_keepalive_timeout').length, 0)
  await eventually(() => pool.stats().connections === 0, { timeoutMs: 2_000 })
})

function heapUsedAfterGc(): number {
  v8.setFlagsFromString('--expose-gc')
  const gc = vm.runInNewContext('gc') as () => void
  gc()
  gc()
  return process.memoryUsage().heapUsed
}

t.test('1000 streams opened and abandoned: server streams back to 0, memory back near baseline', async (t) => {
  const f = await hboneFixture(t)
  const pool = f.pool()
  const out = await f.outbound(pool)
  // warm up once so lazily built things (TLS contexts, sessions) are in the baseline
  const warm = await f.app(out.port)
  warm.end('warm')
  warm.resume()
  await out.flows[0]
  const baseline = heapUsedAfterGc()
  const N = 1000
  const BATCH = 100
  for (let i = 0; i < N; i += BATCH) {
    await Promise.all(
      Array.from({ length: BATCH }, async () => {
        const app = await f.app(out.port)
        app.write('abandon me')
        app.destroy() // the app goes away without reading its reply
      }),
    )
  }
  await eventually(() => out.flows.length === N + 1, { timeoutMs: 30_000 })
  await Promise.all(out.flows)
  await eventually(() => f.server.stats().streams === 0 && pool.stats().streams === 0, { timeoutMs: 30_000 })
  t.equal(f.server.stats().streams, 0)
  t.ok(pool.stats().connections <= 1, `connections: ${pool.stats().connections}`)
  const growth = heapUsedAfterGc() - baseline
  t.ok(growth < 20 * 1024 * 1024, `heap growth ${(growth / 1024 / 1024).toFixed(1)} MiB`)
  const sessionsTornDown = f.logs.filter((r) => r.event === 'hbone_connection_closed').length
  t.comment(`sessions torn down by the peer during the run: ${sessionsTornDown}; heap growth ${(growth / 1024).toFixed(0)} KiB`)
})

t.test('the server PINGs too: answered PINGs keep a quiet session; a silent client is dropped server-side', async (t) => {
  const f = await hboneFixture(t, { server: { keepalive: { intervalMs: 20, timeoutMs: 100 } } })
  const proxy = await freezableProxy(t, f.serverAddress.port)
  // The client's own keepalive is out of the picture: only the server PINGs here.
  const pool = f.pool({ keepalive: { intervalMs: 3_600_000, timeoutMs: 3_600_000 } })
  const tunnel = await pool.open(f.request({ destination: { host: '127.0.0.1', port: proxy.port } }))
  const reply = readAll(tunnel.stream)
  // Nothing else goes client → server while the tunnel is quiet: the PING ACKs are what moves.
  const before = proxy.chunksUp()
  await eventually(() => proxy.chunksUp() - before >= 10)
  t.ok(proxy.chunksUp() - before >= 10, "the client answered the server's PINGs")
  t.equal(f.server.stats().sessions, 1, 'answered: the session stays')
  t.equal(f.logs.filter((r) => r.event === 'hbone_keepalive_timeout').length, 0)
  proxy.freeze()
  const record = await f.logs.waitFor((r) => r.event === 'hbone_keepalive_timeout')
  t.match(record, { side: 'server', timeoutMs: 100 }, 'the server noticed the silent peer')
  await eventually(() => f.server.stats().sessions === 0 && f.server.stats().streams === 0)
  t.same(f.server.stats(), { sessions: 0, streams: 0 }, 'the session and its tunnel are gone on the server')
  await eventually(() => f.serverFlows.length === 1)
  t.ok(f.serverFlows[0]!.error !== undefined, 'the server-side tunnel ended with an error, not a clean close')
  tunnel.stream.destroy()
  await reply
})
