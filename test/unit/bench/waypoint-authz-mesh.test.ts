// bench:authz's waypoint mesh (src/bench/waypoint-authz-mesh.ts) through istiod's parse → translate:
// which of its L7 policies reach the destination waypoint's config and apply to the bench's request.
import t from 'tap'
import { buildWaypointAuthzMesh } from '../../../src/bench/waypoint-authz-mesh.js'
import { applicablePolicies, authorizeRequest, authorizeRequestVerdict } from '../../../src/l7/engines/l7-authz.js'

const names = (ps: readonly { namespace: string; name: string }[]) => ps.map((p) => `${p.namespace}/${p.name}`)

t.test(
  'spread: the destination has its waypoint-wide ALLOW and its Service DENY; the rest target other Services and waypoints',
  async (t) => {
    // 2,220 policies: 2 of the destination, then two per other target (9 Services of bench-dst, 100 waypoints, 1,000 Services).
    const m = buildWaypointAuthzMesh(2220, 'spread')
    t.same(names(m.config.authorization), ['bench-dst/allow-client'])
    t.same(names(m.service.authorization), ['bench-dst/deny-admin'])
    t.equal(m.config.services.length, 10, 'the waypoint serves the 10 Services of bench-dst')
    t.equal(m.inConfig, 2 + 9 * 2, "the 9 other Services' policies are in the config too")
    t.equal(applicablePolicies(m.config, m.service).length, 2)
    t.equal(authorizeRequestVerdict(applicablePolicies(m.config, m.service), m.request).reason, 'allowed by bench-dst/allow-client rule 0')
  },
)

t.test('same-target: every policy targets the destination Service', async (t) => {
  const m = buildWaypointAuthzMesh(40, 'same-target')
  t.same(m.config.authorization, [])
  t.equal(m.service.authorization.length, 40)
  t.equal(m.inConfig, 40)
  const policies = applicablePolicies(m.config, m.service)
  const full = authorizeRequest(policies, m.request)
  t.equal(full.reason, 'allowed by bench-dst/allow-client rule 0')
  t.equal(
    full.traces.filter((tr) => tr.policy.action === 'DENY').length,
    9 + 1,
    'every DENY (p-4, p-8 … p-36, and deny-admin) is evaluated',
  )
  const { traces: _traces, ...verdict } = full
  t.same(authorizeRequestVerdict(policies, m.request), verdict)
})

t.test('one policy: only the waypoint-wide ALLOW', async (t) => {
  const m = buildWaypointAuthzMesh(1, 'spread')
  t.equal(m.inConfig, 1)
  t.same(names(applicablePolicies(m.config, m.service)), ['bench-dst/allow-client'])
})
