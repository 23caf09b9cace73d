// Table tests for the HBONE server's CONNECT checks (ambient-reference.md, "HBONE": method,
// authority, local workload known, authority IP equals the pod IP, port resolution; proxy ports 503).
import t from 'tap'
import { planInbound, InboundRejectCode } from '../../../src/ztunnel/inbound-plan.js'
import type { InboundPlan, InboundRequest, ParsedAuthority } from '../../../src/ztunnel/inbound-plan.js'
import { formatAuthority } from '../../../src/net/address.js'
import { meshView, service, waypointByAddress, waypointByHostname, workload } from '../../helpers/mesh-view.js'

const WAYPOINT = 'default/waypoint.default.svc.cluster.local'
const mesh = meshView({
  workloads: [
    workload({ name: 'productpage', addresses: ['10.244.1.1'], podLocalAddress: '10.245.1.1', node: 'node1' }),
    workload({ name: 'remote', addresses: ['10.244.2.1'], node: 'node2' }),
    workload({ name: 'v6', addresses: ['fd00::5'], node: 'node1' }),
    workload({ name: 'waypoint-a', addresses: ['10.244.1.9'], podLocalAddress: '10.245.1.9', serviceAccount: 'waypoint', services: { [WAYPOINT]: [[15008, 15008]] } }),
    workload({ name: 'db', addresses: ['10.244.1.5'], waypoint: waypointByHostname('waypoint') }),
    workload({ name: 'cache', addresses: ['10.244.1.6'], waypoint: waypointByAddress('10.244.1.9') }),
    workload({ name: 'plain', addresses: ['10.244.1.7'] }),
    workload({ name: 'elsewhere', addresses: ['10.244.1.8'], waypoint: waypointByHostname('other-wp') }),
  ],
  services: [
    service({ name: 'waypoint', addresses: ['10.96.0.100'], ports: [[15008, 15008]] }),
    service({ name: 'reviews', addresses: ['10.96.0.10'], ports: [[9080, 9081], [15001, 15001]], waypoint: waypointByHostname('waypoint') }),
    service({ name: 'ratings', addresses: ['10.96.0.12'], ports: [[9080, 9080]], waypoint: waypointByAddress('10.96.0.100') }),
    service({ name: 'details', addresses: ['10.96.0.11'], ports: [[9080, 9080]] }),
    service({ name: 'foreign', addresses: ['10.96.0.13'], ports: [[9080, 9080]], waypoint: waypointByHostname('other-wp') }),
  ],
})

const at = (ip: string, port: number): ParsedAuthority => ({ ok: true, ip, port })

interface Row {
  readonly name: string
  readonly req: Partial<Omit<InboundRequest, 'mesh'>>
  /** Exact values of the summary fields named; `reason` is a pattern. */
  readonly want: Record<string, unknown> & { reason?: RegExp }
}

function summarize(plan: InboundPlan): Record<string, unknown> {
  switch (plan.kind) {
    case 'accept':
      return { kind: plan.kind, workload: plan.workload.name, targetPort: plan.targetPort, appAddress: formatAuthority(plan.appAddress), reason: plan.reason }
    case 'waypoint': {
      const d = plan.destination
      const dest = d.kind === 'service' ? `service ${d.service.name}:${d.port}` : `workload ${d.workload.name}:${d.port}`
      return { kind: plan.kind, waypoint: plan.waypoint.name, destination: dest, reason: plan.reason }
    }
    case 'reject':
      return { kind: plan.kind, status: plan.status, code: plan.code, reason: plan.reason }
  }
}

const C = InboundRejectCode
const rows: Row[] = [
  // --- accept
  { name: 'CONNECT to the pod IP → accept, app at its pod-local address', req: {}, want: { kind: 'accept', workload: 'productpage', targetPort: 9080, appAddress: '10.245.1.1:9080' } },
  { name: 'any port is accepted for a pod addressed by IP (no port restrictions)', req: { authority: at('10.244.1.1', 12345) }, want: { kind: 'accept', targetPort: 12345 } },
  { name: 'no pod-local address → the app is dialled on the pod IP', req: { listenerIp: '10.244.1.7', authority: at('10.244.1.7', 80) }, want: { kind: 'accept', appAddress: '10.244.1.7:80' } },
  { name: 'IPv6 pod, authority written non-canonically → accept', req: { listenerIp: 'fd00::5', authority: at('FD00:0::5', 80) }, want: { kind: 'accept', workload: 'v6', appAddress: '[fd00::5]:80' } },
  { name: 'IPv4-mapped listener address (dual-stack socket) finds the workload', req: { listenerIp: '::ffff:10.244.1.1' }, want: { kind: 'accept', workload: 'productpage' } },
  { name: 'local node given and matching → accept', req: { localNode: 'node1' }, want: { kind: 'accept' } },

  // --- 400: method, authority, IP
  { name: 'method GET → 400', req: { method: 'GET' }, want: { kind: 'reject', status: 400, code: C.notConnect } },
  { name: 'method is case-sensitive: "connect" → 400', req: { method: 'connect' }, want: { kind: 'reject', status: 400, code: C.notConnect } },
  { name: 'authority that did not parse → 400', req: { authority: { ok: false, error: 'missing port' } }, want: { kind: 'reject', status: 400, code: C.badAuthority, reason: /missing port/ } },
  { name: 'authority host that is not an IP → 400', req: { authority: at('reviews', 9080) }, want: { kind: 'reject', status: 400, code: C.badAuthority } },
  { name: 'authority port 0 → 400', req: { authority: at('10.244.1.1', 0) }, want: { kind: 'reject', status: 400, code: C.badAuthority } },
  { name: 'authority IP of another pod → 400 ip mismatch: A != B', req: { authority: at('10.244.1.7', 80) }, want: { kind: 'reject', status: 400, code: C.ipMismatch, reason: /^ip mismatch: 10\.244\.1\.7 != 10\.244\.1\.1$/ } },
  { name: 'IPv6 ip mismatch names both addresses canonically', req: { listenerIp: 'fd00::5', authority: at('FD00::6', 80) }, want: { kind: 'reject', status: 400, reason: /^ip mismatch: fd00::6 != fd00::5$/ } },
  { name: 'a Service VIP at a non-waypoint pod → 400 ip mismatch (the exception is for waypoints only)', req: { authority: at('10.96.0.10', 9080) }, want: { kind: 'reject', status: 400, code: C.ipMismatch } },

  // --- 503: local workload, ports
  { name: 'listener IP of no known workload → 503 unknown local workload', req: { listenerIp: '10.244.9.9', authority: at('10.244.9.9', 80) }, want: { kind: 'reject', status: 503, code: C.unknownWorkload } },
  { name: 'workload scheduled on another node → 503', req: { localNode: 'node1', listenerIp: '10.244.2.1', authority: at('10.244.2.1', 80) }, want: { kind: 'reject', status: 503, code: C.unknownWorkload, reason: /node2/ } },
  ...[15001, 15006, 15008].map((port): Row => ({
    name: `port ${port} is the proxy's own → 503`,
    req: { authority: at('10.244.1.1', port) },
    want: { kind: 'reject', status: 503, code: C.illegalPort },
  })),

  // --- order of the checks
  { name: 'order: method before authority', req: { method: 'POST', authority: { ok: false, error: 'x' } }, want: { code: C.notConnect } },
  { name: 'order: authority before local workload', req: { listenerIp: '10.244.9.9', authority: { ok: false, error: 'x' } }, want: { code: C.badAuthority } },
  { name: 'order: local workload before IP match', req: { listenerIp: '10.244.9.9', authority: at('10.244.1.1', 80) }, want: { code: C.unknownWorkload } },
  { name: 'order: IP match before port', req: { authority: at('10.244.1.7', 15008) }, want: { code: C.ipMismatch } },

  // --- waypoints: the exception to the IP check
  { name: 'waypoint: VIP of a Service that uses it → waypoint plan', req: { isWaypoint: true, listenerIp: '10.244.1.9', authority: at('10.96.0.10', 9080) }, want: { kind: 'waypoint', waypoint: 'waypoint-a', destination: 'service reviews:9080', reason: /serves service reviews/ } },
  { name: 'waypoint: Service that names it by its VIP → served', req: { isWaypoint: true, listenerIp: '10.244.1.9', authority: at('10.96.0.12', 9080) }, want: { kind: 'waypoint', destination: 'service ratings:9080' } },
  { name: 'waypoint: pod that uses it (by hostname) → served', req: { isWaypoint: true, listenerIp: '10.244.1.9', authority: at('10.244.1.5', 5432) }, want: { kind: 'waypoint', destination: 'workload db:5432' } },
  { name: 'waypoint: pod that uses it (by address) → served, any port', req: { isWaypoint: true, listenerIp: '10.244.1.9', authority: at('10.244.1.6', 4444) }, want: { kind: 'waypoint', destination: 'workload cache:4444' } },
  { name: 'waypoint: service port the Service does not declare → 503 port not resolvable', req: { isWaypoint: true, listenerIp: '10.244.1.9', authority: at('10.96.0.10', 9081) }, want: { kind: 'reject', status: 503, code: C.portNotResolvable } },
  { name: 'waypoint: declared service port that is a proxy port → 503', req: { isWaypoint: true, listenerIp: '10.244.1.9', authority: at('10.96.0.10', 15001) }, want: { kind: 'reject', status: 503, code: C.illegalPort } },
  { name: 'waypoint: Service without a waypoint → 400 not served', req: { isWaypoint: true, listenerIp: '10.244.1.9', authority: at('10.96.0.11', 9080) }, want: { kind: 'reject', status: 400, code: C.notServedByWaypoint, reason: /does not serve 10\.96\.0\.11:9080 \(service details/ } },
  { name: "waypoint: another waypoint's Service → 400 not served", req: { isWaypoint: true, listenerIp: '10.244.1.9', authority: at('10.96.0.13', 9080) }, want: { kind: 'reject', status: 400, code: C.notServedByWaypoint } },
  { name: "waypoint: another waypoint's pod → 400 not served", req: { isWaypoint: true, listenerIp: '10.244.1.9', authority: at('10.244.1.8', 80) }, want: { kind: 'reject', status: 400, code: C.notServedByWaypoint } },
  { name: 'waypoint: pod without a waypoint → 400 not served', req: { isWaypoint: true, listenerIp: '10.244.1.9', authority: at('10.244.1.7', 80) }, want: { kind: 'reject', status: 400, code: C.notServedByWaypoint } },
  { name: 'waypoint: unknown address → 400 not served', req: { isWaypoint: true, listenerIp: '10.244.1.9', authority: at('192.168.0.1', 80) }, want: { kind: 'reject', status: 400, code: C.notServedByWaypoint, reason: /unknown address/ } },
  { name: 'waypoint: its own IP is an ordinary local accept', req: { isWaypoint: true, listenerIp: '10.244.1.9', authority: at('10.244.1.9', 8080) }, want: { kind: 'accept', workload: 'waypoint-a', appAddress: '10.245.1.9:8080' } },
]

for (const row of rows) {
  t.test(row.name, async (t) => {
    const plan = planInbound({ mesh, listenerIp: '10.244.1.1', method: 'CONNECT', authority: at('10.244.1.1', 9080), ...row.req })
    const got = summarize(plan)
    for (const [key, want] of Object.entries(row.want)) {
      if (want instanceof RegExp) t.match(got[key], want, key)
      else t.strictSame(got[key], want, key)
    }
  })
}

t.test('every reject code maps to 400 or 503; none is 401 (authorization is src/authz)', async (t) => {
  const seen = new Set<number>()
  for (const row of rows) {
    const plan = planInbound({ mesh, listenerIp: '10.244.1.1', method: 'CONNECT', authority: at('10.244.1.1', 9080), ...row.req })
    if (plan.kind === 'reject') seen.add(plan.status)
  }
  t.strictSame([...seen].sort(), [400, 503])
})
