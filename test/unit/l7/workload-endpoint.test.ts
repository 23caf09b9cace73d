// The endpoint of workload-addressed traffic: one object per workload config object and port, so
// what telemetry derives from an endpoint (its parsed identity) is derived once, not per request.
import t from 'tap'
import { workloadEndpoint } from '../../../src/l7/served-destination.js'
import type { ServedWorkload } from '../../../src/mesh/waypoint-config.js'

const workload = (): ServedWorkload => ({
  uid: 'Kubernetes//Pod/default/web-1',
  name: 'web-1',
  namespace: 'default',
  addresses: ['10.1.0.5', '10.1.0.6'],
  identity: 'spiffe://cluster.local/ns/default/sa/web',
  hbonePort: 15008,
})

t.test('the workload first address at the tunnel port, over HBONE to its identity', async (t) => {
  const w = workload()
  t.same(workloadEndpoint({ kind: 'workload', workload: w, port: 8080 }), {
    uid: w.uid,
    name: 'web-1',
    namespace: 'default',
    address: '10.1.0.5',
    targetPort: 8080,
    identity: w.identity,
    hbonePort: 15008,
    tunnelProtocol: 'HBONE',
    healthy: true,
    weight: 1,
    node: '',
  })
})

t.test('one endpoint per workload object and port; a new config object gets a new one', async (t) => {
  const w = workload()
  const a = workloadEndpoint({ kind: 'workload', workload: w, port: 8080 })
  t.equal(workloadEndpoint({ kind: 'workload', workload: w, port: 8080 }), a, 'the same object for the next request')
  t.not(workloadEndpoint({ kind: 'workload', workload: w, port: 9090 }), a, 'another port, another endpoint')
  const changed = { ...w, addresses: ['10.1.0.9'] }
  t.equal(workloadEndpoint({ kind: 'workload', workload: changed, port: 8080 }).address, '10.1.0.9', 'never a stale address')
  t.ok(Object.isFrozen(a), 'shared across requests, so frozen')
})
