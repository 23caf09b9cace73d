// explain's engine over literal mesh states: bookinfo from deploy/demo translated by istiod's own
// translate() (policies swapped per case), and mesh-view literals for what translation cannot
// produce (a waypoint reference to nothing). One row per path kind and per trap.
import t from 'tap'
import { readdirSync, readFileSync } from 'node:fs'
import { join, resolve } from 'node:path'
import { parseConfigFiles } from '../../../src/istiod/resources/snapshot.js'
import { translate } from '../../../src/istiod/translate/index.js'
import { MeshState } from '../../../src/mesh/state.js'
import { explain, TrapCode, type Explanation, type ExplainRequest } from '../../../src/inspect/explain.js'
import { formatExplain } from '../../../src/inspect/explain-format.js'
import { parseIstiodConfig, ztunnelHttpFindings, ztunnelHttpFindingsFromTranslation } from '../../../src/inspect/istiod-state.js'
import { meshView, service, waypointByHostname, workload } from '../../helpers/mesh-view.js'

const DEMO = resolve(import.meta.dirname, '../../../deploy/demo')

/** deploy/demo with its authorization.yaml replaced by `policies` (and any file by `replace`'s text). */
function demo(policies: string, replace: Readonly<Record<string, string>> = {}) {
  const files = readdirSync(DEMO)
    .filter((f) => f.endsWith('.yaml') && f !== 'authorization.yaml')
    .map((f) => ({ file: f, text: replace[f] ?? readFileSync(join(DEMO, f), 'utf8') }))
  const parsed = parseConfigFiles([...files, { file: 'policies.yaml', text: policies }])
  const errors = parsed.messages.filter((m) => m.severity === 'error')
  if (errors.length > 0) throw new Error(errors.map((e) => e.reason).join('; '))
  const tr = translate(parsed.snapshot, { nodes: 2 })
  const mesh = new MeshState()
  mesh.replaceAll(tr.mesh)
  return { mesh, waypoints: tr.waypoints, ztunnelHttpFindings: ztunnelHttpFindingsFromTranslation(tr.messages), translation: tr }
}

const DEMO_POLICIES = readFileSync(join(DEMO, 'authorization.yaml'), 'utf8')

const policy = (name: string, spec: string) => `apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata:
  name: ${name}
  namespace: default
spec:
${spec
  .split('\n')
  .map((l) => `  ${l}`)
  .join('\n')}
---
`

const components = (e: Explanation) => e.hops.map((h) => h.component)
const decision = (e: Explanation, c: string) => e.hops.find((h) => h.component === c)?.decisions[0]
const trapCodes = (e: Explanation) => e.traps.map((x) => x.code)

t.test('direct HBONE, allowed at the destination ztunnel by the deciding ALLOW', async (t) => {
  const e = explain({ ...demo(DEMO_POLICIES), from: 'curl', to: 'productpage:9080' })
  t.equal(e.verdict, 'ALLOW')
  t.same(components(e), ['capture', 'source-ztunnel', 'destination-ztunnel', 'destination'])
  const d = decision(e, 'destination-ztunnel')!
  t.equal(d.decidingPolicy, 'default/allow-productpage')
  t.ok(
    d.policies.some((p) => p.policy === 'default/deny-all' && !p.matched),
    'every policy considered is listed',
  )
  t.equal(e.hops[2]!.peerIdentity, 'spiffe://cluster.local/ns/default/sa/curl', 'the destination ztunnel sees the client')
  t.same(e.expected, { kind: 'allowed' })
  t.same(e.traps, [])
})

t.test('denied at the destination ztunnel by a DENY', async (t) => {
  const e = explain({
    ...demo(
      DEMO_POLICIES +
        '---\n' +
        policy(
          'deny-curl',
          `selector:\n  matchLabels:\n    app: productpage\naction: DENY\nrules:\n  - from:\n      - source:\n` +
            `          principals: ["cluster.local/ns/default/sa/curl"]`,
        ),
    ),
    from: 'curl',
    to: 'productpage:9080',
  })
  t.equal(e.verdict, 'DENY')
  t.equal(e.decidedAt, 'destination-ztunnel')
  t.equal(decision(e, 'destination-ztunnel')!.decidingPolicy, 'default/deny-curl')
  t.match(e.reason, /explicitly denied by: default\/deny-curl/)
  t.same(e.expected, { kind: 'refused', by: 'destination-ztunnel' })
  t.notOk(components(e).includes('destination'), 'the path stops at the refusal')
})

const viaWaypoint: Array<[string, ExplainRequest, 'ALLOW' | 'DENY', string | null]> = [
  [
    'GET /reviews/0 from productpage: allowed at the waypoint and at reviews',
    { from: 'productpage', to: 'reviews:9080', method: 'GET', path: '/reviews/0' },
    'ALLOW',
    null,
  ],
  [
    'POST from productpage: denied by method at the waypoint (403)',
    { from: 'productpage', to: 'reviews:9080', method: 'POST', path: '/reviews/0' },
    'DENY',
    'waypoint',
  ],
  [
    'GET /other from productpage: denied by path at the waypoint (403)',
    { from: 'productpage', to: 'reviews:9080', method: 'GET', path: '/other' },
    'DENY',
    'waypoint',
  ],
  [
    'GET from curl: denied by principal at the waypoint (403)',
    { from: 'curl', to: 'reviews', method: 'GET', path: '/reviews/0' },
    'DENY',
    'waypoint',
  ],
]
for (const [name, req, verdict, at] of viaWaypoint) {
  t.test(`via waypoint: ${name}`, async (t) => {
    const e = explain({ ...demo(DEMO_POLICIES), ...req })
    t.equal(e.verdict, verdict)
    t.equal(e.decidedAt, at)
    const wp = e.hops.find((h) => h.component === 'waypoint')!
    t.equal(wp.name, 'waypoint default/reviews-waypoint')
    t.equal(wp.identity, 'spiffe://cluster.local/ns/default/sa/reviews-waypoint')
    t.equal(wp.decisions[0]!.point, 'L7 authorization')
    if (verdict === 'ALLOW') {
      t.equal(wp.decisions[0]!.decidingPolicy, 'default/allow-reviews-at-waypoint')
      t.equal(wp.decisions[0]!.decidingRule, 'rule 0')
      const dz = e.hops.find((h) => h.component === 'destination-ztunnel')!
      t.equal(
        dz.peerIdentity,
        'spiffe://cluster.local/ns/default/sa/reviews-waypoint',
        "reviews' ztunnel sees the waypoint, not productpage",
      )
      t.equal(dz.decisions[0]!.decidingPolicy, 'default/allow-reviews-from-waypoint')
      t.match(wp.decisions[1]!.reason, /v1 90 \/ v2 10/, 'the canary split is shown')
    } else {
      t.same(e.expected, { kind: 'http', status: 403, by: 'waypoint' })
    }
  })
}

t.test('trap: the waypoint replaces the source identity at the destination ztunnel', async (t) => {
  const policies = DEMO_POLICIES.replace(
    'principals: ["cluster.local/ns/default/sa/reviews-waypoint"]',
    'principals: ["cluster.local/ns/default/sa/bookinfo-productpage"]',
  )
  const e = explain({ ...demo(policies), from: 'productpage', to: 'reviews:9080', method: 'GET', path: '/reviews/0' })
  t.equal(e.verdict, 'DENY')
  t.equal(e.decidedAt, 'destination-ztunnel')
  t.same(e.expected, { kind: 'http', status: 503, by: 'destination-ztunnel' }, 'the waypoint answers 503 when its upstream refuses')
  t.same(trapCodes(e), [TrapCode.waypointReplacesSource])
  t.match(e.traps[0]!.message, /sees the waypoint's principal cluster\.local\/ns\/default\/sa\/reviews-waypoint/)
})

t.test("the chosen route's fault, retries, timeout and mirror are shown at the waypoint", async (t) => {
  const canary = readFileSync(join(DEMO, 'reviews-canary.yaml'), 'utf8').replace(
    `  http:
    - route:`,
    `  http:
    - fault:
        abort:
          httpStatus: 500
          percentage:
            value: 50
        delay:
          fixedDelay: 2s
          percentage:
            value: 10
      timeout: 3s
      retries:
        attempts: 4
        perTryTimeout: 1s
        retryOn: 5xx
      mirror:
        host: ratings
      mirrorPercentage:
        value: 25
      route:`,
  )
  const e = explain({
    ...demo(DEMO_POLICIES, { 'reviews-canary.yaml': canary }),
    from: 'productpage',
    to: 'reviews:9080',
    method: 'GET',
    path: '/reviews/0',
  })
  const notes = e.hops.find((h) => h.component === 'waypoint')!.notes.join('\n')
  t.match(notes, /fault abort: HTTP 500 on 50% of requests, answered by the waypoint \("fault filter abort", flag FI\)/)
  t.match(notes, /fault delay: 2000 ms on 10% of requests/)
  t.match(notes, /retries: 4 after the first try on 5xx, 1000 ms per try/)
  t.match(notes, /timeout: 3000 ms for the whole request/)
  t.match(notes, /mirror: 25% of requests also to ratings\.default\.svc\.cluster\.local:9080/)
  t.match(formatExplain(e).join('\n'), /note: route \S+: fault abort: HTTP 500/, 'the readable tree shows it')

  const plain = explain({ ...demo(DEMO_POLICIES), from: 'productpage', to: 'reviews:9080', method: 'GET', path: '/reviews/0' })
  const plainNotes = plain.hops.find((h) => h.component === 'waypoint')!.notes.join('\n')
  t.notMatch(plainNotes, /fault (abort|delay)|mirror:/, 'no fault or mirror when the route has none')
  t.match(plainNotes, /retries: 2 after the first try \(Istio's default\)/)
  t.match(plainNotes, /timeout: none/)
})

t.test('trap: no ALLOW for the waypoint at the destination', async (t) => {
  const policies = DEMO_POLICIES.replace(
    'principals: ["cluster.local/ns/default/sa/reviews-waypoint"]',
    'principals: ["cluster.local/ns/default/sa/nobody"]',
  )
  const e = explain({ ...demo(policies), from: 'productpage', to: 'reviews:9080', method: 'GET', path: '/reviews/0' })
  t.equal(e.verdict, 'DENY')
  t.same(trapCodes(e), [TrapCode.noAllowForWaypoint])
})

t.test('trap: HTTP rules at ztunnel (a selector policy with methods)', async (t) => {
  const policies = DEMO_POLICIES.replace(
    'principals: ["cluster.local/ns/default/sa/curl"]',
    'principals: ["cluster.local/ns/default/sa/curl"]\n      to:\n        - operation:\n            methods: ["GET"]',
  )
  const input = demo(policies)
  t.ok(input.ztunnelHttpFindings.has('default/allow-productpage'), 'istiod reports the finding')
  const e = explain({ ...input, from: 'curl', to: 'productpage:9080', method: 'GET', path: '/productpage' })
  t.equal(e.verdict, 'DENY', 'the ALLOW rule needing GET was dropped: nothing allows curl')
  t.equal(e.decidedAt, 'destination-ztunnel')
  t.ok(trapCodes(e).includes(TrapCode.httpRulesAtZtunnel))
  t.ok(trapCodes(e).includes(TrapCode.httpWithoutWaypoint))
  t.match(e.traps.find((x) => x.code === TrapCode.httpRulesAtZtunnel)!.message, /allow-productpage.*dropped.*affects the verdict/)
})

t.test('trap: missing waypoint fails closed at the source ztunnel', async (t) => {
  const curl = workload({ name: 'curl', addresses: ['10.0.0.1'], serviceAccount: 'curl' })
  const reviews = service({
    name: 'reviews',
    addresses: ['10.96.0.5'],
    ports: [[9080, 9080]],
    waypoint: waypointByHostname('gone-waypoint'),
  })
  const pod = workload({
    name: 'reviews-v1',
    addresses: ['10.0.0.2'],
    services: { 'default/reviews.default.svc.cluster.local': [[9080, 9080]] },
  })
  const e = explain({ mesh: meshView({ workloads: [curl, pod], services: [reviews] }), waypoints: [], from: 'curl', to: 'reviews:9080' })
  t.equal(e.verdict, 'DENY')
  t.equal(e.decidedAt, 'source-ztunnel')
  t.same(trapCodes(e), [TrapCode.missingWaypoint])
  t.same(e.expected, { kind: 'refused', by: 'source-ztunnel' })
})

t.test('passthrough to an IP outside the mesh', async (t) => {
  const e = explain({ ...demo(DEMO_POLICIES), from: 'curl', to: '10.9.8.7:443' })
  t.equal(e.verdict, 'ALLOW')
  t.equal(e.destination.kind, 'ip')
  t.same(components(e), ['capture', 'source-ztunnel', 'destination'])
  t.match(e.hops[1]!.action, /not a mesh address: passthrough/)
  t.same(
    e.hops.flatMap((h) => h.decisions),
    [],
    'no enforcement point on the way',
  )
})

t.test('unknown source or destination is a config error', async (t) => {
  const input = demo(DEMO_POLICIES)
  t.throws(() => explain({ ...input, from: 'nope', to: 'reviews' }), { code: 'EXPLAIN_UNKNOWN_SOURCE' })
  t.throws(() => explain({ ...input, from: 'curl', to: 'nope:80' }), { code: 'EXPLAIN_UNKNOWN_DESTINATION' })
})

t.test("the same answer from istiod's /debug/config JSON (the inverse parse)", async (t) => {
  const input = demo(DEMO_POLICIES)
  const json = JSON.parse(
    JSON.stringify(
      {
        configVersion: 3,
        workloads: input.translation.mesh.workloads,
        services: input.translation.mesh.services,
        policies: input.translation.mesh.policies,
        waypoints: input.translation.waypoints,
      },
      (_k, v: unknown) => (v instanceof Map ? Object.fromEntries(v) : v),
    ),
  ) as unknown
  const state = parseIstiodConfig(json)
  t.equal(state.configVersion, 3)
  for (const req of [
    { from: 'curl', to: 'productpage:9080' },
    { from: 'productpage', to: 'reviews', method: 'GET', path: '/reviews/1' },
    { from: 'curl', to: 'details' },
  ]) {
    t.same(
      explain({ mesh: state.mesh, waypoints: state.waypoints, ...req }),
      explain({ ...input, ztunnelHttpFindings: new Map(), ...req }),
      `${req.from} → ${req.to}`,
    )
  }
  t.throws(() => parseIstiodConfig({ workloads: 1 }), { code: 'INSPECT_BAD_ISTIOD_CONFIG' })
  t.same(
    [
      ...ztunnelHttpFindings([
        { code: 'AMB0101', message: 'm', object: 'AuthorizationPolicy default/p' },
        { code: 'IST0001', message: 'x', object: null },
      ]),
    ],
    [['default/p', 'm']],
  )
})

t.test('the readable tree', async (t) => {
  const policies = DEMO_POLICIES.replace(
    'principals: ["cluster.local/ns/default/sa/reviews-waypoint"]',
    'principals: ["cluster.local/ns/default/sa/bookinfo-productpage"]',
  )
  const text = formatExplain(
    explain({ ...demo(policies), from: 'productpage', to: 'reviews:9080', method: 'GET', path: '/reviews/0' }),
  ).join('\n')
  t.match(text, /^DENY at destination ztunnel: allow policies exist, but none allowed/)
  t.match(text, /├─ 3\. waypoint: waypoint default\/reviews-waypoint/)
  t.match(text, /MATCH {4}ALLOW {2}default\/allow-reviews-at-waypoint \(service reviews\.default\.svc\.cluster\.local, deciding\)/)
  t.match(text, /└─ 4\. destination ztunnel/)
  t.match(text, /! WAYPOINT_REPLACES_SOURCE \(destination ztunnel\)/)
})
