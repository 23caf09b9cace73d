// The reference L7 hop of `bench:waypoint` (src/bench/workers/l7-reference-proxy.ts) on real sockets:
// the test opens mTLS h2 CONNECT tunnels to it (test CA), speaks HTTP/1.1 in them, and the hop
// forwards each request over its pooled upstream streams to the reference HBONE server (the built
// worker, dist/bench/workers/hbone-reference.js) in front of a node:http app that reports what it got
// and on which of its TCP connections.
import t from 'tap'
import type { Test } from 'tap'
import http from 'node:http'
import type http2 from 'node:http2'
import path from 'node:path'
import type { AddressInfo, Socket } from 'node:net'
import type { Duplex } from 'node:stream'
import { createTestPki } from '../../helpers/pki.js'
import type { TestPki } from '../../helpers/pki.js'
import { needs, requires } from '../../helpers/requires.js'
import { distDir } from '../../helpers/run-cli.js'
import { startL7Reference } from '../../../src/bench/workers/l7-reference-proxy.js'
import type { L7ReferenceConfig } from '../../../src/bench/workers/l7-reference-proxy.js'
import { connectH2Session } from '../../../src/bench/workers/reference-h2.js'
import { startWorker } from '../../../src/bench/workers/ipc.js'
import type { WorkerHandle } from '../../../src/bench/workers/ipc.js'
import type { SerializedCertificate } from '../../../src/bench/workers/hbone-config.js'
import type { HboneReferenceConfig } from '../../../src/bench/workers/hbone-reference.js'

const HOST = '127.0.0.1'
const HBONE_WORKER = path.join(distDir, 'bench/workers/hbone-reference.js')
const builtWorker = needs.file(HBONE_WORKER, 'npm run build')

interface AppSeen {
  method: string
  url: string
  bodyBytes: number
  connection: number
}

/** The app: answers every request with what it saw, with Content-Length (or chunked for /chunked). */
async function startApp(): Promise<{ server: http.Server; port: number; connections: () => number }> {
  let connections = 0
  const ids = new WeakMap<Socket, number>()
  const server = http.createServer((req, res) => {
    let bodyBytes = 0
    req.on('data', (c: Buffer) => (bodyBytes += c.length))
    req.on('end', () => {
      if (req.url === '/chunked') {
        res.write('no length')
        res.end()
        return
      }
      const seen: AppSeen = { method: req.method!, url: req.url!, bodyBytes, connection: ids.get(req.socket)! }
      const body = JSON.stringify(seen)
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) })
      res.end(body)
    })
  })
  server.on('connection', (s: Socket) => ids.set(s, ++connections))
  await new Promise<void>((resolve) => server.listen(0, HOST, resolve))
  return { server, port: (server.address() as AddressInfo).port, connections: () => connections }
}

interface Response {
  status: number
  headers: Record<string, string>
  body: string
}

/** Reads HTTP/1.1 responses off a duplex, in order (Content-Length bodies; none for HEAD). */
function responses(d: Duplex): { next(head?: boolean): Promise<Response>; ended(): Promise<void> } {
  let buf = Buffer.alloc(0)
  let ended = false
  let wake: (() => void) | undefined
  d.on('data', (c: Buffer) => {
    buf = Buffer.concat([buf, c])
    wake?.()
  })
  d.on('end', () => {
    ended = true
    wake?.()
  })
  d.on('close', () => {
    ended = true
    wake?.()
  })
  const until = async (ready: () => boolean): Promise<void> => {
    while (!ready()) {
      if (ended) throw new Error(`the tunnel ended; ${buf.length} bytes unread: ${buf.toString('latin1').slice(0, 200)}`)
      await new Promise<void>((resolve) => (wake = resolve))
    }
  }
  return {
    async next(head = false) {
      await until(() => buf.indexOf('\r\n\r\n') >= 0)
      const end = buf.indexOf('\r\n\r\n')
      const lines = buf.toString('latin1', 0, end).split('\r\n')
      const headers: Record<string, string> = {}
      for (const l of lines.slice(1)) headers[l.slice(0, l.indexOf(':')).toLowerCase()] = l.slice(l.indexOf(':') + 1).trim()
      const length = head ? 0 : Number(headers['content-length'] ?? 0)
      await until(() => buf.length >= end + 4 + length)
      const body = buf.toString('utf8', end + 4, end + 4 + length)
      buf = buf.subarray(end + 4 + length)
      return { status: Number(lines[0]!.split(' ')[1]), headers, body }
    },
    async ended() {
      await until(() => false).catch(() => undefined)
      if (buf.length > 0) throw new Error(`unexpected bytes after the last response: ${buf.toString('latin1').slice(0, 200)}`)
    },
  }
}

const get = (url: string, extra = ''): string => `GET ${url} HTTP/1.1\r\nhost: app\r\n${extra}\r\n`
const post = (url: string, bytes: number): string => `POST ${url} HTTP/1.1\r\nhost: app\r\ncontent-length: ${bytes}\r\n\r\n`
const seen = (r: Response): AppSeen => JSON.parse(r.body) as AppSeen

const serialize = (c: { keyPem: string; certChainPem: readonly string[]; rootsPem: readonly string[] }): SerializedCertificate => ({
  keyPem: c.keyPem,
  certChainPem: [...c.certChainPem],
  rootsPem: [...c.rootsPem],
})

interface Chain {
  app: Awaited<ReturnType<typeof startApp>>
  /** Opens a tunnel (a CONNECT stream) to the hop on `session` (default: a shared one). */
  tunnel(authority?: string, session?: http2.ClientHttp2Session): Promise<{ stream: http2.ClientHttp2Stream; status: number }>
  session(): http2.ClientHttp2Session
}

async function startChain(t: Test, pki: TestPki, options: Partial<L7ReferenceConfig> = {}): Promise<Chain> {
  const app = await startApp()
  t.teardown(() => new Promise<void>((resolve) => app.server.close(() => resolve())))
  const uri = (sa: string): string => `spiffe://${pki.trustDomain}/ns/bench/sa/${sa}`
  const [clientCert, hopCert, serverCert] = await Promise.all(
    ['client', 'hop', 'server'].map(async (sa) => serialize(await pki.issue(uri(sa)))),
  )
  const target = { host: HOST, port: app.port }
  const server: WorkerHandle = await startWorker<HboneReferenceConfig>('reference server', HBONE_WORKER, {
    role: 'server',
    host: HOST,
    certificate: serverCert!,
    allowedTargets: [target],
  })
  t.teardown(() => server.stop())
  const hop = await startL7Reference({
    host: HOST,
    certificate: hopCert!,
    upstream: { host: HOST, port: server.ports[0]! },
    upstreamUri: uri('server'),
    target,
    ...options,
  })
  t.teardown(() => hop.close())
  const sessions: http2.ClientHttp2Session[] = []
  t.teardown(() => {
    for (const s of sessions) s.destroy()
    app.server.closeAllConnections()
  })
  const newSession = (): http2.ClientHttp2Session => {
    const s = connectH2Session({ host: HOST, port: hop.ports[0]! }, uri('hop'), clientCert!)
    sessions.push(s)
    return s
  }
  const shared = newSession()
  return {
    app,
    session: newSession,
    tunnel(authority = `${HOST}:${app.port}`, session = shared) {
      const stream = session.request({ ':method': 'CONNECT', ':authority': authority }, { endStream: false })
      return new Promise((resolve, reject) => {
        stream.once('error', reject)
        stream.once('response', (h) => resolve({ stream, status: Number(h[':status']) }))
      })
    },
  }
}

t.test('the reference L7 hop forwards HTTP/1.1 between HBONE tunnels', { skip: requires(t, builtWorker) }, async (t) => {
  const pki = await createTestPki()
  t.teardown(() => pki.close())

  t.test('keep-alive requests on one tunnel reuse one upstream stream', async (t) => {
    const c = await startChain(t, pki)
    const { stream, status } = await c.tunnel()
    t.equal(status, 200, 'the tunnel is accepted')
    const rs = responses(stream)
    for (let i = 0; i < 3; i++) {
      stream.write(get(`/k/${i}`))
      const r = await rs.next()
      t.equal(r.status, 200)
      t.match(seen(r), { method: 'GET', url: `/k/${i}`, bodyBytes: 0, connection: 1 }, `request ${i} on the app's first connection`)
    }
    // HEAD: the response head says a length, no body follows; the next request still frames right.
    stream.write(`HEAD /h HTTP/1.1\r\nhost: app\r\n\r\n`)
    const h = await rs.next(true)
    t.equal(h.status, 200, 'HEAD answered')
    t.ok(Number(h.headers['content-length']) > 0, 'with the length a GET would have')
    stream.write(get('/after-head'))
    t.match(seen(await rs.next()), { url: '/after-head', connection: 1 })
    t.equal(c.app.connections(), 1, 'one app connection for every request: the upstream stream was reused')
    stream.end()
    await rs.ended()
    t.pass('the tunnel ends when the client ends it')
  })

  t.test('Content-Length bodies: in one write, split, large, and pipelined requests', async (t) => {
    const c = await startChain(t, pki)
    const { stream } = await c.tunnel()
    const rs = responses(stream)
    stream.write(post('/small', 5) + 'hello')
    t.match(seen(await rs.next()), { method: 'POST', url: '/small', bodyBytes: 5 })
    // Head and body in separate writes, the body itself in two.
    stream.write(post('/split', 3000))
    stream.write(Buffer.alloc(1000, 1))
    stream.write(Buffer.alloc(2000, 2))
    t.match(seen(await rs.next()), { url: '/split', bodyBytes: 3000 })
    const big = 300 * 1024
    stream.write(Buffer.concat([Buffer.from(post('/big', big)), Buffer.alloc(big, 3)]))
    t.match(seen(await rs.next()), { url: '/big', bodyBytes: big })
    // Two requests in one write: answered in order, the second read once the first is complete.
    stream.write(post('/p1', 4) + 'abcd' + get('/p2'))
    t.match(seen(await rs.next()), { url: '/p1', bodyBytes: 4 })
    t.match(seen(await rs.next()), { url: '/p2', bodyBytes: 0 })
    t.equal(c.app.connections(), 1, 'all on one upstream stream')
  })

  t.test('several tunnels at once, on one session and on another', async (t) => {
    const c = await startChain(t, pki)
    const other = c.session()
    const tunnels = await Promise.all([c.tunnel(), c.tunnel(), c.tunnel(undefined, other)])
    const rounds = 5
    const results = await Promise.all(
      tunnels.map(async ({ stream }, n) => {
        const rs = responses(stream)
        const urls: string[] = []
        for (let i = 0; i < rounds; i++) {
          stream.write(get(`/t${n}/${i}`))
          urls.push(seen(await rs.next()).url)
        }
        return urls
      }),
    )
    results.forEach((urls, n) =>
      t.same(
        urls,
        Array.from({ length: rounds }, (_, i) => `/t${n}/${i}`),
        `tunnel ${n} got its own responses in order`,
      ),
    )
    t.ok(c.app.connections() >= 1 && c.app.connections() <= tunnels.length, `${c.app.connections()} upstream streams for 3 tunnels`)
  })

  t.test('more tunnels than upstream streams wait for one', async (t) => {
    const c = await startChain(t, pki, { maxUpstreamStreams: 1 })
    const tunnels = await Promise.all([c.tunnel(), c.tunnel(), c.tunnel()])
    const rss = tunnels.map(({ stream }) => responses(stream))
    tunnels.forEach(({ stream }, n) => stream.write(post(`/w${n}`, 2) + 'xy'))
    const got = await Promise.all(rss.map((rs) => rs.next()))
    t.same(
      got.map((r) => seen(r).url),
      ['/w0', '/w1', '/w2'],
    )
    t.same(new Set(got.map((r) => seen(r).connection)).size, 1, 'all three over the one upstream stream')
  })

  t.test('refusals: chunked and upgrade requests, other authorities, responses without a length', async (t) => {
    const c = await startChain(t, pki)
    const chunked = await c.tunnel()
    const rc = responses(chunked.stream)
    chunked.stream.write(`POST /c HTTP/1.1\r\nhost: app\r\ntransfer-encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n`)
    const r = await rc.next()
    t.equal(r.status, 501, 'chunked request: 501')
    t.equal(r.headers['connection'], 'close')
    t.match(r.body, /chunked/)
    await rc.ended()
    t.pass('and the tunnel is closed')

    const upgrade = await c.tunnel()
    const ru = responses(upgrade.stream)
    upgrade.stream.write(get('/ws', 'connection: upgrade\r\nupgrade: websocket\r\n'))
    t.equal((await ru.next()).status, 501, 'upgrade: 501')

    const garbage = await c.tunnel()
    const rg = responses(garbage.stream)
    garbage.stream.write('NOT HTTP\r\n\r\n')
    t.equal((await rg.next()).status, 400, 'a malformed request line: 400')
    t.equal(c.app.connections(), 0, 'none of them reached the app')

    const elsewhere = await c.tunnel(`${HOST}:1`)
    t.equal(elsewhere.status, 403, 'a tunnel to another authority: 403')

    const noLength = await c.tunnel()
    const rn = responses(noLength.stream)
    noLength.stream.write(get('/chunked'))
    const bad = await rn.next()
    t.equal(bad.status, 502, 'a chunked response: 502')
    t.match(bad.body, /chunked responses/)
  })
})
