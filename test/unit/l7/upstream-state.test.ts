// src/l7/upstream-state.ts: the candidates and picks it hands the data path follow the config object
// they are given (kept per endpoints array, so a new config's health is read, never a stale copy).
import t from 'tap'
import { createUpstreamState } from '../../../src/l7/upstream-state.js'
import type { Endpoint, UpstreamCluster } from '../../../src/mesh/waypoint-config.js'
import { unlimitedConnectionPool } from '../../../src/mesh/waypoint-config.js'
import { createCapturingLogger } from '../../../src/observability/capturing-logger.js'

const ep = (uid: string, healthy: boolean): Endpoint => ({
  uid,
  name: uid,
  namespace: 'default',
  address: `10.0.0.${uid.length}`,
  targetPort: 8080,
  identity: 'spiffe://cluster.local/ns/default/sa/app',
  hbonePort: 15008,
  tunnelProtocol: 'HBONE',
  healthy,
  weight: 1,
  node: 'node-1',
})
const cluster = (endpoints: Endpoint[]): UpstreamCluster => ({
  name: 'outbound|8080||app.default.svc.cluster.local',
  hostname: 'app.default.svc.cluster.local',
  namespace: 'default',
  port: 8080,
  subset: null,
  subsetLabels: {},
  destinationRule: null,
  endpoints,
  trafficPolicy: { loadBalancer: 'ROUND_ROBIN', outlierDetection: null, connectionPool: unlimitedConnectionPool(1000, null) },
})

t.test('candidates: the healthy endpoints of the config given, a new config read anew', async (t) => {
  const state = createUpstreamState({ now: () => 0, random: () => 0, logger: createCapturingLogger().logger })
  const first = cluster([ep('a', true), ep('bb', false), ep('ccc', true)])
  t.same(
    state.candidates(first).map((e) => e.uid),
    ['a', 'ccc'],
  )
  t.same(
    state.candidates(first).map((e) => e.uid),
    ['a', 'ccc'],
    'asked again',
  )
  const next = cluster([ep('a', false), ep('bb', true), ep('ccc', true)])
  t.same(
    state.candidates(next).map((e) => e.uid),
    ['bb', 'ccc'],
    'a new config: its own health',
  )
  const picks = new Set<string>()
  for (let i = 0; i < 4; i++) {
    const p = state.pick(next)
    if (p.kind === 'picked') picks.add(p.endpoint.uid)
  }
  t.same([...picks].sort(), ['bb', 'ccc'], 'picks only among them')
  const excluded = state.pick(next, new Set(['bb']))
  t.equal(excluded.kind === 'picked' ? excluded.endpoint.uid : null, 'ccc', 'an excluded endpoint is not picked')
})
