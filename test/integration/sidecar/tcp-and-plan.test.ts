// Sidecar mode beyond HTTP: a TCP Service port is proxied at L4 over sidecar-to-sidecar mTLS (the
// echo pod's sidecar sees the caller's identity; a DENY for it closes new flows), and the pure
// outbound plan: Service VIP, short and qualified names, a known pod IP (auto mTLS), passthrough.
import t from 'tap'
import type net from 'node:net'
import { planOutbound } from '../../../src/sidecar/outbound.js'
import { eventually } from '../../helpers/eventually.js'
import { startEchoServer } from '../../helpers/echo-server.js'
import { NAMESPACE_YAML, denyYaml, podYaml, serviceYaml } from '../../helpers/istiod-mesh.js'
import { startSidecarMesh } from '../../helpers/sidecar-mesh.js'
import { connect } from '../../helpers/socks-client.js'

const FILES: Record<string, string> = {
  '00-namespace.yaml': NAMESPACE_YAML,
  'pods.yaml': [podYaml('client', 'node-1'), podYaml('echo', 'node-2', { port: 7000 }), serviceYaml('echo', 7000, 7000)].join('---\n'),
}

function roundTrip(socket: net.Socket, text: string): Promise<string> {
  return new Promise((resolve, reject) => {
    let got = ''
    socket.on('data', (c: Buffer) => {
      got += c.toString()
      if (got.length >= text.length) resolve(got)
    })
    socket.on('error', reject)
    socket.on('end', () => resolve(got))
    socket.on('close', () => resolve(got))
    socket.resume()
    socket.write(text)
  })
}

t.test('TCP through two sidecars', { timeout: 20_000 }, async (t) => {
  const h = await startSidecarMesh(t, { files: FILES, apps: [], clients: ['client', 'echo'] })
  const echo = await startEchoServer(h.workload('echo').podLocalAddress!, { port: 7000 })
  t.teardown(() => echo.close())
  const vip = h.istiod.translation()!.mesh.services.find((s) => s.name === 'echo')!.addresses[0]!
  t.same(h.sidecars.get('echo')!.config().sidecar.ports, [{ port: 7000, protocol: 'TCP' }])

  const s1 = await connect(h.workload('client').addresses[0]!, 15080, { ip: vip, port: 7000 })
  t.teardown(() => s1.destroy())
  t.equal(await roundTrip(s1, 'hello'), 'hello')
  s1.end()
  const flow = await h.log.waitFor((r) => r.msg === 'connection complete' && r.component === 'sidecar' && r.pod === 'echo')
  t.match(flow, { 'src.identity': 'spiffe://cluster.local/ns/default/sa/client' }, "the echo sidecar saw the client pod's identity")
  t.match(
    await h.metrics.get('echo')!.render(),
    /istio_tcp_connections_opened_total\{[^}]*reporter="destination"[^}]*connection_security_policy="mutual_tls"/,
  )

  await h.writeFile('deny.yaml', denyYaml('deny-client', 'cluster.local/ns/default/sa/client'))
  await eventually(() => h.sidecars.get('echo')!.config().authorization.length === 1)
  const s2 = await connect(h.workload('client').addresses[0]!, 15080, { ip: vip, port: 7000 })
  t.teardown(() => s2.destroy())
  t.equal(await roundTrip(s2, 'again'), '', 'denied: closed before any byte is echoed')
})

t.test('planOutbound (pure)', async (t) => {
  const h = await startSidecarMesh(t, { files: FILES, apps: [], clients: ['client', 'echo'] })
  const config = h.sidecars.get('client')!.config()
  const vip = config.services.find((s) => s.name === 'echo')!.addresses[0]!
  const echoIp = h.workload('echo').addresses[0]!
  t.match(planOutbound(config, { kind: 'ip', ip: vip, port: 7000 }), { kind: 'service', ip: vip, port: 7000 })
  t.match(planOutbound(config, { kind: 'hostname', hostname: 'echo', port: 7000 }), { kind: 'service', ip: vip })
  t.match(planOutbound(config, { kind: 'hostname', hostname: 'echo.default.svc.cluster.local', port: 7000 }), { kind: 'service', ip: vip })
  t.match(planOutbound(config, { kind: 'hostname', hostname: 'nope', port: 80 }), { kind: 'unknown-hostname' })
  t.match(planOutbound(config, { kind: 'ip', ip: echoIp, port: 7000 }), {
    kind: 'endpoint',
    endpoint: { address: echoIp, identity: 'spiffe://cluster.local/ns/default/sa/echo' },
  })
  t.match(planOutbound(config, { kind: 'ip', ip: '127.0.0.9', port: 80 }), { kind: 'passthrough', ip: '127.0.0.9', port: 80 })
  // A port of that pod no Service targets: Istio's PassthroughCluster (plain TCP to the original
  // destination), not mutual TLS to the pod's sidecar.
  for (const port of [7001, 15021, 15008])
    t.same(
      planOutbound(config, { kind: 'ip', ip: echoIp, port }),
      { kind: 'passthrough', ip: echoIp, port },
      `${echoIp}:${port}: passthrough`,
    )
})
