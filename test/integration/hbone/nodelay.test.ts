// Nagle off on every TLS leg of the data plane. A tls.Server's sockets do not get TCP_NODELAY and
// tls.connect ignores a noDelay option; node:http2 sets it on both ends of a session (the
// Http2Session constructor), so HBONE has it and the sidecar's mTLS legs must set it themselves.
// With Nagle, a small write after an unacknowledged one waits for the peer's delayed ACK (up to 40 ms
// on Linux). Node offers no getsockopt, so the test records setNoDelay calls on the sockets involved.
import t from 'tap'
import net from 'node:net'
import tls from 'node:tls'
import { connectMtls, serverContextOptions } from '../../../src/sidecar/mtls.js'
import { SERVER_ID, hboneFixture, readAll } from './harness.js'

function recordNoDelay(t: { teardown(fn: () => unknown): void }): Set<net.Socket> {
  const on = new Set<net.Socket>()
  const original = net.Socket.prototype.setNoDelay
  net.Socket.prototype.setNoDelay = function setNoDelay(this: net.Socket, enable?: boolean) {
    if (enable !== false) on.add(this)
    else on.delete(this)
    return original.call(this, enable)
  }
  t.teardown(() => {
    net.Socket.prototype.setNoDelay = original
  })
  return on
}

t.test('HBONE connections have noDelay on both ends (node:http2 sets it)', async (t) => {
  const on = recordNoDelay(t)
  const f = await hboneFixture(t)
  const pool = f.pool()
  const tunnel = await pool.open(f.request())
  const reply = readAll(tunnel.stream)
  tunnel.stream.end('ping')
  t.equal((await reply).ending, 'end')
  const accepted = [...on].filter((s) => s.localPort === f.serverAddress.port)
  t.ok(accepted.length >= 1, 'a socket accepted on the HBONE port had setNoDelay(true)')
  t.ok(
    [...on].some((s) => s.remotePort === f.serverAddress.port),
    'and the client side too',
  )
})

t.test('a sidecar mTLS connection has noDelay', async (t) => {
  const f = await hboneFixture(t)
  const on = recordNoDelay(t)
  const server = tls.createServer(serverContextOptions(f.serverCert), (s) => s.end())
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.teardown(() => new Promise((resolve) => server.close(resolve)))
  const port = (server.address() as net.AddressInfo).port
  const socket = await connectMtls({ cert: f.clientCert, host: '127.0.0.1', port, expected: SERVER_ID, connectTimeoutMs: 5000 })
  t.teardown(() => socket.destroy())
  t.ok(on.has(socket), 'the mTLS socket had setNoDelay(true)')
})
