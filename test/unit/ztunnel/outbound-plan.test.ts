// Table tests for the outbound planner: one row per rule of docs/istio-reference.md ("Waypoints",
// "Load balancing", "Ports", "Shutdown and failure"), against the literal mesh in fixtures/outbound-mesh.ts.
import t from 'tap'
import { seeded } from '../../helpers/seeded-random.js'
import { planOutbound, OutboundRejectCode } from '../../../src/ztunnel/outbound-plan.js'
import type { OutboundDestination, OutboundPlan } from '../../../src/ztunnel/outbound-plan.js'
import { formatAuthority } from '../../../src/net/address.js'
import type { Workload } from '../../../src/mesh/types.js'
import { mesh, s, w } from './fixtures/outbound-mesh.js'

/** The plan flattened to plain text, so rows state exactly the fields they care about. */
function summarize(plan: OutboundPlan): Record<string, unknown> {
  switch (plan.kind) {
    case 'passthrough':
      return {
        kind: plan.kind,
        dst: formatAuthority(plan.dst),
        workload: plan.destinationWorkload?.name,
        service: plan.service?.hostname,
        reason: plan.reason,
      }
    case 'hbone':
      return {
        kind: plan.kind,
        target: formatAuthority(plan.hboneTarget),
        authority: formatAuthority(plan.authority),
        identities: plan.expectedIdentities.map(String),
        workload: plan.destinationWorkload.name,
        service: plan.service?.hostname,
        reason: plan.reason,
      }
    case 'via-waypoint':
      return {
        kind: plan.kind,
        waypoint: formatAuthority(plan.hboneTarget),
        authority: formatAuthority(plan.authority),
        identities: plan.expectedIdentities.map(String),
        waypointWorkload: plan.hboneWorkload.name,
        workload: plan.destinationWorkload?.name,
        service: plan.service?.hostname,
        reason: plan.reason,
      }
    case 'reject':
      return { kind: plan.kind, code: plan.reason.code, reason: plan.reason.message }
  }
}

interface Row {
  readonly name: string
  readonly source?: Workload
  readonly dst: OutboundDestination
  /** Values the planner's random() returns, in order (cycled); default always 0. */
  readonly random?: readonly number[]
  /** Exact values of the summary fields named; `reason` is a pattern. */
  readonly want: Record<string, unknown> & { reason?: RegExp }
}

const ID = (ns: string, sa: string, td = 'cluster.local') => `spiffe://${td}/ns/${ns}/sa/${sa}`
const WAYPOINT_ID = ID('default', 'waypoint')
const REVIEWS_IDS = [ID('default', 'reviews'), ID('default', 'reviews-legacy')]

const rows: Row[] = [
  // --- Service VIP, load balancing and target ports
  {
    name: 'VIP: weighted pick lands on reviews-v1 (capacity 3 of 4); target port from the endpoint port map',
    dst: { ip: '10.96.0.10', port: 9080 },
    random: [0.1],
    want: {
      kind: 'hbone',
      target: '10.0.1.1:15008',
      authority: '10.0.1.1:19080',
      workload: 'reviews-v1',
      service: 'reviews.default.svc.cluster.local',
      identities: REVIEWS_IDS,
      reason: /endpoint's port map/,
    },
  },
  {
    name: 'VIP: random 0.75 is past v1 share (3/4): reviews-v2; endpoint maps to 0 so the Service target port 9081',
    dst: { ip: '10.96.0.10', port: 9080 },
    random: [0.75],
    want: { kind: 'hbone', target: '10.0.1.2:15008', authority: '10.0.1.2:9081', workload: 'reviews-v2', reason: /Service's target port/ },
  },
  {
    name: 'VIP: just below the share boundary (0.7499) stays on reviews-v1',
    dst: { ip: '10.96.0.10', port: 9080 },
    random: [0.7499],
    want: { kind: 'hbone', workload: 'reviews-v1' },
  },
  {
    name: 'VIP: unhealthy endpoints are excluded even with the largest capacity (v3 has 100)',
    dst: { ip: '10.96.0.10', port: 9080 },
    random: [0.999],
    want: { kind: 'hbone', workload: 'reviews-v2' },
  },
  {
    name: 'VIP: port with target port 0 in the Service and no endpoint mapping keeps the same port',
    dst: { ip: '10.96.0.10', port: 9999 },
    want: { kind: 'hbone', authority: '10.0.1.1:9999', reason: /from the service port/ },
  },
  {
    name: 'VIP: port the Service does not declare keeps the same port',
    dst: { ip: '10.96.0.10', port: 1234 },
    want: { kind: 'hbone', authority: '10.0.1.1:1234' },
  },
  {
    name: 'VIP: Service subject alt names join the expected identities (duplicates and non-SPIFFE entries dropped)',
    dst: { service: s.reviews, port: 9080 },
    want: { kind: 'hbone', identities: REVIEWS_IDS, authority: '10.0.1.1:19080' },
  },
  {
    name: 'VIP: Service without endpoints → reject no healthy upstream (fail closed)',
    dst: { ip: '10.96.0.32', port: 80 },
    want: { kind: 'reject', code: OutboundRejectCode.noHealthyUpstream, reason: /^no healthy upstream for service empty\.default/ },
  },
  {
    name: 'VIP: Service whose endpoints are all unhealthy → reject no healthy upstream',
    dst: { ip: '10.96.0.33', port: 80 },
    want: { kind: 'reject', code: OutboundRejectCode.noHealthyUpstream },
  },
  {
    name: 'VIP: endpoint outside ambient (tunnel protocol NONE) → passthrough to endpoint:target port',
    dst: { ip: '10.96.0.40', port: 80 },
    want: {
      kind: 'passthrough',
      dst: '10.0.4.1:8080',
      workload: 'legacy',
      service: 'legacy.default.svc.cluster.local',
      reason: /tunnel protocol NONE/,
    },
  },

  // --- Waypoints
  {
    name: 'VIP with a waypoint → via-waypoint; :authority stays VIP:port; expects the waypoint identity',
    dst: { ip: '10.96.0.20', port: 9080 },
    random: [0.1],
    want: {
      kind: 'via-waypoint',
      waypoint: '10.0.9.1:15008',
      authority: '10.96.0.20:9080',
      identities: [WAYPOINT_ID],
      waypointWorkload: 'waypoint-a',
      service: 'productpage.default.svc.cluster.local',
      workload: undefined,
      reason: /^service productpage\.default\.svc\.cluster\.local uses waypoint default\/waypoint \(10\.0\.9\.1:15008\)$/,
    },
  },
  {
    name: 'VIP with a waypoint: the waypoint replica is picked by the same weighted random',
    dst: { ip: '10.96.0.20', port: 9080 },
    random: [0.9],
    want: { kind: 'via-waypoint', waypoint: '10.0.9.2:15008', waypointWorkload: 'waypoint-b' },
  },
  {
    name: 'Service addressed by name with a waypoint → :authority is its VIP',
    dst: { service: s.productpage, port: 9080 },
    want: { kind: 'via-waypoint', authority: '10.96.0.20:9080', waypointWorkload: 'waypoint-a' },
  },
  {
    name: 'source IS the Service waypoint → skip it, go to an endpoint',
    source: w.waypointA,
    dst: { ip: '10.96.0.20', port: 9080 },
    want: {
      kind: 'hbone',
      target: '10.0.2.1:15008',
      authority: '10.0.2.1:9080',
      workload: 'productpage',
      reason: /^source is the waypoint of service productpage/,
    },
  },
  {
    name: 'pod with a waypoint (by hostname) → via-waypoint; :authority stays podIP:port',
    dst: { ip: '10.0.3.1', port: 5432 },
    want: {
      kind: 'via-waypoint',
      waypoint: '10.0.9.1:15008',
      authority: '10.0.3.1:5432',
      workload: 'db',
      service: undefined,
      identities: [WAYPOINT_ID],
      reason: /^workload default\/db uses waypoint default\/waypoint/,
    },
  },
  {
    name: 'source is a sibling replica of the pod waypoint → HBONE direct to the pod',
    source: w.waypointB,
    dst: { ip: '10.0.3.1', port: 5432 },
    want: {
      kind: 'hbone',
      target: '10.0.3.1:15008',
      authority: '10.0.3.1:5432',
      identities: [ID('default', 'db')],
      reason: /^source is the waypoint of workload default\/db/,
    },
  },
  {
    name: 'pod with a waypoint by workload address and a custom HBONE port',
    dst: { ip: '10.0.3.2', port: 6379 },
    want: { kind: 'via-waypoint', waypoint: '10.0.9.1:15019', authority: '10.0.3.2:6379', waypointWorkload: 'waypoint-a' },
  },
  {
    name: 'pod with a waypoint by the waypoint Service VIP → a healthy waypoint replica',
    dst: { ip: '10.0.3.3', port: 80 },
    random: [0.6],
    want: { kind: 'via-waypoint', waypoint: '10.0.9.2:15008', waypointWorkload: 'waypoint-b' },
  },
  {
    name: 'Service waypoint not in the mesh → reject unknown waypoint (fail closed, says which)',
    dst: { ip: '10.96.0.30', port: 9080 },
    want: {
      kind: 'reject',
      code: OutboundRejectCode.unknownWaypoint,
      reason: /ratings.* uses waypoint default\/ghost\.default\.svc\.cluster\.local, but no such waypoint Service is in the mesh$/,
    },
  },
  {
    name: 'Service waypoint with no healthy workload → reject waypoint unavailable',
    dst: { ip: '10.96.0.31', port: 9080 },
    want: { kind: 'reject', code: OutboundRejectCode.waypointUnavailable, reason: /waypoint default\/sick-wp has no healthy workload/ },
  },
  {
    name: 'pod waypoint address matches nothing → reject unknown waypoint',
    dst: { ip: '10.0.3.4', port: 80 },
    want: { kind: 'reject', code: OutboundRejectCode.unknownWaypoint, reason: /10\.0\.99\.99/ },
  },
  {
    name: 'pod waypoint address is an unhealthy workload → reject waypoint unavailable',
    dst: { ip: '10.0.3.5', port: 80 },
    want: { kind: 'reject', code: OutboundRejectCode.waypointUnavailable, reason: /is not healthy/ },
  },
  {
    name: "the source's own waypoint is never used: sleep (enrolled in sleep-wp) dials a pod directly",
    source: w.sleep,
    dst: { ip: '10.0.1.1', port: 9080 },
    want: {
      kind: 'hbone',
      target: '10.0.1.1:15008',
      authority: '10.0.1.1:9080',
      identities: [ID('default', 'reviews')],
      service: undefined,
    },
  },

  // --- Pod IPs and passthrough
  {
    name: 'pod IP in ambient → HBONE direct with the workload identity',
    dst: { ip: '10.0.2.1', port: 9080 },
    want: {
      kind: 'hbone',
      target: '10.0.2.1:15008',
      authority: '10.0.2.1:9080',
      identities: [ID('default', 'productpage')],
      workload: 'productpage',
    },
  },
  {
    name: 'pod IP with tunnel protocol NONE → passthrough to the pod',
    dst: { ip: '10.0.4.1', port: 8080 },
    want: { kind: 'passthrough', dst: '10.0.4.1:8080', workload: 'legacy', reason: /tunnel protocol NONE/ },
  },
  {
    name: 'unknown IP → passthrough (fail open)',
    dst: { ip: '192.168.1.1', port: 443 },
    want: { kind: 'passthrough', dst: '192.168.1.1:443', workload: undefined, reason: /not a mesh address.*fail open/ },
  },
  {
    name: 'unknown IP on 15008 is not a mesh address → passthrough, not a loop',
    dst: { ip: '192.168.1.1', port: 15008 },
    want: { kind: 'passthrough', dst: '192.168.1.1:15008' },
  },
  {
    name: 'workload whose fields form no SPIFFE ID → reject (cannot verify it)',
    dst: { ip: '10.0.7.1', port: 80 },
    want: { kind: 'reject', code: OutboundRejectCode.invalidIdentity },
  },

  // --- Loops and invalid input
  ...[15001, 15006, 15008].map((port): Row => ({
    name: `pod IP port ${port} → reject proxy port loop`,
    dst: { ip: '10.0.2.1', port },
    want: { kind: 'reject', code: OutboundRejectCode.proxyPortLoop, reason: new RegExp(`port ${port} is a proxy port`) },
  })),
  {
    name: 'VIP port 15008 → reject proxy port loop (before any waypoint or endpoint)',
    dst: { ip: '10.96.0.20', port: 15008 },
    want: { kind: 'reject', code: OutboundRejectCode.proxyPortLoop },
  },
  {
    name: 'VIP port whose endpoint target port is 15006 → reject proxy port loop',
    dst: { ip: '10.96.0.10', port: 7000 },
    want: { kind: 'reject', code: OutboundRejectCode.proxyPortLoop, reason: /10\.0\.1\.1:15006/ },
  },
  {
    name: 'not an IP → reject invalid destination',
    dst: { ip: 'reviews', port: 80 },
    want: { kind: 'reject', code: OutboundRejectCode.invalidDestination },
  },
  ...[0, 65536, 80.5].map((port): Row => ({
    name: `port ${port} → reject invalid destination`,
    dst: { ip: '10.0.2.1', port },
    want: { kind: 'reject', code: OutboundRejectCode.invalidDestination },
  })),
  {
    name: 'Service addressed by name with a waypoint but no VIP → reject',
    dst: { service: s.headlessWithWaypoint, port: 80 },
    want: { kind: 'reject', code: OutboundRejectCode.serviceWithoutVip },
  },

  // --- IPv6
  {
    name: 'IPv6 pod IP → HBONE with bracketed target and :authority, identity in its trust domain',
    dst: { ip: 'fd00::1', port: 80 },
    want: { kind: 'hbone', target: '[fd00::1]:15008', authority: '[fd00::1]:80', identities: [ID('v6', 'dual', 'example.org')] },
  },
  {
    name: 'IPv6 VIP → the dual-stack endpoint is dialled on its IPv6 address',
    dst: { ip: 'fd00:96::1', port: 80 },
    want: { kind: 'hbone', target: '[fd00::1]:15008', authority: '[fd00::1]:8080', service: 'dual.v6.svc.cluster.local' },
  },
  {
    name: 'IPv6 destination written non-canonically (upper case, zeros) is canonicalised first',
    dst: { ip: 'FD00:0:0::1', port: 80 },
    want: { kind: 'hbone', authority: '[fd00::1]:80' },
  },
  {
    name: 'IPv4-mapped IPv6 (dual-stack socket) finds the IPv4 workload',
    dst: { ip: '::ffff:10.0.2.1', port: 9080 },
    want: { kind: 'hbone', authority: '10.0.2.1:9080', workload: 'productpage' },
  },
  {
    name: 'unknown IPv6 → passthrough, printed bracketed in the reason',
    dst: { ip: '2001:db8::1', port: 443 },
    want: { kind: 'passthrough', dst: '[2001:db8::1]:443', reason: /^\[2001:db8::1\]:443 is not a mesh address/ },
  },
]

for (const row of rows) {
  t.test(row.name, async (t) => {
    let i = 0
    const seq = row.random ?? [0]
    const plan = planOutbound({ mesh, source: row.source ?? w.sleep, dst: row.dst, random: () => seq[i++ % seq.length]! })
    const got = summarize(plan)
    for (const [key, want] of Object.entries(row.want)) {
      if (want instanceof RegExp) t.match(got[key], want, key)
      else t.strictSame(got[key], want, key)
    }
  })
}

t.test('weighted load balancing: capacities 3:1 split ~75/25 over 10 000 picks (seeded PRNG)', async (t) => {
  const random = seeded(42)
  const counts = new Map<string, number>()
  for (let n = 0; n < 10_000; n++) {
    const plan = planOutbound({ mesh, source: w.sleep, dst: { ip: '10.96.0.10', port: 9080 }, random })
    const name = plan.kind === 'hbone' ? plan.destinationWorkload.name : plan.kind
    counts.set(name, (counts.get(name) ?? 0) + 1)
  }
  const v1 = counts.get('reviews-v1') ?? 0
  const v2 = counts.get('reviews-v2') ?? 0
  t.equal(v1 + v2, 10_000, 'only the healthy endpoints are ever picked')
  // 3 standard deviations of Binomial(10000, 0.75) ≈ 130.
  t.ok(Math.abs(v1 - 7500) < 200, `reviews-v1 picked ${v1} times, expected ~7500`)
  t.ok(Math.abs(v2 - 2500) < 200, `reviews-v2 picked ${v2} times, expected ~2500`)
})

t.test('plans are pure: the same input and random give the same plan', async (t) => {
  const run = () => planOutbound({ mesh, source: w.sleep, dst: { ip: '10.96.0.20', port: 9080 }, random: () => 0.9 })
  t.strictSame(summarize(run()), summarize(run()))
})
