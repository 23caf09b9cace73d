// Certificate rotation on both ends: established tunnels continue; new tunnels use the new cert.
import t from 'tap'
import { CLIENT_ID, SERVER_ID, hboneFixture } from './harness.js'
import { eventually } from '../../helpers/eventually.js'
import type { Tunnel } from '../../../src/hbone/pool.js'

type Tap = Parameters<Parameters<typeof t.test>[0]>[0]

async function roundTrip(t: Tap, tunnel: Tunnel, text: string): Promise<void> {
  const got: Buffer[] = []
  const onData = (c: Buffer): void => {
    got.push(c)
  }
  tunnel.stream.on('data', onData)
  tunnel.stream.write(text)
  await eventually(() => Buffer.concat(got).toString() === text)
  tunnel.stream.off('data', onData)
  t.equal(Buffer.concat(got).toString(), text, `round trip "${text}"`)
}

t.test('server rotation: established tunnel continues, new connections see the new certificate', async (t) => {
  const f = await hboneFixture(t)
  const pool = f.pool()
  const old = await pool.open(f.request())
  t.equal(old.peer.serialNumber, f.serverCert.serialNumber)
  const rotated = await f.pki.issue(SERVER_ID)
  t.not(rotated.serialNumber, f.serverCert.serialNumber)
  f.server.updateCertificate(rotated)
  await roundTrip(t, old, 'still flowing')

  const fresh = await f.pool().open(f.request())
  t.equal(fresh.peer.serialNumber, rotated.serialNumber, 'a new connection saw the new server certificate')
  await roundTrip(t, fresh, 'new tunnel')
  await roundTrip(t, old, 'old tunnel, after the new one')
  t.equal(f.server.stats().sessions, 2)
  for (const x of [old, fresh]) {
    x.stream.resume()
    x.stream.end()
  }
  await eventually(() => f.server.stats().streams === 0)
})

t.test('client rotation: established tunnel continues, new tunnels use the new certificate', async (t) => {
  const f = await hboneFixture(t)
  const pool = f.pool()
  const old = await pool.open(f.request())
  t.equal(f.connects[0]!.peer.serialNumber, f.clientCert.serialNumber)
  const rotated = await f.pki.issue(CLIENT_ID)
  pool.updateCertificate(rotated)
  await roundTrip(t, old, 'still flowing')

  const fresh = await pool.open(f.request())
  t.equal(fresh.localSerial, rotated.serialNumber)
  t.equal(f.connects[1]!.peer.serialNumber, rotated.serialNumber, 'the server saw the new client certificate')
  t.equal(pool.stats().connections, 2, 'the old connection stays for its tunnel')
  await roundTrip(t, old, 'old tunnel, after the new one')

  // When its last tunnel ends, the retired connection closes (it is not pooled any more).
  old.stream.resume()
  old.stream.end()
  await eventually(() => pool.stats().connections === 1)
  const third = await pool.open(f.request())
  t.equal(third.localSerial, rotated.serialNumber)
  t.equal(pool.stats().connections, 1, 'new tunnels share the new connection')
  for (const x of [fresh, third]) {
    x.stream.resume()
    x.stream.end()
  }
})
