// Bad input and faults: a config with errors at start and on reload, and 15008 that accepts TCP but
// never speaks TLS (what a NetworkPolicy dropping HBONE looks like from the source).
import t from 'tap'
import { randomInt } from 'node:crypto'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import net from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { openMeshCa } from '../../../src/identity/ca.js'
import { LocalConfigErrorCode } from '../../../src/mesh/local-config.js'
import { createCapturingLogger } from '../../../src/observability/capturing-logger.js'
import { DaemonErrorCode, startDaemon } from '../../../src/ztunnel/daemon.js'
import { OutboundErrorCode } from '../../../src/ztunnel/outbound.js'
import { startMeshHarness } from '../../helpers/mesh-harness.js'
import { SocksClientError } from '../../helpers/socks-client.js'
import { configFor, startDaemonFixture } from './daemon-fixture.js'

t.test('a config with errors at start: refused, every error listed with file, line, path and code', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'ambient-faults-'))
  t.teardown(() => rm(dir, { recursive: true, force: true }))
  const caDir = join(dir, 'ca')
  await openMeshCa({ dir: caDir })
  const configFile = join(dir, 'bad.yaml')
  await writeFile(
    configFile,
    [
      'workloads:',
      '  - {name: a, namespace: default, addresses: ["nope"]}',
      'policies:',
      '  - {name: p, namespace: default, scope: NAMESPACE, action: MAYBE}',
      '',
    ].join('\n'),
  )
  const nodeIp = `127.${randomInt(100, 250)}.0.1`
  const err = await startDaemon({
    node: 'node-a',
    nodeIp,
    configFile,
    caDir,
    logger: createCapturingLogger().logger,
    ports: { admin: 0, metrics: 0, readiness: 0 },
  }).catch((e: unknown) => e)
  t.match(err, { code: DaemonErrorCode.invalidConfig, side: 'config' })
  const message = (err as Error).message
  t.match(message, /has 2 error\(s\)/)
  t.match(message, /bad\.yaml:2 workloads\[0\]\.addresses\[0\]: \[MESH_/)
  t.match(message, /bad\.yaml:4 policies\[0\]\.action: \[MESH_/)
})

t.test('a reload with errors keeps the last good state and reports; a good one applies', async (t) => {
  const pods = [{ name: 'sleep', index: 1 }]
  const f = await startDaemonFixture(t, { pods })
  const base = Number(f.nodeIp.split('.')[1])
  const good = configFor(base, pods)
  const policy = { name: 'deny-all', namespace: 'default', scope: 'NAMESPACE', action: 'DENY', rules: [{ clauses: [] }] }
  const broken = { ...good, policies: [policy, { name: 'bad', namespace: 'default', scope: 'NAMESPACE', action: 'MAYBE' }] }

  await f.writeConfig(broken)
  const rejected = await f.log.waitFor((r) => r.event === 'config_rejected')
  t.equal(rejected.errors, 1)
  t.ok(
    f.log.filter((r) => r.event === 'config_error' && r.path === 'policies[1].action').length === 1,
    'the error is reported with its path',
  )
  t.same(f.daemon.mesh.policies(), [], 'the valid entries of a file with errors do not apply: the last good state stays')
  const dump = JSON.parse(await (await fetch(f.url('admin', '/config_dump'))).text()) as {
    configStatus: { outcome: string; errors: Array<{ path: string }> }
  }
  t.match(dump.configStatus, { outcome: 'rejected', errors: [{ path: 'policies[1].action' }] })
  t.equal((await fetch(f.url('readiness', '/healthz/ready'))).status, 200, 'still serving the last good state')

  await writeFile(f.configFile, 'workloads: [\n')
  const unparsable = await f.log.waitFor((r) => r.event === 'config_rejected' && r !== rejected)
  t.ok(f.log.filter((r) => r.event === 'config_error' && r.code === LocalConfigErrorCode.yaml).length >= 1, 'reported as not YAML')
  t.ok(unparsable)
  t.equal(f.daemon.mesh.workloads().length, 1, 'unparsable YAML keeps the state too')

  await f.writeConfig({ ...good, policies: [policy] })
  await f.log.waitFor((r) => r.event === 'config_loaded' && r.policies === 1)
  t.same(
    f.daemon.mesh.policies().map((p) => p.name),
    ['deny-all'],
    'a good reload applies',
  )
})

t.test('15008 accepts but never speaks TLS: the client is refused after the connect timeout with the NetworkPolicy hint', async (t) => {
  const pods = [
    { name: 'sleep', node: 'node-a', index: 1 },
    { name: 'echo', node: 'node-b', index: 1, appPorts: [8080] },
  ]
  const h = await startMeshHarness(t, { pods })
  await h.stopNode('node-b')
  // A listener that takes the TCP connection and then says nothing: the TLS handshake never ends.
  const silent = new Set<net.Socket>()
  const blackhole = net.createServer((s) => {
    silent.add(s)
    s.on('error', () => undefined)
  })
  await new Promise<void>((res) => blackhole.listen({ host: h.podIp('echo'), port: 15008 }, () => res()))
  t.teardown(
    () =>
      new Promise<void>((res) => {
        for (const s of silent) s.destroy()
        blackhole.close(() => res())
      }),
  )

  const started = Date.now()
  const err = await h.dial('sleep', { ip: h.podIp('echo'), port: 8080 }).catch((e: unknown) => e)
  t.type(err, SocksClientError, 'the client is refused, not left hanging')
  t.ok(Date.now() - started < 5_000, 'promptly after the connect timeout')
  const rec = await h.log.waitFor((r) => r.msg === 'connection complete' && r.direction === 'outbound')
  t.equal(rec.response_flags, 'NETWORK_POLICY')
  t.match(String(rec.error), /maybe a NetworkPolicy is blocking HBONE port 15008/)
  t.match(
    h.log.filter((r) => r.event === 'outbound_failed'),
    [{ code: OutboundErrorCode.hboneTimeout }],
  )
  t.equal(silent.size, 1, 'one TCP connection reached the port')
})
