import t from 'tap'
import type net from 'node:net'
import { closeServer, connectTcp, ConnectErrorCode, createTcpServer, listen, ListenErrorCode } from '../../../src/net/listen.js'
import { formatHostPort } from '../../../src/net/address.js'

t.test('a taken port is an error naming the address', async (t) => {
  const first = createTcpServer(() => {})
  const { port } = await listen(first, { host: '127.0.0.1', port: 0 })
  t.teardown(() => closeServer(first))
  const second = createTcpServer(() => {})
  const err = await listen(second, { host: '127.0.0.1', port }).catch((e: unknown) => e)
  t.match(err, { code: ListenErrorCode.addressInUse, side: 'config', details: { address: `127.0.0.1:${port}` } })
  t.match((err as Error).message, `127.0.0.1:${port}`)
})

t.test('an address not on this host', async (t) => {
  const server = createTcpServer(() => {})
  const err = await listen(server, { host: '192.0.2.1', port: 0 }).catch((e: unknown) => e)
  t.match(err, { code: ListenErrorCode.addressUnavailable })
})

t.test('accepted and connected sockets are half-open with noDelay', async (t) => {
  let accepted: net.Socket | undefined
  const server = createTcpServer((s) => {
    accepted = s
  })
  const { port } = await listen(server, { host: '127.0.0.1', port: 0 })
  t.teardown(() => closeServer(server))
  const client = await connectTcp({ host: '127.0.0.1', port })
  t.teardown(() => {
    client.destroy()
    accepted?.destroy()
  })
  t.equal(client.allowHalfOpen, true)
  await new Promise<void>((r) => {
    const i = setInterval(() => {
      if (accepted) {
        clearInterval(i)
        r()
      }
    }, 2)
  })
  t.equal(accepted!.allowHalfOpen, true)
})

t.test('a refused connect is a typed upstream error', async (t) => {
  const server = createTcpServer(() => {})
  const { port } = await listen(server, { host: '127.0.0.1', port: 0 })
  await closeServer(server)
  const err = await connectTcp({ host: '127.0.0.1', port }).catch((e: unknown) => e)
  t.match(err, { code: ConnectErrorCode.refused, side: 'upstream' })
})

t.test('formatHostPort brackets IPv6', async (t) => {
  t.equal(formatHostPort('10.0.0.1', 80), '10.0.0.1:80')
  t.equal(formatHostPort('::1', 15008), '[::1]:15008')
})
