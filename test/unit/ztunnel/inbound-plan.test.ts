// Table tests for the inbound decision (docs/istio-reference.md, "HBONE": local workload known,
// authority IP equals the pod IP, port resolution; proxy ports 503). The HBONE server checks the
// method and parses `:authority` before (test/integration/hbone/bad-input.test.ts): rows give typed
// addresses, parsed from text as the server does.
import t from 'tap'
import { planInbound, InboundRejectCode } from '../../../src/ztunnel/inbound-plan.js'
import type { InboundPlan, InboundRequest } from '../../../src/ztunnel/inbound-plan.js'
import { formatAuthority, formatHostPort, type SocketAddress } from '../../../src/net/address.js'
import { parseAuthority } from '../../../src/net/authority.js'
import { match, type Authorization } from '../../../src/authz/policy.js'
import { SpiffeId } from '../../../src/identity/spiffe-id.js'
import { meshView, service, waypointByAddress, waypointByHostname, workload } from '../../helpers/mesh-view.js'

const WAYPOINT = 'default/waypoint.default.svc.cluster.local'
const mesh = meshView({
  workloads: [
    workload({ name: 'productpage', addresses: ['10.244.1.1'], podLocalAddress: '10.245.1.1', node: 'node1' }),
    workload({ name: 'remote', addresses: ['10.244.2.1'], node: 'node2' }),
    workload({ name: 'v6', addresses: ['fd00::5'], node: 'node1' }),
    workload({
      name: 'waypoint-a',
      addresses: ['10.244.1.9'],
      podLocalAddress: '10.245.1.9',
      serviceAccount: 'waypoint',
      services: { [WAYPOINT]: [[15008, 15008]] },
    }),
    workload({ name: 'db', addresses: ['10.244.1.5'], waypoint: waypointByHostname('waypoint') }),
    workload({ name: 'cache', addresses: ['10.244.1.6'], waypoint: waypointByAddress('10.244.1.9') }),
    workload({ name: 'plain', addresses: ['10.244.1.7'] }),
    workload({ name: 'elsewhere', addresses: ['10.244.1.8'], waypoint: waypointByHostname('other-wp') }),
  ],
  services: [
    service({ name: 'waypoint', addresses: ['10.96.0.100'], ports: [[15008, 15008]] }),
    service({
      name: 'reviews',
      addresses: ['10.96.0.10'],
      ports: [
        [9080, 9081],
        [15001, 15001],
      ],
      waypoint: waypointByHostname('waypoint'),
    }),
    service({ name: 'ratings', addresses: ['10.96.0.12'], ports: [[9080, 9080]], waypoint: waypointByAddress('10.96.0.100') }),
    service({ name: 'details', addresses: ['10.96.0.11'], ports: [[9080, 9080]] }),
    service({ name: 'foreign', addresses: ['10.96.0.13'], ports: [[9080, 9080]], waypoint: waypointByHostname('other-wp') }),
  ],
})

/** An authority as the HBONE server hands it over: parsed from its text. */
const at = (ip: string, port: number): SocketAddress => {
  const parsed = parseAuthority(formatHostPort(ip, port))
  if (!parsed.ok) throw new Error(parsed.reason)
  return parsed.authority
}

interface Row {
  readonly name: string
  readonly req: Partial<Omit<InboundRequest, 'mesh'>>
  /** Exact values of the summary fields named; `reason` is a pattern. */
  readonly want: Record<string, unknown> & { reason?: RegExp }
}

function summarize(plan: InboundPlan): Record<string, unknown> {
  switch (plan.kind) {
    case 'accept':
      return {
        kind: plan.kind,
        workload: plan.workload.name,
        targetPort: plan.connection.dstPort,
        appAddress: formatAuthority(plan.appAddress),
        reason: plan.reason,
      }
    case 'deny':
      return { kind: plan.kind, workload: plan.workload.name, reason: plan.reason }
    case 'reject':
      return { kind: plan.kind, status: plan.status, code: plan.code, reason: plan.reason }
  }
}

const C = InboundRejectCode
const rows: Row[] = [
  // --- accept
  {
    name: 'CONNECT to the pod IP → accept, app at its pod-local address',
    req: {},
    want: { kind: 'accept', workload: 'productpage', targetPort: 9080, appAddress: '10.245.1.1:9080' },
  },
  {
    name: 'any port is accepted for a pod addressed by IP (no port restrictions)',
    req: { dst: at('10.244.1.1', 12345) },
    want: { kind: 'accept', targetPort: 12345 },
  },
  {
    name: 'no pod-local address → the app is dialled on the pod IP',
    req: { listenerIp: '10.244.1.7', dst: at('10.244.1.7', 80) },
    want: { kind: 'accept', appAddress: '10.244.1.7:80' },
  },
  {
    name: 'IPv6 pod, authority written non-canonically → accept',
    req: { listenerIp: 'fd00::5', dst: at('FD00:0::5', 80) },
    want: { kind: 'accept', workload: 'v6', appAddress: '[fd00::5]:80' },
  },
  {
    name: 'IPv4-mapped listener address (dual-stack socket) finds the workload',
    req: { listenerIp: '::ffff:10.244.1.1' },
    want: { kind: 'accept', workload: 'productpage' },
  },
  { name: 'local node given and matching → accept', req: { localNode: 'node1' }, want: { kind: 'accept' } },

  // --- 400: authority, IP
  { name: 'authority port 0 → 400', req: { dst: at('10.244.1.1', 0) }, want: { kind: 'reject', status: 400, code: C.badAuthority } },
  {
    name: 'authority IP of another pod → 400 ip mismatch: A != B',
    req: { dst: at('10.244.1.7', 80) },
    want: { kind: 'reject', status: 400, code: C.ipMismatch, reason: /^ip mismatch: 10\.244\.1\.7 != 10\.244\.1\.1$/ },
  },
  {
    name: 'IPv6 ip mismatch names both addresses canonically',
    req: { listenerIp: 'fd00::5', dst: at('FD00::6', 80) },
    want: { kind: 'reject', status: 400, reason: /^ip mismatch: fd00::6 != fd00::5$/ },
  },
  {
    name: 'a Service VIP at a non-waypoint pod → 400 ip mismatch (the exception is for waypoints only)',
    req: { dst: at('10.96.0.10', 9080) },
    want: { kind: 'reject', status: 400, code: C.ipMismatch },
  },

  // --- 503: local workload, ports
  {
    name: 'listener IP of no known workload → 503 unknown local workload',
    req: { listenerIp: '10.244.9.9', dst: at('10.244.9.9', 80) },
    want: { kind: 'reject', status: 503, code: C.unknownWorkload },
  },
  {
    name: 'workload scheduled on another node → 503',
    req: { localNode: 'node1', listenerIp: '10.244.2.1', dst: at('10.244.2.1', 80) },
    want: { kind: 'reject', status: 503, code: C.unknownWorkload, reason: /node2/ },
  },
  ...[15001, 15006, 15008].map((port): Row => ({
    name: `port ${port} is the proxy's own → 503`,
    req: { dst: at('10.244.1.1', port) },
    want: { kind: 'reject', status: 503, code: C.illegalPort },
  })),

  // --- order of the checks
  {
    name: 'order: local workload before IP match',
    req: { listenerIp: '10.244.9.9', dst: at('10.244.1.1', 80) },
    want: { code: C.unknownWorkload },
  },
  { name: 'order: IP match before port', req: { dst: at('10.244.1.7', 15008) }, want: { code: C.ipMismatch } },

  // --- a waypoint's own pod IP is an ordinary local workload
  {
    name: 'waypoint: its own IP is an ordinary local accept',
    req: { listenerIp: '10.244.1.9', dst: at('10.244.1.9', 8080) },
    want: { kind: 'accept', workload: 'waypoint-a', appAddress: '10.245.1.9:8080' },
  },
]

for (const row of rows) {
  t.test(row.name, async (t) => {
    const plan = planInbound({ mesh, listenerIp: '10.244.1.1', dst: at('10.244.1.1', 9080), srcIp: '10.244.2.1', ...row.req })
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
    const plan = planInbound({ mesh, listenerIp: '10.244.1.1', dst: at('10.244.1.1', 9080), srcIp: '10.244.2.1', ...row.req })
    if (plan.kind === 'reject') seen.add(plan.status)
  }
  t.strictSame([...seen].sort(), [400, 503])
})

// --- authorization is part of the one decision: after the checks above, on the peer identity
const denyRedis: Authorization = {
  name: 'deny-redis',
  namespace: 'default',
  scope: 'NAMESPACE',
  action: 'DENY',
  dryRun: false,
  rules: [{ clauses: [{ matches: [match({ destinationPorts: [6379] })] }] }],
}
// STRICT PeerAuthentication as istiod converts it: DENY when there is no peer identity.
const strict: Authorization = {
  name: 'strict',
  namespace: 'default',
  scope: 'NAMESPACE',
  action: 'DENY',
  dryRun: false,
  rules: [{ clauses: [{ matches: [match({ notPrincipals: [{ presence: true }] })] }] }],
}
const guarded = meshView({
  workloads: [workload({ name: 'productpage', addresses: ['10.244.1.1'], podLocalAddress: '10.245.1.1', node: 'node1' })],
  policies: [denyRedis, strict],
})
const PEER = SpiffeId.of({ namespace: 'default', serviceAccount: 'sleep' })
const authzRows: Array<{ name: string; req: Partial<Omit<InboundRequest, 'mesh'>>; want: Record<string, unknown> & { reason?: RegExp } }> =
  [
    {
      name: 'allowed by policy → accept, with the decision and the connection it judged',
      req: {},
      want: { kind: 'accept', workload: 'productpage', targetPort: 9080 },
    },
    {
      name: 'a DENY policy on the port → deny',
      req: { dst: at('10.244.1.1', 6379) },
      want: { kind: 'deny', workload: 'productpage', reason: /deny-redis/ },
    },
    { name: 'no peer identity (plaintext) under STRICT → deny', req: { srcIdentity: undefined }, want: { kind: 'deny', reason: /strict/ } },
    {
      name: 'checks before authorization: a proxy port is 503 even where policy would deny',
      req: { srcIdentity: undefined, dst: at('10.244.1.1', 15008) },
      want: { kind: 'reject', status: 503, code: C.illegalPort },
    },
  ]
for (const row of authzRows) {
  t.test(row.name, async (t) => {
    const plan = planInbound({
      mesh: guarded,
      listenerIp: '10.244.1.1',
      dst: at('10.244.1.1', 9080),
      srcIp: '10.244.2.1',
      srcIdentity: PEER,
      ...row.req,
    })
    const got = summarize(plan)
    for (const [key, want] of Object.entries(row.want)) {
      if (want instanceof RegExp) t.match(got[key], want, key)
      else t.strictSame(got[key], want, key)
    }
  })
}
