// TCP through the waypoint (a port declared TCP): the port's tcpCluster, one flow record per
// connection with reporter="waypoint", and L4-only authorization of the flow (l4-authz.ts: ALLOW
// rules needing HTTP fields never match, DENY rules' HTTP fields are ignored).
import t, { type Test } from 'tap'
import type { L7AuthorizationPolicy } from '../../../src/mesh/waypoint-config.js'
import {
  cluster,
  endpointOf,
  PRODUCTPAGE_ID,
  servicePort,
  startWaypointHarness,
  type WaypointHarness,
} from '../../helpers/waypoint-harness.js'
import { operation as op, source } from '../../helpers/waypoint-config.js'

const HOST = 'reviews.default.svc.cluster.local'
const CL = `outbound|9080||${HOST}`

const policy = (name: string, action: L7AuthorizationPolicy['action'], rules: L7AuthorizationPolicy['rules']): L7AuthorizationPolicy => ({
  name,
  namespace: 'default',
  action,
  provider: null,
  dryRun: false,
  rules,
})

/** Raw bytes through a tunnel; resolves with what came back (empty if the waypoint reset it). */
async function exchange(h: WaypointHarness, bytes: string): Promise<string> {
  const tunnel = await h.tunnel(`${h.vip(1)}:9080`)
  tunnel.stream.on('error', () => undefined)
  tunnel.stream.end(bytes)
  let out = ''
  for await (const chunk of tunnel.stream as AsyncIterable<Buffer>) out += chunk.toString()
  return out
}

async function tcpHarness(t: Test) {
  return startWaypointHarness(t, {
    pods: ['reviews-v1'],
    config: ({ vip, pod }) => ({
      services: [
        {
          hostname: HOST,
          name: 'reviews',
          namespace: 'default',
          addresses: [vip(1)],
          ports: [servicePort(9080, 'TCP', [], CL)],
          authorization: [],
        },
      ],
      workloads: [],
      authorization: [],
      clusters: [cluster(CL, HOST, 9080, [endpointOf(pod('reviews-v1'))])],
    }),
  })
}

const GET = 'GET /over-tcp HTTP/1.1\r\nhost: reviews\r\nconnection: close\r\n\r\n'

t.test(
  'a TCP port is proxied byte for byte to its tcpCluster, with one flow record (reporter waypoint)',
  { timeout: 20_000 },
  async (t) => {
    const h = await tcpHarness(t)
    const out = await exchange(h, GET)
    t.match(out, /^HTTP\/1\.1 200/)
    t.match(out, /"url":"\/over-tcp"/)
    t.equal(h.pods.get('reviews-v1')!.seen[0]!.headers['x-request-id'], undefined, 'not parsed as HTTP: no trace headers added')
    const rec = await h.log.waitFor((r) => r.msg === 'connection complete')
    t.equal(rec['src.identity'], PRODUCTPAGE_ID)
    t.equal(rec['dst.workload'], 'reviews-v1')
    t.equal(rec['dst.service'], HOST)
    t.equal(rec.bytes_recv, GET.length)
    t.equal(rec.bytes_sent, out.length)
    t.equal(h.log.filter((r) => r.msg === 'connection complete').length, 1)
    const m = await h.metrics.render()
    t.match(
      m,
      new RegExp(
        String.raw`istio_tcp_connections_closed_total\{[^}]*reporter="waypoint"` +
          String.raw`[^}]*destination_service="reviews\.default\.svc\.cluster\.local"[^}]*response_flags="-"[^}]*\} 1`,
      ),
    )
    t.match(m, new RegExp(`istio_tcp_received_bytes_total\\{[^}]*reporter="waypoint"[^}]*\\} ${GET.length}`))
  },
)

t.test('TCP flows get L4-only authorization', { timeout: 20_000 }, async (t) => {
  const h = await tcpHarness(t)
  const withPolicies = (authorization: L7AuthorizationPolicy[]) => h.waypoint.updateConfig({ ...h.config, authorization })
  const denied = async (what: string, error = 'AUTHZ_DENIED') => {
    const before = h.pods.get('reviews-v1')!.seen.length
    t.equal(await exchange(h, GET), '', `${what}: reset, nothing back`)
    t.equal(h.pods.get('reviews-v1')!.seen.length, before, `${what}: never reached the app`)
    await h.log.waitFor((r) => r.msg === 'connection complete' && r.error_code === error && r.response_flags === 'DENY')
    h.log.clear()
  }
  const allowed = async (what: string) => t.match(await exchange(h, GET), /^HTTP\/1\.1 200/, `${what}: allowed`)

  withPolicies([policy('get-only', 'ALLOW', [{ from: [], to: [op({ methods: ['GET'] })], when: [] }])])
  await denied('ALLOW rule needing methods never matches a TCP flow')
  withPolicies([
    policy('header-only', 'ALLOW', [
      {
        from: [source({ principals: ['cluster.local/ns/default/sa/bookinfo-productpage'] })],
        to: [],
        when: [{ key: 'request.headers[x-user]', values: ['me'], notValues: [] }],
      },
    ]),
  ])
  await denied('ALLOW rule with a request.headers condition never matches')
  withPolicies([
    policy('from-productpage', 'ALLOW', [
      { from: [source({ principals: ['cluster.local/ns/default/sa/bookinfo-productpage'] })], to: [op({ ports: [9080] })], when: [] },
    ]),
  ])
  await allowed('ALLOW on principal and port (L4 fields only)')
  withPolicies([policy('no-admin', 'DENY', [{ from: [], to: [op({ paths: ['/admin*'] })], when: [] }])])
  await denied("DENY rule's paths are ignored: it denies every TCP flow")
  withPolicies([
    policy('no-admin-from-curl', 'DENY', [
      { from: [source({ principals: ['cluster.local/ns/default/sa/curl'] })], to: [op({ paths: ['/admin*'] })], when: [] },
    ]),
  ])
  await allowed('DENY keeps its L4 fields: another principal is not denied')
})
