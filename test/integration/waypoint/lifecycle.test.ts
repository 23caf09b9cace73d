// The waypoint around its data path: 15020 /metrics and 15021 /healthz/ready (500 listing what is
// pending until a config is loaded), certificate rotation (new tunnels present the new
// certificate), a rejected config update keeps the last good config, and the `ambient waypoint`
// command as a real process (config file + CA dir, ready, SIGTERM → exit 0).
import t, { type Test } from 'tap'
import { spawn } from 'node:child_process'
import { randomInt } from 'node:crypto'
import { writeFile } from 'node:fs/promises'
import http from 'node:http'
import { join, resolve } from 'node:path'
import { SpiffeId } from '../../../src/identity/spiffe-id.js'
import type { WaypointConfig } from '../../../src/mesh/waypoint-config.js'
import { WAYPOINT_CONFIG_API_VERSION } from '../../../src/mesh/waypoint-config.js'
import { createCapturingLogger } from '../../../src/observability/capturing-logger.js'
import { createMetrics } from '../../../src/observability/metrics.js'
import { parseWaypointConfig } from '../../../src/l7/waypoint-config.js'
import { createWaypoint } from '../../../src/waypoint/waypoint.js'
import { eventually } from '../../helpers/eventually.js'
import { createTestPki } from '../../helpers/pki.js'
import { cluster, endpointOf, route, servicePort, startWaypointHarness, TD, WAYPOINT_ID } from '../../helpers/waypoint-harness.js'

const HOST = 'reviews.default.svc.cluster.local'
const CL = `outbound|9080||${HOST}`

function get(url: string): Promise<{ status: number; body: string }> {
  return new Promise((res, rej) => {
    const req = http.get(url, { agent: false }, (r) => {
      let body = ''
      r.on('data', (d: Buffer) => {
        body += d.toString()
      })
      r.on('end', () => res({ status: r.statusCode ?? 0, body }))
      r.on('error', rej)
    })
    req.on('error', rej)
    req.setTimeout(5_000, () => req.destroy(new Error(`GET ${url} timed out`)))
  })
}

function emptyConfig(): WaypointConfig {
  return {
    apiVersion: WAYPOINT_CONFIG_API_VERSION,
    name: 'waypoint',
    namespace: 'default',
    identity: WAYPOINT_ID,
    trustDomain: TD,
    waypointFor: 'service',
    hbonePort: 15008,
    services: [],
    workloads: [],
    clusters: [],
    authorization: [],
    defaults: {
      retries: { attempts: 2, perTryTimeoutMs: null, retryOn: ['connect-failure'], retriableStatusCodes: [503] },
      connectTimeoutMs: 2_000,
    },
  }
}

t.test(
  '15021 /healthz/ready is 500 listing what is pending until a config arrives; 15020 serves /metrics',
  { timeout: 20_000 },
  async (t) => {
    const pki = await createTestPki()
    t.teardown(() => pki.close())
    const host = `127.${randomInt(100, 250)}.9.1`
    const log = createCapturingLogger({ level: 'debug', component: 'waypoint' })
    const metrics = createMetrics()
    const waypoint = createWaypoint({
      config: null,
      certificate: await pki.issue(WAYPOINT_ID),
      host,
      ports: { hbone: 0, metrics: 0, readiness: 0 },
      logger: log.logger,
      metrics,
    })
    t.teardown(() => waypoint.close())
    t.same(waypoint.pending(), ['config not loaded', 'HBONE listener not up'])
    const addrs = await waypoint.start()
    const ready = `http://${host}:${addrs.readiness.port}/healthz/ready`
    const before = await get(ready)
    t.equal(before.status, 500)
    t.match(before.body, /not ready:\n {2}config not loaded\n/)
    t.notMatch(before.body, /HBONE listener/, 'the listener is up')
    t.equal((await get(`http://${host}:${addrs.readiness.port}/other`)).status, 404)
    waypoint.updateConfig(emptyConfig())
    const after = await get(ready)
    t.equal(after.status, 200)
    t.equal(after.body, 'ready\n')
    metrics.http.requests.inc({ reporter: 'waypoint', response_code: '200' })
    for (const path of ['/metrics', '/stats/prometheus']) {
      const m = await get(`http://${host}:${addrs.metrics.port}${path}`)
      t.equal(m.status, 200, path)
      t.match(m.body, /istio_requests_total\{[^}]*reporter="waypoint"/, path)
    }
    t.equal((await get(`http://${host}:${addrs.metrics.port}/nope`)).status, 404)
  },
)

t.test('updateCertificate: new tunnels, both ways, use the new certificate', { timeout: 20_000 }, async (t) => {
  const h = await startWaypointHarness(t, {
    pods: ['reviews-v1'],
    config: ({ vip, pod }) => ({
      services: [
        {
          hostname: HOST,
          name: 'reviews',
          namespace: 'default',
          addresses: [vip(1)],
          ports: [servicePort(9080, 'HTTP', [route(CL, HOST, 9080)], CL)],
          authorization: [],
        },
      ],
      workloads: [],
      authorization: [],
      // One request per upstream connection, so every request opens a new tunnel.
      clusters: [
        cluster(CL, HOST, 9080, [endpointOf(pod('reviews-v1'))], {
          connectionPool: { ...cluster('x', HOST, 1, []).trafficPolicy.connectionPool, maxRequestsPerConnection: 1 },
        }),
      ],
    }),
  })
  const target = `${h.vip(1)}:9080`
  const pod = h.pods.get('reviews-v1')!
  t.equal((await h.request(target)).status, 200)
  const oldSerial = pod.tunnels[0]!.serial
  const before = await h.tunnel(target)
  t.equal(before.peer.serialNumber, oldSerial, 'the waypoint presents the same certificate both ways')
  before.stream.close()

  const next = await h.pki.issue(WAYPOINT_ID)
  t.not(next.serialNumber, oldSerial)
  h.waypoint.updateCertificate(next)
  t.equal((await h.request(target)).status, 200)
  t.equal(pod.tunnels.at(-1)!.serial, next.serialNumber, 'upstream: the new tunnel to the endpoint presents the new certificate')
  t.equal(pod.tunnels.at(-1)!.identity, WAYPOINT_ID)
  // Downstream: a caller's new HBONE connection (a pool that has none yet) sees the new certificate.
  const other = await h.source(`spiffe://${TD}/ns/default/sa/other`)
  const tunnel = await other.open({
    source: SpiffeId.parse(`spiffe://${TD}/ns/default/sa/other`),
    destination: { host: h.waypointIp, port: 15008 },
    expectedIdentities: [SpiffeId.parse(WAYPOINT_ID)],
    authority: { ip: h.vip(1), port: 9080 },
  })
  t.equal(tunnel.peer.serialNumber, next.serialNumber, 'downstream: the waypoint serves the new certificate')
  tunnel.stream.close()
})

t.test(
  'a config update that does not parse is refused with a coded error; the waypoint keeps the last good config',
  { timeout: 20_000 },
  async (t) => {
    const h = await startWaypointHarness(t, {
      pods: ['reviews-v1'],
      config: ({ vip, pod }) => ({
        services: [
          {
            hostname: HOST,
            name: 'reviews',
            namespace: 'default',
            addresses: [vip(1)],
            ports: [servicePort(9080, 'HTTP', [route(CL, HOST, 9080)], CL)],
            authorization: [],
          },
        ],
        workloads: [],
        authorization: [],
        clusters: [cluster(CL, HOST, 9080, [endpointOf(pod('reviews-v1'))])],
      }),
    })
    const target = `${h.vip(1)}:9080`
    // What a config source does with each update: parse, and hand over only what parsed.
    const update = (text: string): void => h.waypoint.updateConfig(parseWaypointConfig(text, 'update'))
    t.throws(() => update('{"apiVersion": '), { code: 'WAYPOINT_CONFIG_INVALID', message: /^update: not JSON/ })
    t.throws(() => update(JSON.stringify({ ...h.config, apiVersion: 'ambient.waypoint/v0', services: [] })), {
      code: 'WAYPOINT_CONFIG_INVALID',
      message: /apiVersion: expected "ambient\.waypoint\/v1", got "ambient\.waypoint\/v0"/,
    })
    t.throws(() => update(JSON.stringify({ ...h.config, clusters: {} })), {
      code: 'WAYPOINT_CONFIG_INVALID',
      message: /clusters: expected a list/,
    })
    t.equal((await h.request(target)).status, 200, 'still serving the last good config')
    update(JSON.stringify({ ...h.config, services: [] }))
    await t.rejects(h.request(target), 'a good update applies: the service is no longer served')
  },
)

const SRC_MAIN = resolve(import.meta.dirname, '../../../src/cli/main.ts')
const TS_IMPORT = resolve(import.meta.dirname, '../../../node_modules/@tapjs/typescript/dist/esm/import.mjs')

function runCli(t: Test, args: string[]) {
  // From source through the same TypeScript loader tap uses: no build needed.
  const proc = spawn(process.execPath, [`--import=${new URL(`file://${TS_IMPORT}`).href}`, '--no-deprecation', SRC_MAIN, ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, AMBIENT_LOG_LEVEL: 'info' },
  })
  let out = ''
  proc.stdout.on('data', (c: Buffer) => {
    out += c.toString()
  })
  proc.stderr.on('data', (c: Buffer) => {
    out += c.toString()
  })
  const exited = new Promise<number | null>((res) => proc.once('exit', (code) => res(code)))
  t.teardown(() => {
    if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGKILL')
  })
  return { proc, exited, output: () => out }
}

t.test(
  '`ambient waypoint` with a config file and a CA dir: ready on 15021, metrics on 15020, SIGTERM exits 0',
  { timeout: 60_000 },
  async (t) => {
    const pki = await createTestPki()
    t.teardown(() => pki.close())
    const host = `127.${randomInt(100, 250)}.10.1`
    const file = join(pki.dir, 'waypoint.json')
    await writeFile(file, JSON.stringify(emptyConfig()))
    const cli = runCli(t, [
      'waypoint',
      '--name',
      'waypoint',
      '--namespace',
      'default',
      '--config',
      file,
      '--ca-dir',
      pki.dir,
      '--host',
      host,
    ])
    const ready = await eventually(
      async () => {
        if (cli.proc.exitCode !== null) throw new Error(`exited ${cli.proc.exitCode}: ${cli.output()}`)
        return get(`http://${host}:15021/healthz/ready`)
      },
      { timeoutMs: 30_000, intervalMs: 50 },
    )
    t.equal(ready.status, 200)
    t.equal(ready.body, 'ready\n')
    const metrics = await get(`http://${host}:15020/metrics`)
    t.equal(metrics.status, 200)
    t.match(metrics.body, /process_cpu_user_seconds_total/)
    cli.proc.kill('SIGTERM')
    const code = await cli.exited
    t.equal(code, 0, code === 0 ? 'SIGTERM → exit 0' : cli.output())
    t.match(cli.output(), /stopping waypoint/)

    const bad = join(pki.dir, 'bad.json')
    await writeFile(bad, JSON.stringify({ ...emptyConfig(), apiVersion: 'v0' }))
    const refused = runCli(t, [
      'waypoint',
      '--name',
      'waypoint',
      '--namespace',
      'default',
      '--config',
      bad,
      '--ca-dir',
      pki.dir,
      '--host',
      host,
    ])
    t.not(await refused.exited, 0, 'a config with the wrong apiVersion is refused')
    t.match(refused.output(), /WAYPOINT_CONFIG_INVALID|apiVersion: expected/)
  },
)
