// The SOCKS5 capture on real sockets: a client connects through it, a handler plays the outbound
// proxy (connect upstream, accept, pipe), and we check what each side sees.
import t from 'tap'
import { execFile } from 'node:child_process'
import http from 'node:http'
import net from 'node:net'
import type { CaptureLogger, CaptureRejectReason, CapturedConnection, CapturedConnectionHandler } from '../../../src/capture/capture.js'
import { createSocks5Capture, type Socks5CaptureOptions } from '../../../src/capture/socks5.js'
import { connectTcp, listen } from '../../../src/net/listen.js'
import { pipe } from '../../../src/net/pipe.js'
import { startEchoServer, type EchoServer } from '../../helpers/echo-server.js'
import { eventually } from '../../helpers/eventually.js'
import { needs, requires } from '../../helpers/requires.js'
import { connect, encodeRequest, readAll, readExactly } from '../../helpers/socks-client.js'

/** The part of a tap Test the helpers use: register cleanup at once. */
interface Test {
  teardown(fn: () => unknown): void
}

const HOST = '127.0.0.1'
const POD = 'uid-sleep-1'

interface LogRecord {
  level: 'debug' | 'warn'
  fields: Record<string, unknown>
  message: string
}

function recordingLogger(): { logger: CaptureLogger; records: LogRecord[]; events: () => unknown[] } {
  const records: LogRecord[] = []
  return {
    records,
    events: () => records.map((r) => r.fields.event),
    logger: {
      debug: (fields, message) => records.push({ level: 'debug', fields, message }),
      warn: (fields, message) => records.push({ level: 'warn', fields, message }),
    },
  }
}

async function startCapture(
  t: Test,
  onConnection: CapturedConnectionHandler,
  options: Partial<Socks5CaptureOptions> = {},
): Promise<{ port: number; close: () => Promise<void> }> {
  const capture = createSocks5Capture({ host: HOST, port: 0, sourcePod: POD, onConnection, ...options })
  const [bound] = await capture.start()
  t.teardown(() => capture.close())
  return { port: bound!.port, close: () => capture.close() }
}

/** What an outbound proxy does on success: connect upstream, tell the client, pipe. */
function proxyTo(target: { host: string; port: number }, seen: CapturedConnection[] = []): CapturedConnectionHandler {
  return (conn) => {
    seen.push(conn)
    void (async () => {
      let upstream: net.Socket
      try {
        upstream = await connectTcp(target)
      } catch {
        conn.reject('upstream-refused')
        return
      }
      await conn.accept()
      pipe(conn.socket, upstream)
      // The captured socket was explicitly paused: a 'data' listener alone does not resume it.
      conn.socket.resume()
    })()
  }
}

async function startEcho(t: Test): Promise<EchoServer> {
  const echo = await startEchoServer(HOST)
  t.teardown(() => echo.close())
  return echo
}

/** A raw TCP client, for bytes no well-behaved SOCKS client would send. */
async function rawClient(t: Test, port: number): Promise<net.Socket> {
  const socket = net.connect({ host: HOST, port })
  t.teardown(() => {
    socket.destroy()
  })
  await new Promise<void>((resolve, reject) => socket.once('connect', resolve).once('error', reject))
  return socket
}

t.test('IPv4 CONNECT: payload pipelined right after the request round-trips, half-close carried', async (t) => {
  const echo = await startEcho(t)
  const seen: CapturedConnection[] = []
  const { port } = await startCapture(t, proxyTo(echo, seen))

  const socket = await connect(HOST, port, { ip: HOST, port: echo.port }, { earlyData: 'hello ' })
  t.teardown(() => {
    socket.destroy()
  })
  t.equal((await readExactly(socket, 6)).toString(), 'hello ', 'early data was not lost')
  socket.end('world')
  t.equal((await readAll(socket)).toString(), 'world', 'data after the reply, then the echo server FIN')

  t.equal(seen.length, 1)
  t.equal(seen[0]!.sourcePod, POD)
  t.same(seen[0]!.originalDst, { kind: 'ip', ip: HOST, port: echo.port })
  await eventually(() => t.equal(echo.connections[0]?.ending, 'fin'))
})

t.test('domain CONNECT delivers the hostname; a large pipelined payload is intact', async (t) => {
  const echo = await startEcho(t)
  const seen: CapturedConnection[] = []
  const { port } = await startCapture(t, proxyTo(echo, seen))
  const payload = Buffer.alloc(256 * 1024, 'x')

  const socket = await connect(HOST, port, { host: 'Echo.Default', port: 7 }, { earlyData: payload })
  t.teardown(() => {
    socket.destroy()
  })
  t.equal((await readExactly(socket, payload.length)).compare(payload), 0)
  t.same(seen[0]!.originalDst, { kind: 'hostname', hostname: 'echo.default', port: 7 })
})

t.test('reject reasons become RFC 1928 reply codes', async (t) => {
  const reasons: CaptureRejectReason[] = [
    'internal',
    'policy-denied',
    'proxy-loop',
    'network-unreachable',
    'unknown-hostname',
    'no-healthy-endpoint',
    'upstream-timeout',
    'upstream-refused',
  ]
  const expected = [0x01, 0x02, 0x02, 0x03, 0x04, 0x04, 0x04, 0x05]
  // The destination port picks the reason, so one listener serves the whole table.
  const { port } = await startCapture(t, (conn) => conn.reject(reasons[conn.originalDst.port - 1]!))
  for (const [i, reason] of reasons.entries()) {
    await t.rejects(connect(HOST, port, { host: 'reviews', port: i + 1 }), { code: 'SOCKS_REPLY', replyCode: expected[i] }, reason)
  }
})

t.test('a refused upstream connect is reported as connection refused', async (t) => {
  const closed = net.createServer()
  const { port: deadPort } = await listen(closed, { host: HOST, port: 0 })
  await new Promise<void>((resolve) => closed.close(() => resolve()))
  const { port } = await startCapture(t, proxyTo({ host: HOST, port: deadPort }))
  await t.rejects(connect(HOST, port, { ip: HOST, port: deadPort }), { code: 'SOCKS_REPLY', replyCode: 0x05 })
})

t.test('handshake refusals', async (t) => {
  const log = recordingLogger()
  const { port } = await startCapture(t, () => t.fail('no connection expected'), { logger: log.logger })
  const cases: Array<{ name: string; send: Buffer; reply: number[]; event: string }> = [
    { name: 'only username/password offered', send: Buffer.from([0x05, 0x01, 0x02]), reply: [0x05, 0xff], event: 'no-acceptable-method' },
    {
      name: 'BIND',
      send: Buffer.concat([Buffer.from([0x05, 0x01, 0x00]), encodeRequest({ ip: HOST, port: 80 }, 0x02)]),
      reply: [0x05, 0x00, 0x05, 0x07, 0x00, 0x01, 0, 0, 0, 0, 0, 0],
      event: 'command-not-supported',
    },
    {
      name: 'UDP ASSOCIATE',
      send: Buffer.concat([Buffer.from([0x05, 0x01, 0x00]), encodeRequest({ ip: HOST, port: 80 }, 0x03)]),
      reply: [0x05, 0x00, 0x05, 0x07, 0x00, 0x01, 0, 0, 0, 0, 0, 0],
      event: 'command-not-supported',
    },
    {
      name: 'address type 2',
      send: Buffer.from([0x05, 0x01, 0x00, 0x05, 0x01, 0x00, 0x02, 1, 2, 3, 4, 0, 80]),
      reply: [0x05, 0x00, 0x05, 0x08, 0x00, 0x01, 0, 0, 0, 0, 0, 0],
      event: 'address-type-not-supported',
    },
    {
      name: 'empty domain name',
      send: Buffer.from([0x05, 0x01, 0x00, 0x05, 0x01, 0x00, 0x03, 0x00, 0, 80]),
      reply: [0x05, 0x00, 0x05, 0x01, 0x00, 0x01, 0, 0, 0, 0, 0, 0],
      event: 'malformed-request',
    },
  ]
  for (const c of cases) {
    const socket = await rawClient(t, port)
    socket.write(c.send)
    t.same([...(await readAll(socket))], c.reply, `${c.name}: reply, then close`)
    t.equal(log.records.at(-1)?.fields.event, c.event, `${c.name}: logged`)
  }
})

t.test('garbage closes the client without a reply; the listener keeps serving', async (t) => {
  const echo = await startEcho(t)
  const log = recordingLogger()
  const { port } = await startCapture(t, proxyTo(echo), { logger: log.logger })

  const garbage = await rawClient(t, port)
  garbage.write('GET / HTTP/1.1\r\nHost: reviews\r\n\r\n')
  t.equal((await readAll(garbage)).length, 0, 'closed with no bytes')
  t.match(
    log.records.find((r) => r.fields.event === 'bad-version'),
    { level: 'warn', fields: { pod: POD, phase: 'greeting', version: 0x47 } },
  )

  const socket = await connect(HOST, port, { ip: HOST, port: echo.port }, { earlyData: 'still here' })
  t.teardown(() => {
    socket.destroy()
  })
  t.equal((await readExactly(socket, 10)).toString(), 'still here')
})

t.test('many malformed clients: a few warn lines, then one "suppressed K similar" line', async (t) => {
  let now = 0
  const log = recordingLogger()
  const { port, close } = await startCapture(t, () => t.fail('no connection expected'), {
    logger: log.logger,
    warnLimit: { perInterval: 3, intervalMs: 1_000, now: () => now },
  })
  const badVersion = (): LogRecord[] => log.records.filter((r) => r.fields.event === 'bad-version')
  for (let i = 0; i < 20; i++) {
    const garbage = await rawClient(t, port)
    garbage.write('GET / HTTP/1.1\r\n\r\n')
    t.equal((await readAll(garbage)).length, 0, `client ${i}: closed with no bytes`)
  }
  t.equal(badVersion().length, 3, 'three of twenty written')
  now = 1_000
  const next = await rawClient(t, port)
  next.write('x')
  await readAll(next)
  t.match(log.records.filter((r) => r.level === 'warn').slice(-2), [
    { fields: { event: 'log_suppressed', key: 'bad-version', suppressed: 17 }, message: 'suppressed 17 similar lines (bad-version)' },
    { fields: { event: 'bad-version' } },
  ])
  now = 1_001
  for (let i = 0; i < 4; i++) {
    const more = await rawClient(t, port)
    more.write('x')
    await readAll(more)
  }
  await close()
  t.match(log.records.at(-1), { fields: { event: 'log_suppressed', suppressed: 2 } }, 'close reports what is pending')
})

t.test('an idle client is closed after the handshake timeout', async (t) => {
  const log = recordingLogger()
  const { port } = await startCapture(t, () => t.fail('no connection expected'), { logger: log.logger, handshakeTimeoutMs: 50 })
  const socket = await rawClient(t, port)
  socket.write(Buffer.from([0x05, 0x01, 0x00]))
  t.same([...(await readAll(socket))], [0x05, 0x00], 'method selected, then closed while waiting for the request')
  t.ok(log.events().includes('handshake-timeout'))
})

t.test('a client that half-closes mid-handshake is closed', async (t) => {
  const log = recordingLogger()
  const { port } = await startCapture(t, () => t.fail('no connection expected'), { logger: log.logger })
  const socket = await rawClient(t, port)
  socket.end(Buffer.from([0x05, 0x01]))
  t.same([...(await readAll(socket))], [], 'closed without a reply')
  await eventually(() => log.events().includes('client-closed-in-handshake'))
})

t.test('close() while starting wins: start() fails and nothing listens', async (t) => {
  const capture = createSocks5Capture({ host: HOST, port: 0, sourcePod: POD, onConnection: () => undefined })
  const starting = capture.start()
  await capture.close()
  await t.rejects(starting, { code: 'CAPTURE_CLOSED' })
})

t.test('a handler that throws answers general failure', async (t) => {
  const log = recordingLogger()
  const { port } = await startCapture(
    t,
    () => {
      throw new Error('boom')
    },
    { logger: log.logger },
  )
  await t.rejects(connect(HOST, port, { host: 'reviews', port: 9080 }), { code: 'SOCKS_REPLY', replyCode: 0x01 })
  t.ok(log.events().includes('handler-threw'))
})

t.test('accept and reject settle once', async (t) => {
  const conns: CapturedConnection[] = []
  const { port } = await startCapture(t, (conn) => conns.push(conn))

  const first = connect(HOST, port, { host: 'reviews', port: 9080 })
  await eventually(() => conns.length === 1)
  await conns[0]!.accept()
  const socket = await first
  t.teardown(() => {
    socket.destroy()
  })
  await t.rejects(conns[0]!.accept(), { code: 'CAPTURE_ALREADY_SETTLED' })
  conns[0]!.reject('policy-denied')
  t.equal((await readAll(socket)).length, 0, 'reject after accept closes without a SOCKS reply in the data stream')

  const second = connect(HOST, port, { host: 'reviews', port: 9080 })
  await eventually(() => conns.length === 2)
  conns[1]!.reject('policy-denied')
  conns[1]!.reject('internal')
  await t.rejects(second, { code: 'SOCKS_REPLY', replyCode: 0x02 }, 'the first reject wins')
  await t.rejects(conns[1]!.accept(), { code: 'CAPTURE_ALREADY_SETTLED' })

  const third = connect(HOST, port, { host: 'reviews', port: 9080 })
  await eventually(() => conns.length === 3)
  conns[2]!.socket.destroy()
  await t.rejects(conns[2]!.accept(), { code: 'CAPTURE_CLIENT_GONE', side: 'downstream' })
  await t.rejects(third, { code: 'SOCKS_CLOSED' }, 'the client sees the close')
})

t.test('close() drops handshakes in progress but leaves handed-over connections to the proxy', async (t) => {
  const conns: CapturedConnection[] = []
  const { port, close } = await startCapture(t, (conn) => conns.push(conn))
  const handedOver = connect(HOST, port, { ip: '127.96.0.1', port: 80 })
  await eventually(() => conns.length === 1)
  const halfway = await rawClient(t, port)
  halfway.write(Buffer.from([0x05, 0x01, 0x00]))
  t.same([...(await readExactly(halfway, 2))], [0x05, 0x00])

  await close()
  t.same([...(await readAll(halfway))], [], 'handshake in progress closed')
  t.notOk(conns[0]!.socket.destroyed, 'handed-over socket untouched')
  conns[0]!.reject('internal')
  await t.rejects(handedOver, { code: 'SOCKS_REPLY', replyCode: 0x01 }, 'the proxy can still answer it')
  await t.rejects(connectTcp({ host: HOST, port }), { code: 'NET_CONNECT_REFUSED' }, 'no longer listening')
  await close()
})

t.test('a taken port is a clear error naming the address', async (t) => {
  const { port } = await startCapture(t, () => undefined)
  const log = recordingLogger()
  const second = createSocks5Capture({ host: HOST, port, sourcePod: 'uid-other', onConnection: () => undefined, logger: log.logger })
  await t.rejects(second.start(), { code: 'NET_ADDRESS_IN_USE', side: 'config', details: { address: `${HOST}:${port}` } })
  t.match(
    log.records.find((r) => r.fields.event === 'listen-failed'),
    { level: 'warn', fields: { pod: 'uid-other' } },
  )
  await t.rejects(second.start(), { code: 'CAPTURE_ALREADY_STARTED' })
  await second.close()
})

t.test('curl --socks5-hostname goes through the capture', { skip: requires(t, needs.curl) }, async (t) => {
  const web = http.createServer((req, res) => res.end(`hello from ${req.url ?? ''}`))
  const { port: webPort } = await listen(web, { host: HOST, port: 0 })
  t.teardown(
    () =>
      new Promise<void>((resolve) => {
        web.closeAllConnections()
        web.close(() => resolve())
      }),
  )
  const seen: CapturedConnection[] = []
  const { port } = await startCapture(t, proxyTo({ host: HOST, port: webPort }, seen))

  // A clean environment: no inherited proxy variables change what curl does.
  const env = { PATH: process.env.PATH ?? '/usr/bin:/bin' }
  const stdout = await new Promise<string>((resolve, reject) => {
    execFile(
      'curl',
      ['-sS', '--max-time', '10', '--socks5-hostname', `${HOST}:${port}`, `http://productpage.default:${webPort}/productpage`],
      { env },
      (err, out, errOut) => (err ? reject(new Error(`curl failed: ${errOut}`, { cause: err })) : resolve(out)),
    )
  })
  t.equal(stdout, 'hello from /productpage')
  t.same(seen[0]?.originalDst, { kind: 'hostname', hostname: 'productpage.default', port: webPort })
})
