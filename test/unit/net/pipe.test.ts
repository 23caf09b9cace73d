// The one pipe between two TCP legs: bytes, half-close, resets, typed errors, one completion.
import t from 'tap'
import net from 'node:net'
import { randomBytes } from 'node:crypto'
import { once } from 'node:events'
import { pipe, PipeErrorCode } from '../../../src/net/pipe.js'
import type { Pipe } from '../../../src/net/pipe.js'
import { closeServer, connectTcp, createTcpServer, listen } from '../../../src/net/listen.js'
import { startEchoServer } from '../../helpers/echo-server.js'
import { eventually } from '../../helpers/eventually.js'

/** client → relay (pipe) → echo target. */
interface Cleanup {
  teardown(fn: () => unknown): void
}

async function relay(t: Cleanup) {
  const echo = await startEchoServer()
  t.teardown(() => echo.close())
  const pipes: Pipe[] = []
  const server = createTcpServer((downstream) => {
    downstream.on('error', () => {})
    void connectTcp({ host: echo.host, port: echo.port }).then((upstream) => {
      pipes.push(pipe(downstream, upstream))
    })
  })
  const address = await listen(server, { host: '127.0.0.1', port: 0 })
  t.teardown(() => closeServer(server))
  const connect = async (): Promise<net.Socket> => {
    const socket = await connectTcp({ host: '127.0.0.1', port: address.port })
    t.teardown(() => {
      socket.destroy()
    })
    return socket
  }
  return { echo, pipes, connect }
}

function collect(socket: net.Socket): Promise<{ data: Buffer; ending: 'fin' | 'reset'; code?: string }> {
  const chunks: Buffer[] = []
  socket.on('data', (c: Buffer) => chunks.push(c))
  return new Promise((resolve) => {
    socket.on('end', () => resolve({ data: Buffer.concat(chunks), ending: 'fin' }))
    socket.on('error', (err: NodeJS.ErrnoException) =>
      resolve({ data: Buffer.concat(chunks), ending: 'reset', ...(err.code ? { code: err.code } : {}) }),
    )
  })
}

t.test('copies bytes both ways with half-close and counts them', async (t) => {
  const { pipes, connect, echo } = await relay(t)
  const client = await connect()
  const payload = randomBytes(3 * 1024 * 1024 + 17)
  const received = collect(client)
  client.end(payload)
  const got = await received
  t.equal(got.ending, 'fin')
  t.ok(got.data.equals(payload), 'echo is byte-exact')
  const result = await pipes[0]!.done
  t.same(result, { bytesSent: payload.length, bytesReceived: payload.length })
  t.equal(echo.connections[0]!.ending, 'fin')
})

t.test('a half-closed client still receives', async (t) => {
  const echo = await startEchoServer('127.0.0.1', { echo: false, endOnFin: false })
  t.teardown(() => echo.close())
  const late = Buffer.from('late reply')
  let result: Promise<unknown> | undefined
  const server = createTcpServer((downstream) => {
    void connectTcp({ host: echo.host, port: echo.port }).then((upstream) => {
      result = pipe(downstream, upstream).done
    })
  })
  const address = await listen(server, { host: '127.0.0.1', port: 0 })
  t.teardown(() => closeServer(server))
  const client = await connectTcp({ host: '127.0.0.1', port: address.port })
  const received = collect(client)
  client.end('request')
  // The target got the FIN while its own side is still open; it answers after.
  await eventually(() => echo.connections[0]?.ending === 'fin')
  t.equal(client.readableEnded, false)
  echo.connections[0]!.socket.end(late)
  const got = await received
  t.equal(got.data.toString(), 'late reply')
  t.same(await result, { bytesSent: late.length, bytesReceived: 7 })
})

t.test('a client reset arrives as a reset at the target', async (t) => {
  const { pipes, connect, echo } = await relay(t)
  const client = await connect()
  client.write('hello')
  await eventually(() => echo.connections[0]?.bytes === 5)
  client.resetAndDestroy()
  await eventually(() => echo.connections[0]!.ending === 'reset')
  const result = await pipes[0]!.done
  t.equal(result.error?.code, PipeErrorCode.downstream)
  t.equal(result.error?.side, 'downstream')
  t.equal(result.bytesReceived, 5)
})

t.test('a target reset arrives as a reset at the client', async (t) => {
  const { pipes, connect, echo } = await relay(t)
  const client = await connect()
  const received = collect(client)
  client.write('hello')
  await eventually(() => echo.connections[0]?.bytes === 5)
  echo.connections[0]!.socket.resetAndDestroy()
  const got = await received
  t.equal(got.ending, 'reset')
  t.equal(got.code, 'ECONNRESET')
  const result = await pipes[0]!.done
  t.equal(result.error?.code, PipeErrorCode.upstream)
  t.equal(result.error?.side, 'upstream')
})

t.test('abort resets both sides and reports the reason once', async (t) => {
  const { pipes, connect, echo } = await relay(t)
  const client = await connect()
  const received = collect(client)
  client.write('x')
  await eventually(() => pipes.length === 1 && echo.connections[0]?.bytes === 1)
  let settled = 0
  void pipes[0]!.done.then(() => settled++)
  pipes[0]!.abort()
  pipes[0]!.abort()
  t.equal((await received).ending, 'reset')
  await eventually(() => echo.connections[0]!.ending === 'reset')
  t.equal((await pipes[0]!.done).error?.code, PipeErrorCode.aborted)
  t.equal(settled, 1)
})

t.test('an already-ended source is half-closed through at once', async (t) => {
  const echo = await startEchoServer()
  t.teardown(() => echo.close())
  const server = createTcpServer((downstream) => {
    downstream.on('error', () => {})
    downstream.resume()
    downstream.once('end', () => {
      // attach only after 'end' was emitted: the pipe must still forward the FIN
      void connectTcp({ host: echo.host, port: echo.port }).then((upstream) => pipe(downstream, upstream))
    })
  })
  const address = await listen(server, { host: '127.0.0.1', port: 0 })
  t.teardown(() => closeServer(server))
  const client = await connectTcp({ host: '127.0.0.1', port: address.port })
  const received = collect(client)
  client.end()
  t.equal((await received).ending, 'fin')
  await eventually(() => echo.connections[0]?.ending === 'fin')
})

t.test('sockets get allowHalfOpen even if created without it', async (t) => {
  const a = new net.Socket()
  const b = new net.Socket()
  t.equal(a.allowHalfOpen, false)
  const p = pipe(a, b)
  t.equal(a.allowHalfOpen, true)
  p.abort()
  a.destroy()
  b.destroy()
  await once(b, 'close')
  t.equal((await p.done).error?.code, PipeErrorCode.aborted)
})

t.test('a slow reader pauses the writer: the pipe holds at most its bound, then delivers every byte', async (t) => {
  // A target that does not read at first: the kernel buffers fill, the relay's write buffer grows to
  // the bound, the pipe stops reading the client, and the client's own writes back up.
  const bound = 256 * 1024
  const chunks: Buffer[] = []
  let target: net.Socket | undefined
  const sink = createTcpServer((socket) => {
    target = socket
    socket.pause()
    socket.on('data', (c: Buffer) => chunks.push(c))
    socket.on('end', () => socket.end())
  })
  const sinkAddress = await listen(sink, { host: '127.0.0.1', port: 0 })
  t.teardown(() => closeServer(sink))
  let upstream: net.Socket | undefined
  let flow: Pipe | undefined
  const server = createTcpServer((downstream) => {
    downstream.on('error', () => {})
    void connectTcp({ host: '127.0.0.1', port: sinkAddress.port }).then((u) => {
      upstream = u
      flow = pipe(downstream, u, { maxBufferedBytes: bound })
    })
  })
  const address = await listen(server, { host: '127.0.0.1', port: 0 })
  t.teardown(() => closeServer(server))
  const client = await connectTcp({ host: '127.0.0.1', port: address.port })
  t.teardown(() => {
    client.destroy()
  })

  const payload = randomBytes(64 * 1024 * 1024)
  let maxQueued = 0
  const sample = setInterval(() => {
    maxQueued = Math.max(maxQueued, upstream?.writableLength ?? 0)
  }, 1)
  t.teardown(() => clearInterval(sample))
  const accepted = client.write(payload)
  t.equal(accepted, false, 'the client sees backpressure')
  // Let the buffers fill and settle: the pipe must stop reading well before 64 MiB.
  await eventually(() => flow !== undefined && upstream !== undefined && upstream.writableLength >= bound)
  const settled = flow!.bytesReceived
  await new Promise((resolve) => setTimeout(resolve, 200))
  t.equal(flow!.bytesReceived, settled, 'the pipe stopped reading the client')
  t.ok(settled < payload.length / 2, `the pipe read ${settled} of ${payload.length} bytes while the target did not read`)
  t.ok(maxQueued <= bound + 64 * 1024, `at most bound + one chunk queued (max ${maxQueued}, bound ${bound})`)
  t.ok(client.writableLength > 0, 'the rest waits in the client')

  // The reader catches up: everything arrives, byte-exact.
  client.end()
  target!.resume()
  await once(target!, 'end')
  t.ok(Buffer.concat(chunks).equals(payload), 'byte-exact once the reader reads')
  t.same(await flow!.done, { bytesSent: 0, bytesReceived: payload.length })
  t.ok(maxQueued <= bound + 64 * 1024, `still bounded while draining (max ${maxQueued})`)
})

t.test('reset() on a connected TLS socket destroys it instead of throwing (resetAndDestroy needs a TCP handle)', async (t) => {
  const tls = await import('node:tls')
  const { createTestPki } = await import('../../helpers/pki.js')
  const { reset } = await import('../../../src/net/pipe.js')
  const pki = await createTestPki()
  t.teardown(() => pki.close())
  const cert = await pki.issue('spiffe://cluster.local/ns/default/sa/server')
  const server = tls.createServer({ key: cert.keyPem, cert: cert.certChainPem.join('\n'), minVersion: 'TLSv1.3' }, (s) =>
    s.on('error', () => undefined),
  )
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.teardown(() => new Promise<void>((resolve) => server.close(() => resolve())))
  const port = (server.address() as { port: number }).port
  const client = tls.connect({ host: '127.0.0.1', port, ca: pki.rootPem, checkServerIdentity: () => undefined })
  client.on('error', () => undefined)
  await new Promise<void>((resolve) => client.once('secureConnect', () => resolve()))
  t.equal(client.pending, false, 'connected')
  t.doesNotThrow(() => reset(client))
  t.ok(client.destroyed)
})

t.test(
  'reset() of a socket whose FIN is queued closes it (Node 20: resetAndDestroy then fails with EINVAL and never closes)',
  async (t) => {
    const { reset } = await import('../../../src/net/pipe.js')
    const server = createTcpServer((s) => {
      s.on('error', () => undefined)
      s.on('end', () => s.end())
    })
    const address = await listen(server, { host: '127.0.0.1', port: 0 })
    t.teardown(() => closeServer(server))
    const client = await connectTcp({ host: '127.0.0.1', port: address.port })
    const errors: string[] = []
    client.on('error', (err: NodeJS.ErrnoException) => errors.push(err.code ?? err.message))
    client.end()
    // One tick on, the shutdown request is queued in libuv, and libuv refuses SO_LINGER until it is done.
    await new Promise((resolve) => process.nextTick(resolve))
    t.ok(client.writableEnded && !client.writableFinished, 'FIN queued')
    reset(client)
    await once(client, 'close')
    t.same(errors, [])
  },
)
