// HBONE server drain (stopAccepting): live tunnels keep flowing, nothing new gets in (no TCP accept,
// GOAWAY on every session, REFUSED_STREAM for a CONNECT that raced it), and the drained session
// closes by itself once its last tunnel ends.
import t from 'tap'
import net from 'node:net'
import { connectHbone } from '../../../src/hbone/client.js'
import { HboneErrorCode } from '../../../src/hbone/errors.js'
import { hboneFixture, readAll, SERVER_ID } from './harness.js'
import { eventually } from '../../helpers/eventually.js'

function tcpRefused(port: number): Promise<string> {
  return new Promise((resolve) => {
    const s = net.connect({ host: '127.0.0.1', port })
    s.once('connect', () => {
      s.destroy()
      resolve('connected')
    })
    s.once('error', (err: NodeJS.ErrnoException) => resolve(err.code ?? 'error'))
  })
}

t.test('a live tunnel keeps flowing after stopAccepting; new tunnels and new TCP connections are refused', async (t) => {
  const f = await hboneFixture(t)
  const pool = f.pool()
  const tunnel = await pool.open(f.request())
  const reply = readAll(tunnel.stream)
  tunnel.stream.write('before ')

  f.server.stopAccepting()
  f.server.stopAccepting() // idempotent
  t.ok(f.logs.filter((r) => r.event === 'hbone_stop_accepting').length === 1, 'logged once')

  t.equal(await tcpRefused(f.serverAddress.port), 'ECONNREFUSED', 'the listening socket is closed')
  const err = await pool.open(f.request()).catch((e: unknown) => e)
  t.ok(
    ([HboneErrorCode.connectFailed, HboneErrorCode.streamFailed, HboneErrorCode.closed] as string[]).includes(
      (err as { code: string }).code,
    ),
    `a new tunnel fails (${(err as { code: string }).code})`,
  )
  t.equal(f.connects.length, 1, 'the new CONNECT never reached the decision')

  tunnel.stream.end('after')
  const got = await reply
  t.equal(got.ending, 'end')
  t.equal(got.data.toString(), 'before after', 'the live tunnel carried bytes across the drain, then ended cleanly')
  await eventually(() => f.serverFlows.length === 1)
  t.notOk(f.serverFlows[0]!.error)
  await eventually(() => f.server.stats().sessions === 0 && f.server.stats().streams === 0)
  await f.server.close()
})

t.test('a CONNECT racing the GOAWAY on an existing session is refused, not served', async (t) => {
  const f = await hboneFixture(t)
  const conn = await connectHbone({
    host: '127.0.0.1',
    port: f.serverAddress.port,
    certificate: f.clientCert,
    expectedIdentities: [SERVER_ID],
    logger: f.logs.logger,
  })
  t.teardown(() => conn.destroy())
  // A first tunnel so that the session is established on the server before the drain.
  const first = await conn.open({ authority: { ip: '127.0.0.1', port: f.echo.port } })
  const firstReply = readAll(first)
  // Submitted before the drain, read by the server after its GOAWAY went out.
  const raced = conn.open({ authority: { ip: '127.0.0.1', port: f.echo.port } })
  f.server.stopAccepting()
  const err = await raced.catch((e: unknown) => e)
  t.match(err, { code: HboneErrorCode.streamFailed }, 'the raced stream failed without a 200')
  t.equal(f.connects.length, 1, 'only the first CONNECT was decided')
  await eventually(() => conn.draining, { timeoutMs: 2_000 })
  t.ok(conn.draining, 'the client saw GOAWAY: its pool would open no more streams here')
  first.end('still here')
  t.equal((await firstReply).data.toString(), 'still here')
  await conn.closed
})

t.test('close() after stopAccepting cuts what is left and resolves', async (t) => {
  const f = await hboneFixture(t)
  const pool = f.pool()
  const tunnel = await pool.open(f.request())
  const reply = readAll(tunnel.stream)
  f.server.stopAccepting()
  await f.server.close()
  const got = await reply
  t.equal(got.ending, 'error', 'the remaining tunnel is reset, not ended')
  t.equal(f.server.stats().sessions, 0)
})

t.test('stopAccepting before start, then close: nothing hangs', async (t) => {
  const f = await hboneFixture(t)
  await f.server.close()
  f.server.stopAccepting()
  await f.server.close()
  t.pass('closed twice around a stopAccepting')
})
