// Two ztunnels (node-a, node-b) in one process, real HBONE between them, pods as echo servers on
// their pod-local addresses, clients through each pod's SOCKS5 listener.
import t from 'tap'
import { randomBytes } from 'node:crypto'
import net from 'node:net'
import { match, type Authorization } from '../../../src/authz/policy.js'
import type { Service } from '../../../src/mesh/types.js'
import { eventually } from '../../helpers/eventually.js'
import { sha256, startMeshHarness } from '../../helpers/mesh-harness.js'
import { readAll, readExactly, SocksClientError } from '../../helpers/socks-client.js'

const SVC = 'default/echo.default.svc.cluster.local'

const pods = [
  { name: 'sleep', node: 'node-a', index: 1 },
  {
    name: 'echo-a',
    node: 'node-a',
    index: 2,
    serviceAccount: 'echo',
    appPorts: [8080],
    services: { [SVC]: [[80, 8080]] as [number, number][] },
  },
  {
    name: 'echo-b',
    node: 'node-b',
    index: 1,
    serviceAccount: 'echo',
    appPorts: [8080],
    services: { [SVC]: [[80, 8080]] as [number, number][] },
  },
]
const services = ({ vip }: { vip(n: number): string }): Service[] => [
  {
    name: 'echo',
    namespace: 'default',
    hostname: 'echo.default.svc.cluster.local',
    addresses: [vip(1)],
    ports: [{ servicePort: 80, targetPort: 8080, appProtocol: '' }],
    subjectAltNames: [],
    waypoint: undefined,
  },
]

const policy = (
  name: string,
  action: 'ALLOW' | 'DENY',
  principals: string[] | undefined,
  extra: Partial<Authorization> = {},
): Authorization => ({
  name,
  namespace: 'default',
  scope: 'NAMESPACE',
  action,
  dryRun: false,
  rules: principals === undefined ? [] : [{ clauses: [{ matches: [match({ principals: principals.map((exact) => ({ exact })) })] }] }],
  ...extra,
})

async function roundTrip(socket: net.Socket, text: string): Promise<string> {
  socket.write(text)
  const got = await readExactly(socket, Buffer.byteLength(text))
  return got.toString()
}

t.test('allowed flow: SOCKS → source ztunnel → HBONE → destination ztunnel → app, one record per side', async (t) => {
  const h = await startMeshHarness(t, { pods, services })
  const s = await h.dial('sleep', { ip: h.podIp('echo-b'), port: 8080 })
  t.equal(await roundTrip(s, 'hello mesh'), 'hello mesh')
  s.end()
  await readAll(s)
  await eventually(() => h.accessLogs().length >= 2)
  const outbound = h.accessLogs((r) => r.direction === 'outbound')
  const inbound = h.accessLogs((r) => r.direction === 'inbound')
  t.equal(outbound.length, 1, 'exactly one outbound record')
  t.equal(inbound.length, 1, 'exactly one inbound record')
  t.equal(inbound[0]!['src.identity'], 'spiffe://cluster.local/ns/default/sa/sleep', 'destination saw the source identity')
  t.equal(inbound[0]!['dst.workload'], 'echo-b')
  t.equal(outbound[0]!['dst.hbone_addr'], `${h.podIp('echo-b')}:15008`)
  t.equal(outbound[0]!.bytes_sent, 10)
  t.notOk(inbound[0]!.error)
  const metrics = await h.ztunnels.get('node-b')!.metrics.render()
  t.match(metrics, /istio_tcp_connections_opened_total\{[^}]*reporter="destination"[^}]*connection_security_policy="mutual_tls"/)
})

t.test('a hostname resolves against Services with search domains, and the VIP balances across both nodes', async (t) => {
  const h = await startMeshHarness(t, { pods, services })
  for (let i = 0; i < 30; i++) {
    const s = await h.dial('sleep', i % 2 ? { host: 'echo', port: 80 } : { ip: h.vip(1), port: 80 })
    t.equal(await roundTrip(s, `n${i}`), `n${i}`)
    s.destroy()
  }
  const a = h.apps.get('echo-a')![0]!.connections.length
  const b = h.apps.get('echo-b')![0]!.connections.length
  t.equal(a + b, 30)
  t.ok(a >= 3 && b >= 3, `both endpoints used (a=${a}, b=${b})`)
})

t.test('unknown hostname → SOCKS host unreachable, no crash', async (t) => {
  const h = await startMeshHarness(t, { pods, services })
  const err = await h.dial('sleep', { host: 'nope', port: 80 }).catch((e: unknown) => e)
  t.type(err, SocksClientError)
  t.equal((err as SocksClientError).replyCode, 0x04)
  const s = await h.dial('sleep', { host: 'echo.default', port: 80 })
  t.equal(await roundTrip(s, 'still serving'), 'still serving')
  s.destroy()
})

t.test('DENY policy → HBONE 401 → SOCKS "not allowed" and a DENY record at the destination', async (t) => {
  const h = await startMeshHarness(t, { pods, services, policies: [policy('deny-sleep', 'DENY', ['cluster.local/ns/default/sa/sleep'])] })
  const err = await h.dial('sleep', { ip: h.podIp('echo-b'), port: 8080 }).catch((e: unknown) => e)
  t.equal((err as SocksClientError).replyCode, 0x02)
  const rec = await h.log.waitFor((r) => r.msg === 'connection complete' && r.direction === 'inbound')
  t.equal(rec.response_flags, 'DENY')
  t.match(String(rec.error), /connection closed due to policy rejection: explicitly denied by: default\/deny-sleep/)
  t.equal(h.apps.get('echo-b')![0]!.connections.length, 0, 'the app never saw it')
})

t.test('ALLOW policies exist but none matches → denied', async (t) => {
  const h = await startMeshHarness(t, { pods, services, policies: [policy('allow-other', 'ALLOW', ['cluster.local/ns/default/sa/other'])] })
  const err = await h.dial('sleep', { ip: h.podIp('echo-b'), port: 8080 }).catch((e: unknown) => e)
  t.equal((err as SocksClientError).replyCode, 0x02)
  const rec = await h.log.waitFor((r) => r.msg === 'connection complete' && r.direction === 'inbound')
  t.match(String(rec.error), /allow policies exist, but none allowed/)
})

t.test('plaintext to a pod: PERMISSIVE is admitted with no identity; STRICT (converted DENY) is reset', async (t) => {
  const h = await startMeshHarness(t, { pods, services })
  const plain = net.connect({ host: h.podIp('echo-b'), port: 8080 })
  await new Promise((r) => plain.once('connect', r))
  t.equal(await roundTrip(plain, 'plaintext'), 'plaintext')
  plain.destroy()
  const rec = await h.log.waitFor((r) => r.msg === 'connection complete' && r.direction === 'inbound')
  t.notOk(rec['src.identity'], 'no peer identity on plaintext')

  // istiod's STRICT PeerAuthentication: DENY when the peer has no principal.
  h.mesh.apply([
    {
      op: 'upsert',
      kind: 'policy',
      value: {
        name: 'istio_converted_static_strict',
        namespace: 'default',
        scope: 'NAMESPACE',
        action: 'DENY',
        dryRun: false,
        rules: [{ clauses: [{ matches: [match({ notPrincipals: [{ presence: true }] })] }] }],
      },
    },
  ])
  const strict = net.connect({ host: h.podIp('echo-b'), port: 8080 })
  strict.on('error', () => undefined)
  const ended = await new Promise<string>((resolve) => {
    strict.once('close', (hadError) => resolve(hadError ? 'reset' : 'closed'))
    strict.write('x')
  })
  t.equal(ended, 'reset')
  const denied = await h.log.waitFor((r) => r.msg === 'connection complete' && r.response_flags === 'DENY')
  t.equal(denied.direction, 'inbound')
  // …while mTLS from a mesh pod still passes.
  const s = await h.dial('sleep', { ip: h.podIp('echo-b'), port: 8080 })
  t.equal(await roundTrip(s, 'mtls ok'), 'mtls ok')
  s.destroy()
})

t.test('a policy change closes a live flow with "connection closed due to policy change"', async (t) => {
  const h = await startMeshHarness(t, { pods, services })
  const s = await h.dial('sleep', { ip: h.podIp('echo-b'), port: 8080 })
  t.equal(await roundTrip(s, 'before'), 'before')
  const closed = new Promise<void>((resolve) => s.once('close', () => resolve()))
  s.on('error', () => undefined)
  h.mesh.apply([{ op: 'upsert', kind: 'policy', value: policy('deny-sleep', 'DENY', ['cluster.local/ns/default/sa/sleep']) }])
  await closed
  const rec = await h.log.waitFor((r) => r.msg === 'connection complete' && r.direction === 'inbound')
  t.equal(rec.error, 'connection closed due to policy change')
  t.equal(h.ztunnels.get('node-b')!.flows.size, 0)
})

t.test('byte-exact large random payloads both ways with half-close', async (t) => {
  const h = await startMeshHarness(t, { pods, services })
  const payload = randomBytes(8 * 1024 * 1024)
  const s = await h.dial('sleep', { ip: h.podIp('echo-b'), port: 8080 })
  const back = readAll(s)
  s.end(payload)
  const got = await back
  t.equal(got.length, payload.length)
  t.equal(sha256(got), sha256(payload), 'echoed bytes are identical')
  const rec = await h.log.waitFor((r) => r.msg === 'connection complete' && r.direction === 'inbound')
  t.equal(rec.bytes_recv, payload.length)
  t.equal(rec.bytes_sent, payload.length)
})

t.test('destination ztunnel down → the client is refused promptly with flag CONNECT', async (t) => {
  const h = await startMeshHarness(t, { pods, services })
  await h.stopNode('node-b')
  const err = await h.dial('sleep', { ip: h.podIp('echo-b'), port: 8080 }).catch((e: unknown) => e)
  t.type(err, SocksClientError)
  const rec = await h.log.waitFor((r) => r.msg === 'connection complete' && r.direction === 'outbound')
  t.equal(rec.response_flags, 'CONNECT')
})

t.test('certificate rotation under a live flow: the flow survives, new tunnels use the new certificate', async (t) => {
  const h = await startMeshHarness(t, { pods, services, certificateTtlMs: 4_000 })
  const certs = h.certificates.get('node-a')!
  const sleepId = (await import('../../../src/identity/spiffe-id.js')).SpiffeId.parse('spiffe://cluster.local/ns/default/sa/sleep')
  const s = await h.dial('sleep', { ip: h.podIp('echo-b'), port: 8080 })
  t.equal(await roundTrip(s, 'one'), 'one')
  const first = certs.current(sleepId)!.serialNumber
  await eventually(() => certs.current(sleepId)!.serialNumber !== first, { timeoutMs: 10_000 })
  t.equal(await roundTrip(s, 'two'), 'two', 'the live flow kept going across the rotation')
  const s2 = await h.dial('sleep', { ip: h.podIp('echo-b'), port: 8080 })
  t.equal(await roundTrip(s2, 'three'), 'three')
  // The old connection still carries the first flow; the new tunnel had to open a second one,
  // with the rotated certificate (the pool retired the old connection for new streams).
  t.equal(h.ztunnels.get('node-a')!.pool.stats().connections, 2)
  const second = certs.current(sleepId)!.serialNumber
  t.ok(
    h.log.records.some((r) => r.event === 'hbone_certificate_updated' && r.serial === second),
    'the pool took the new certificate',
  )
  s.destroy()
  s2.destroy()
})
