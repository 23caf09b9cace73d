// istiod and two ztunnels in xDS mode, in one process over real gRPC/TLS and HBONE: the state and
// the certificates come from istiod; a config file edit reaches both nodes and re-checks live flows.
import t from 'tap'
import type net from 'node:net'
import { createCsr } from '../../../src/identity/csr.js'
import { SpiffeId } from '../../../src/identity/spiffe-id.js'
import { readFile } from 'node:fs/promises'
import { createCaClient } from '../../../src/xds/ca-client.js'
import { XdsErrorCode } from '../../../src/xds/errors.js'
import { eventually } from '../../helpers/eventually.js'
import { NAMESPACE_YAML, denyYaml, podYaml, serviceYaml, startIstiodMesh } from '../../helpers/istiod-mesh.js'
import { readExactly, SocksClientError } from '../../helpers/socks-client.js'

const SLEEP = 'spiffe://cluster.local/ns/default/sa/sleep'
const ECHO = 'spiffe://cluster.local/ns/default/sa/echo'
const files = {
  '00-namespace.yaml': NAMESPACE_YAML,
  'sleep.yaml': podYaml('sleep', 'node-1'),
  'echo.yaml': `${podYaml('echo', 'node-2', { port: 8080 })}---\n${serviceYaml('echo', 80, 8080)}`,
}

async function roundTrip(socket: net.Socket, text: string): Promise<string> {
  socket.write(text)
  return (await readExactly(socket, Buffer.byteLength(text))).toString()
}

t.test('istiod → two ztunnels: sync, traffic, policy edits, bad input', async (t) => {
  const m = await startIstiodMesh(t, { files, apps: { echo: [8080] } })
  const node1 = m.daemons.get('node-1')!
  const node2 = m.daemons.get('node-2')!

  await t.test('both ztunnels sync the translated state', async (t) => {
    t.ok(node1.xds?.synced && node2.xds?.synced)
    await m.converged()
    t.equal(m.podIp('sleep'), `${m.plan.pods}.1.1`, 'pods get addresses from the plan')
    t.ok(node2.mesh.serviceByKey('default/echo.default.svc.cluster.local'), 'the Service arrived')
    await eventually(() => m.istiod.status().connections.length === 2)
    t.same(
      m.istiod
        .status()
        .connections.map((c) => c.nodeName)
        .sort(),
      ['node-1', 'node-2'],
      'each authenticated by its own token',
    )
    const res = await fetch(`http://${m.istiod.addresses.debug}/debug/config?node=node-1`)
    const view = (await res.json()) as { localWorkloads: string[]; workloads: unknown[] }
    t.same(view.localWorkloads, ['Kubernetes//Pod/default/sleep'])
    t.equal(view.workloads.length, 2)
    const metrics = await (await fetch(`http://${m.istiod.addresses.debug}/metrics`)).text()
    t.match(metrics, /^pilot_xds 2$/m)
    t.match(metrics, /pilot_xds_pushes\{type="istio.workload.Address"\} [1-9]/)
    t.match(metrics, /pilot_proxy_convergence_time_count\{type="istio.security.Authorization"\} [1-9]/)
  })

  let flow: net.Socket
  await t.test("traffic between pods on two nodes, with certificates from istiod's CA", async (t) => {
    flow = await m.dial('sleep', { ip: m.podIp('echo'), port: 8080 })
    flow.on('error', () => undefined)
    t.equal(await roundTrip(flow, 'hello'), 'hello')
    const inbound = await m.log.waitFor((r) => r.event === 'ca_signed' && r.identity === ECHO)
    t.equal(inbound.caller, 'node-2', "node-2 asked for its pod's certificate")
    const cert = node1.certificates.current(SpiffeId.parse(SLEEP))!
    t.same(
      cert.rootsPem.map((p) => p.trim()),
      [(await readFile(m.istiod.rootCertPath, 'utf8')).trim()],
      "chained to istiod's root",
    )
  })

  await t.test('a DENY policy file closes the live flow and denies new connections', async (t) => {
    const closed = new Promise<void>((resolve) => flow.once('close', () => resolve()))
    await m.writeFile('deny.yaml', denyYaml('deny-sleep', 'cluster.local/ns/default/sa/sleep'))
    await closed
    const rec = await m.log.waitFor(
      (r) => r.msg === 'connection complete' && r.direction === 'inbound' && r.error === 'connection closed due to policy change',
    )
    t.equal(rec.node, 'node-2')
    await m.converged()
    const err = await m.dial('sleep', { ip: m.podIp('echo'), port: 8080 }).catch((e: unknown) => e)
    t.type(err, SocksClientError)
    t.equal((err as SocksClientError).replyCode, 0x02, 'not allowed by ruleset')
  })

  await t.test('removing the file allows traffic again', async (t) => {
    await m.removeFile('deny.yaml')
    await eventually(() => node2.mesh.policies().length === 0)
    flow = await m.dial('sleep', { ip: m.podIp('echo'), port: 8080 })
    flow.on('error', () => undefined)
    t.equal(await roundTrip(flow, 'again'), 'again')
  })

  await t.test('malformed YAML and a wrong apiVersion: reported with position, last good state kept, flows unaffected', async (t) => {
    const version = m.istiod.configVersion
    const served = m.istiod.translation()
    // A half-saved echo.yaml keeps its last good objects.
    await m.writeFile('echo.yaml', 'apiVersion: v1\nkind: Pod\nmetadata: {name: echo\n  bad: [\n')
    await m.writeFile('bad-api.yaml', 'apiVersion: v9\nkind: Pod\nmetadata: {name: other}\n')
    await eventually(() => {
      const reported = ['echo.yaml', 'bad-api.yaml'].filter((f) => m.istiod.analysis().some((a) => a.file?.endsWith(f)))
      if (
        m.istiod.configVersion <= version ||
        reported.length < 2 ||
        !m.istiod.analysis().some((a) => a.level === 'Error' && a.file?.endsWith('echo.yaml'))
      )
        throw new Error(`v${m.istiod.configVersion}, reported: ${reported.join(', ')}; ${JSON.stringify(m.istiod.analysis())}`)
      return true
    })
    for (const name of ['echo.yaml', 'bad-api.yaml']) {
      const msg = m.istiod.analysis().find((a) => a.file?.endsWith(name) && a.level === 'Error')!
      t.ok(msg.code === 'IST0106' && msg.line !== undefined && msg.line >= 1, `${name}: ${msg.code} at line ${msg.line}: ${msg.message}`)
    }
    t.same(
      m.istiod.translation()!.mesh.workloads.map((w) => w.name),
      served!.mesh.workloads.map((w) => w.name),
      'echo is still served',
    )
    t.ok(
      m.log.records.some((r) => r.event === 'analysis' && String(r.file).endsWith('echo.yaml')),
      'logged',
    )
    const text = await (await fetch(`http://${m.istiod.addresses.debug}/debug/analysis?format=text`)).text()
    t.match(text, /bad-api\.yaml:1/)
    t.equal(await roundTrip(flow, 'unaffected'), 'unaffected', 'the live flow is unaffected')
    await m.converged()
    await m.writeFile('echo.yaml', files['echo.yaml'])
    await m.removeFile('bad-api.yaml')
    await eventually(() => !m.istiod.analysis().some((a) => a.level === 'Error'))
    t.equal(await roundTrip(flow, 'still'), 'still')
    flow.destroy()
  })

  await t.test('a client with no token or a wrong token is refused', async (t) => {
    const tls = { rootCertPem: await readFile(m.istiod.rootCertPath, 'utf8'), serverIdentity: m.istiod.serverIdentity }
    const { csrPem } = await createCsr(SpiffeId.parse(SLEEP))
    for (const token of ['', 'not-a-token']) {
      const ca = createCaClient({ target: m.istiod.addresses.grpc, tls, token })
      t.teardown(() => ca.close())
      await t.rejects(
        ca.sign({ csrPem, ttlMs: 3_600_000, identity: SpiffeId.parse(SLEEP) }),
        { code: XdsErrorCode.unauthenticated },
        `CA, token "${token}"`,
      )
    }
    const { createDeltaAdsClient } = await import('../../../src/xds/delta-client.js')
    const { TYPE_URL, decodeAddress } = await import('../../../src/xds/convert.js')
    const xds = createDeltaAdsClient({
      target: m.istiod.addresses.grpc,
      tls,
      token: 'not-a-token',
      nodeId: 'node-1',
      types: { address: { typeUrl: TYPE_URL.address, decode: decodeAddress } },
      handler: () => undefined,
    })
    t.teardown(() => xds.close())
    xds.start()
    await eventually(() => /UNAUTHENTICATED/.test(xds.lastError ?? ''))
    t.notOk(xds.synced)
    t.ok(
      m.log.records.some((r) => r.event === 'xds_unauthenticated'),
      'istiod logged the refusal',
    )
  })

  await t.test("a CSR for another node's pod is refused", async (t) => {
    const tls = { rootCertPem: await readFile(m.istiod.rootCertPath, 'utf8'), serverIdentity: m.istiod.serverIdentity }
    const ca = createCaClient({
      target: m.istiod.addresses.grpc,
      tls,
      token: (await readFile(m.istiod.tokenFile('node-1'), 'utf8')).trim(),
    })
    t.teardown(() => ca.close())
    const echo = SpiffeId.parse(ECHO)
    const { csrPem } = await createCsr(echo)
    await t.rejects(ca.sign({ csrPem, ttlMs: 3_600_000, identity: echo }), {
      code: XdsErrorCode.permissionDenied,
      message: /node-1 may not obtain a certificate for spiffe:\/\/cluster.local\/ns\/default\/sa\/echo/,
    })
    const sleep = SpiffeId.parse(SLEEP)
    const own = await createCsr(sleep)
    const signed = await ca.sign({ csrPem: own.csrPem, ttlMs: 3_600_000, identity: sleep })
    t.ok(signed.certChainPem.length >= 1, "its own pod's identity is signed")
  })
})

t.test('istiod restarted: ztunnels keep serving, reconnect and resync by difference', async (t) => {
  const m = await startIstiodMesh(t, { files, apps: { echo: [8080] } })
  const node2 = m.daemons.get('node-2')!
  await m.converged()
  const flow = await m.dial('sleep', { ip: m.podIp('echo'), port: 8080 })
  flow.on('error', () => undefined)
  let dropped = false
  flow.once('close', () => {
    dropped = true
  })
  t.equal(await roundTrip(flow, 'before'), 'before')
  const before = node2.xds!.status().stats

  await m.stopIstiod()
  await eventually(() => [...m.daemons.values()].every((d) => d.xds!.status().state !== 'connected'))
  t.equal(await roundTrip(flow, 'istiod away'), 'istiod away', 'the live flow keeps going')
  const fresh = await m.dial('sleep', { ip: m.podIp('echo'), port: 8080 })
  t.equal(await roundTrip(fresh, 'new flow'), 'new flow', 'new connections are served from the last state')
  fresh.destroy()

  await m.startIstiod()
  await eventually(() => [...m.daemons.values()].every((d) => d.xds!.status().state === 'connected'), { timeoutMs: 10_000 })
  await eventually(() => m.istiod.status().connections.length === 2)
  await m.converged()
  const after = node2.xds!.status().stats
  t.ok(after.connects > before.connects, 'reconnected')
  t.equal(after.resources, before.resources, 'nothing unchanged was resent (initial_resource_versions; allocations kept in the state dir)')
  t.equal(await roundTrip(flow, 'after'), 'after')
  t.notOk(dropped, 'the flow never dropped')

  // The new istiod pushes changes again.
  const closed = new Promise<void>((resolve) => flow.once('close', () => resolve()))
  await m.writeFile('deny.yaml', denyYaml('deny-sleep', 'cluster.local/ns/default/sa/sleep'))
  await closed
  await m.converged()
  t.equal(node2.mesh.policies().length, 1)
})
