// The node endpoints over HTTP, on a standalone ztunnel (startDaemon): admin 15000 (/config_dump,
// /logging, /quitquitquit), metrics 15020 (/metrics, /stats/prometheus), readiness 15021
// (/healthz/ready: 200 `ready`, else 500 listing what is pending).
import t from 'tap'
import net from 'node:net'
import { createCapturingLogger } from '../../../src/observability/capturing-logger.js'
import { LoggerErrorCode } from '../../../src/observability/logger.js'
import { AdminErrorCode, adminBindHost, createAdminServers } from '../../../src/ztunnel/admin.js'
import { request as httpRequest } from 'node:http'
import { connect, readAll, readExactly } from '../../helpers/socks-client.js'
import { fixtureIps, startDaemonFixture, type FixturePod } from './daemon-fixture.js'

const pods: FixturePod[] = [
  { name: 'sleep', index: 1 },
  { name: 'echo', index: 2, appPorts: [8080] },
]

async function http(url: string, method = 'GET'): Promise<{ status: number; type: string; body: string }> {
  const res = await fetch(url, { method })
  return { status: res.status, type: res.headers.get('content-type') ?? '', body: await res.text() }
}

/** A request with headers fetch() will not set (Host), as a browser after DNS rebinding sends them. */
function raw(url: string, method: string, headers: Record<string, string>): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(url, { method, headers, setHost: headers.host === undefined }, (res) => {
      let body = ''
      res.on('data', (c: Buffer) => {
        body += c.toString()
      })
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }))
    })
    req.on('error', reject)
    req.end()
  })
}

interface Dump {
  workloads: Array<{ name: string; uid: string }>
  services: Array<{ hostname: string }>
  policies: Array<{ name: string }>
  certificates: Array<{ identity: string; state: string; serialNumber: string; validFrom: string; expirationTime: string }>
  pods: Array<{ name: string; state: string; listeners: Record<string, string> }>
  connections: Array<{ direction: string; src: { identity?: string }; dst: { workload?: string; addr: string } }>
  config: { node: string }
  configStatus: { outcome: string; errors: unknown[] }
}

t.test('/config_dump: workloads, services, policies, certificates with serial and validity, live connections', async (t) => {
  const policy = { name: 'allow-all', namespace: 'default', scope: 'NAMESPACE', action: 'ALLOW', rules: [{ clauses: [] }] }
  const f = await startDaemonFixture(t, { pods, policies: [policy] })
  const s = await connect(f.podIp(1), 15080, { ip: f.podIp(2), port: 8080 })
  s.write('hi')
  await readExactly(s, 2)

  const res = await http(f.url('admin', '/config_dump'))
  t.equal(res.status, 200)
  t.match(res.type, /application\/json/)
  const dump = JSON.parse(res.body) as Dump
  t.same(dump.workloads.map((w) => w.name).sort(), ['echo', 'sleep'])
  t.same(
    dump.services.map((x) => x.hostname),
    ['echo.default.svc.cluster.local'],
  )
  t.same(
    dump.policies.map((p) => p.name),
    ['allow-all'],
  )
  t.equal(dump.config.node, 'node-a')
  t.match(dump.configStatus, { outcome: 'applied', errors: [] })
  t.match(dump.pods, [{ state: 'ready' }, { state: 'ready' }])
  const ids = dump.certificates.map((c) => c.identity).sort()
  t.same(ids, ['spiffe://cluster.local/ns/default/sa/echo', 'spiffe://cluster.local/ns/default/sa/sleep'])
  for (const c of dump.certificates) {
    t.equal(c.state, 'available')
    t.match(c.serialNumber, /^[0-9a-f]+$/)
    t.ok(Date.parse(c.validFrom) <= Date.now() && Date.parse(c.expirationTime) > Date.now(), `${c.identity} is valid now`)
  }
  t.match(
    dump.connections.filter((c) => c.direction === 'inbound'),
    [{ src: { identity: 'spiffe://cluster.local/ns/default/sa/sleep' }, dst: { workload: 'echo' } }],
  )
  t.match(
    dump.connections.filter((c) => c.direction === 'outbound'),
    [{ dst: { workload: 'echo', addr: `${f.podIp(2)}:8080` } }],
  )

  s.end()
  await readAll(s)
  await f.log.waitFor((r) => r.msg === 'connection complete' && r.direction === 'inbound')
  await f.log.waitFor((r) => r.msg === 'connection complete' && r.direction === 'outbound')
  const after = JSON.parse((await http(f.url('admin', '/config_dump'))).body) as Dump
  t.same(after.connections, [], 'closed connections leave the dump')

  t.equal((await http(f.url('admin', '/nope'))).status, 404)
})

t.test('/metrics and /stats/prometheus: Prometheus text with the TCP counters', async (t) => {
  const f = await startDaemonFixture(t, { pods })
  const s = await connect(f.podIp(1), 15080, { ip: f.podIp(2), port: 8080 })
  s.end('abc')
  await readAll(s)
  await f.log.waitFor((r) => r.msg === 'connection complete' && r.direction === 'inbound')
  for (const path of ['/metrics', '/stats/prometheus']) {
    const res = await http(f.url('metrics', path))
    t.equal(res.status, 200, path)
    t.match(res.type, /^text\/plain/)
    t.match(res.body, /istio_tcp_connections_opened_total\{[^}]*reporter="destination"[^}]*destination_workload="echo"[^}]*\} 1/)
    t.match(res.body, /istio_tcp_received_bytes_total\{[^}]*reporter="source"[^}]*\} 3/)
  }
  t.equal((await http(f.url('metrics', '/'))).status, 404)
})

t.test('/logging: GET shows the levels, POST ?level= changes them, a bad spec is a 400 with its code', async (t) => {
  const f = await startDaemonFixture(t, { pods: [] })
  const levels = async () => JSON.parse((await http(f.url('admin', '/logging'))).body) as unknown
  t.same(await levels(), { level: 'debug', scopes: {} })
  const set = await http(f.url('admin', '/logging?level=info,inbound:trace'), 'POST')
  t.equal(set.status, 200)
  t.same(JSON.parse(set.body), { level: 'info', scopes: { inbound: 'trace' } })
  t.same(await levels(), { level: 'info', scopes: { inbound: 'trace' } })
  const bad = await http(f.url('admin', '/logging?level=loud'), 'POST')
  t.equal(bad.status, 400)
  t.match(JSON.parse(bad.body), { code: LoggerErrorCode.invalidLevel })
  t.same(await levels(), { level: 'info', scopes: { inbound: 'trace' } }, 'a bad spec changes nothing')
  t.equal((await http(f.url('admin', '/logging?level=debug'))).status, 405, 'changing needs POST')
})

t.test('/quitquitquit: POST asks the process to stop; GET does not', async (t) => {
  const f = await startDaemonFixture(t, { pods: [] })
  t.equal((await http(f.url('admin', '/quitquitquit'))).status, 405)
  t.equal(f.quits, 0)
  const res = await http(f.url('admin', '/quitquitquit'), 'POST')
  t.equal(res.status, 200)
  t.equal(f.quits, 1)
})

t.test('/healthz/ready: 200 `ready` when every pod is up', async (t) => {
  const f = await startDaemonFixture(t, { pods })
  const res = await http(f.url('readiness', '/healthz/ready'))
  t.same({ status: res.status, body: res.body }, { status: 200, body: 'ready\n' })
  t.equal((await http(f.url('readiness', '/'))).status, 404)
})

/** Takes host:port before the daemon starts, as another process would. */
function squat(t: Tap, host: string, port: number): Promise<void> {
  const server = net.createServer()
  t.teardown(() => new Promise<void>((res) => server.close(() => res())))
  return new Promise((res, rej) => {
    server.once('error', rej)
    server.listen({ host, port }, () => res())
  })
}
type Tap = Parameters<Parameters<typeof t.test>[0]>[0]

for (const [what, port] of [
  ['HBONE port 15008', 15008],
  ['SOCKS port 15080', 15080],
  ['app port 8080 (plaintext inbound)', 8080],
] as const) {
  t.test(`/healthz/ready: 500 naming the pod whose ${what} is taken; the other pod still serves`, async (t) => {
    const f = await startDaemonFixture(t, { pods, beforeStart: (base) => squat(t, fixtureIps(base).podIp(2), port) })
    const res = await http(f.url('readiness', '/healthz/ready'))
    t.equal(res.status, 500)
    const where = `${f.podIp(2)}:${port}`
    t.match(
      res.body,
      new RegExp(
        `^not ready:\\n {2}default/echo: failed \\(cannot listen on ${where.replaceAll('.', '\\.')}: address already in use\\)\\n$`,
      ),
    )
    t.match(
      f.log.filter((r) => r.event === 'pods_failed'),
      [{ pods: [/default\/echo: cannot listen on/] }],
      'logged at start',
    )
    t.match(
      f.daemon.ztunnel.pods().find((p) => p.name === 'sleep'),
      { state: 'ready' },
    )
  })
}

t.test('/healthz/ready: 500 `state not loaded` before the first config', async (t) => {
  const f = await startDaemonFixture(t, { pods: [] })
  const admin = createAdminServers({
    host: f.nodeIp,
    ports: { admin: 0, metrics: 0, readiness: 0 },
    ztunnel: f.daemon.ztunnel,
    mesh: f.daemon.mesh,
    certificates: f.daemon.certificates,
    logger: createCapturingLogger().logger,
    config: {},
    stateLoaded: () => false,
    onQuit: () => undefined,
  })
  const bound = await admin.start()
  t.teardown(() => admin.close())
  const res = await http(`http://${f.nodeIp}:${bound.readiness.port}/healthz/ready`)
  t.same({ status: res.status, body: res.body }, { status: 500, body: 'not ready:\n  state not loaded\n' })
})

t.test('/healthz/ready: 500 while draining', async (t) => {
  const f = await startDaemonFixture(t, { pods })
  await f.daemon.drain(1_000)
  const res = await http(f.url('readiness', '/healthz/ready'))
  t.same({ status: res.status, body: res.body }, { status: 500, body: 'not ready:\n  draining: shutting down\n' })
})

t.test('admin refuses a foreign Origin and a non-loopback Host with 403 and a code; nothing changes', async (t) => {
  const f = await startDaemonFixture(t, { pods: [] })
  const levels = async (): Promise<string> => (await http(f.url('admin', '/logging'))).body
  const before = await levels()
  const hostPort = f.url('admin', '').slice('http://'.length)
  const cases: Array<[string, string, string, Record<string, string>, string]> = [
    ['cross-origin form POST /quitquitquit', 'POST', '/quitquitquit', { origin: 'http://evil.example' }, AdminErrorCode.foreignOrigin],
    ['cross-origin POST /logging', 'POST', '/logging?level=trace', { origin: 'https://evil.example' }, AdminErrorCode.foreignOrigin],
    ['an opaque origin (sandboxed page)', 'POST', '/quitquitquit', { origin: 'null' }, AdminErrorCode.foreignOrigin],
    [
      "another loopback port's page (the dashboard)",
      'POST',
      '/quitquitquit',
      { origin: 'http://127.0.0.1:20001' },
      AdminErrorCode.foreignOrigin,
    ],
    [
      "DNS rebinding: POST with the attacker's Host",
      'POST',
      '/quitquitquit',
      { host: `evil.example:${hostPort.split(':')[1]!}` },
      AdminErrorCode.unexpectedHost,
    ],
    ['DNS rebinding: GET /config_dump', 'GET', '/config_dump', { host: 'rebind.evil.example' }, AdminErrorCode.unexpectedHost],
    ['a Host that is no address', 'GET', '/config_dump', { host: 'bad host' }, AdminErrorCode.unexpectedHost],
  ]
  for (const [name, method, path, headers, code] of cases) {
    const res = await raw(f.url('admin', path), method, headers)
    t.equal(res.status, 403, `${name}: 403`)
    t.match(JSON.parse(res.body), { code, error: String }, `${name}: ${code}`)
  }
  t.equal(f.quits, 0, 'no quit got through')
  t.equal(await levels(), before, 'the log levels are unchanged')
  t.ok(f.log.filter((r) => r.event === 'admin_request_refused').length >= 1, 'refusals are logged')
  // Tools on the machine: curl and fetch send a loopback Host and no Origin; a same-host Origin is fine.
  t.equal(
    (await raw(f.url('admin', '/config_dump'), 'GET', { host: `localhost:${hostPort.split(':')[1]!}` })).status,
    200,
    'Host localhost',
  )
  t.equal((await raw(f.url('admin', '/quitquitquit'), 'POST', { origin: `http://${hostPort}` })).status, 200, 'same-host Origin')
  t.equal(f.quits, 1)
})

t.test('admin binds loopback only: the node IP when it is loopback, else 127.0.0.1', async (t) => {
  for (const [nodeIp, want] of [
    ['127.18.0.1', '127.18.0.1'],
    ['10.0.0.5', '127.0.0.1'],
    ['0.0.0.0', '127.0.0.1'],
    ['::', '127.0.0.1'],
    ['::1', '::1'],
    ['192.168.1.2', '127.0.0.1'],
  ] as const) {
    t.equal(adminBindHost(nodeIp), want, `--node-ip ${nodeIp} → admin on ${want}`)
  }
  // Every other port follows the node IP; admin does not.
  const f = await startDaemonFixture(t, { pods: [] })
  const admin = createAdminServers({
    host: '0.0.0.0',
    ports: { admin: 0, metrics: 0, readiness: 0 },
    ztunnel: f.daemon.ztunnel,
    mesh: f.daemon.mesh,
    certificates: f.daemon.certificates,
    logger: createCapturingLogger().logger,
    config: {},
    stateLoaded: () => true,
    onQuit: () => undefined,
  })
  const bound = await admin.start()
  t.teardown(() => admin.close())
  t.equal(bound.admin.address, '127.0.0.1', 'admin on loopback')
  t.equal(bound.metrics.address, '0.0.0.0', 'metrics on the node IP')
})
