// Which HTTP/2 streams ended by the peer's END_STREAM, and which were closed under their readable side.
import t from 'tap'
import http2 from 'node:http2'
import type { ClientHttp2Session, ServerHttp2Stream } from 'node:http2'
import { once } from 'node:events'
import { peerEndedStream, trackEndStream } from '../../../src/net/end-stream.js'
import { pipe, PipeErrorCode } from '../../../src/net/pipe.js'
import { closeServer, connectTcp, createTcpServer, listen } from '../../../src/net/listen.js'
import { eventually } from '../../helpers/eventually.js'

interface Cleanup {
  teardown(fn: () => unknown): void
}

/** An h2c server whose streams the test drives, and a client session to it. */
async function h2(t: Cleanup) {
  const streams: ServerHttp2Stream[] = []
  const server = http2.createServer()
  server.on('stream', (stream) => {
    trackEndStream(stream)
    stream.on('error', () => undefined)
    stream.respond({ ':status': 200 })
    stream.resume()
    streams.push(stream)
  })
  const address = await listen(server, { host: '127.0.0.1', port: 0 })
  t.teardown(() => closeServer(server))
  const session: ClientHttp2Session = http2.connect(`http://127.0.0.1:${address.port}`)
  session.on('error', () => undefined)
  t.teardown(() => session.destroy())
  const open = async () => {
    const stream = session.request({ ':method': 'CONNECT', ':authority': '127.0.0.1:1' }, { endStream: false })
    trackEndStream(stream)
    stream.on('error', () => undefined)
    await once(stream, 'response')
    await eventually(() => streams.length > 0)
    return { client: stream, server: streams.shift()! }
  }
  return { open, session }
}

t.test("the peer's END_STREAM, both ways", async (t) => {
  const { open } = await h2(t)
  const { client, server } = await open()
  t.equal(peerEndedStream(client), false, 'not yet')
  client.end('request')
  await once(server, 'end')
  t.equal(peerEndedStream(server), true, 'the server read the client END_STREAM')
  client.resume()
  server.end('reply')
  await once(client, 'close')
  t.equal(peerEndedStream(client), true, 'the client read the server END_STREAM')
  t.equal(client.rstCode, http2.constants.NGHTTP2_NO_ERROR)
})

// The client half-closed (its END_STREAM is out, so Node emits no 'aborted'), then the server side
// goes without END_STREAM: Node still ends the client's readable side, with no error.
const closedUnder: Array<[string, (server: ServerHttp2Stream) => void, number]> = [
  ['an RST_STREAM(NO_ERROR) before END_STREAM', (server) => server.destroy(), http2.constants.NGHTTP2_NO_ERROR],
  ['the connection goes away', (server) => server.session!.destroy(), http2.constants.NGHTTP2_CANCEL],
]
for (const [name, kill, rstCode] of closedUnder)
  t.test(`${name}: the readable side ends with no error, and is told apart`, async (t) => {
    const { open } = await h2(t)
    const { client, server } = await open()
    client.resume()
    client.end()
    await once(server, 'end')
    kill(server)
    await once(client, 'close')
    t.ok(client.readableEnded, "Node emitted 'end'")
    t.equal(client.errored, null)
    t.equal(client.rstCode, rstCode)
    t.equal(peerEndedStream(client), false)
  })

t.test('an untracked stream is unknown', async (t) => {
  const { session } = await h2(t)
  const stream = session.request({ ':method': 'CONNECT', ':authority': '127.0.0.1:1' }, { endStream: false })
  stream.on('error', () => undefined)
  t.equal(peerEndedStream(stream), undefined)
  stream.close()
})

t.test('the pipe resets the TCP side of a tunnel closed without END_STREAM, even with close code NO_ERROR', async (t) => {
  const { open } = await h2(t)
  const { client: tunnel, server } = await open()
  // app ⇄ (pipe) ⇄ tunnel: the app half-closes, then the server drops the stream.
  let result: ReturnType<typeof pipe> | undefined
  const listener = createTcpServer((socket) => {
    result = pipe(socket, tunnel)
  })
  const address = await listen(listener, { host: '127.0.0.1', port: 0 })
  t.teardown(() => closeServer(listener))
  const app = await connectTcp({ host: '127.0.0.1', port: address.port })
  t.teardown(() => {
    app.destroy()
  })
  const ending = new Promise<string>((resolve) => {
    app.on('end', () => resolve('end'))
    app.on('error', (err: NodeJS.ErrnoException) => resolve(err.code ?? 'error'))
  })
  app.resume()
  app.end()
  await once(server, 'end')
  server.destroy()
  t.equal(await ending, 'ECONNRESET', 'the app is reset, not ended')
  await eventually(() => result !== undefined)
  t.equal((await result!.done).error?.code, PipeErrorCode.upstream)
})
