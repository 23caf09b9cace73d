// The DNS proxy wired into a standalone ztunnel in socks mode (`ambient ztunnel --dns`): one listener
// per local pod on <pod IP>:15053 (pod IPs are a random 127.X.1.j range), answering as that pod;
// listed with the pod's listeners and in the effective config; counted on the node's /metrics.
import t from 'tap'
import { Resolver } from 'node:dns/promises'
import { startDaemonFixture, type FixturePod } from './daemon-fixture.js'

const pods: FixturePod[] = [
  { name: 'sleep', index: 1 },
  { name: 'echo', index: 2, appPorts: [8080] },
]

t.test('ztunnel --dns: each pod has its DNS proxy on <pod IP>:15053', async (t) => {
  const f = await startDaemonFixture(t, { pods, dns: { port: 15053, upstream: [] } })
  const resolver = new Resolver({ timeout: 5000, tries: 1 })
  resolver.setServers([`${f.podIp(1)}:15053`])
  const echoVip = (await resolver.resolve4('echo.default.svc.cluster.local'))[0]
  t.match(echoVip, /^127\.\d+\.96\.1$/, 'the Service VIP')
  t.same(await resolver.resolve4('echo'), [echoVip], 'short name in the pod namespace')
  await t.rejects(resolver.resolve4('www.example.com'), { code: 'ENOTFOUND' }, 'no upstream: NXDOMAIN')

  const dump = (await (await fetch(f.url('admin', '/config_dump'))).json()) as {
    pods: Array<{ name: string; listeners: Record<string, string> }>
    config: { dns?: { port: number; upstream: string[] } }
  }
  for (const p of dump.pods) t.equal(p.listeners.dns, `${f.podIp(p.name === 'sleep' ? 1 : 2)}:15053`, `${p.name}: dns listener`)
  t.same(dump.config.dns, { port: 15053, upstream: [] })
  const metrics = await (await fetch(f.url('metrics', '/metrics'))).text()
  t.match(
    metrics,
    /istio_dns_requests_total\{request_query_type="a",request_protocol="udp",source_canonical_service="[^"]+",source_canonical_revision="[^"]+"\} 3/,
  )
})

t.test('without --dns nothing listens on 15053', async (t) => {
  const f = await startDaemonFixture(t, { pods })
  const dump = (await (await fetch(f.url('admin', '/config_dump'))).json()) as {
    pods: Array<{ listeners: Record<string, string> }>
    config: Record<string, unknown>
  }
  t.ok(dump.pods.every((p) => p.listeners.dns === undefined))
  t.equal(dump.config.dns, undefined)
})
