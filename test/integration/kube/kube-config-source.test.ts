// The Kubernetes config source: nothing is emitted before every kind's first LIST (one slow kind
// holds the first update back), a kind the server does not serve (CRD not installed) counts as
// empty and is picked up once served, pods without an address are left out, objects parse as files.
import t from 'tap'
import { KubeClient } from '../../../src/kube/client.js'
import { KubeConfigSource } from '../../../src/istiod/kube-config-source.js'
import { eventually } from '../../helpers/eventually.js'
import { startFakeKubeApiServer } from '../../helpers/fake-kube-apiserver.js'

t.test('first update only after every kind listed; missing CRDs; pods without IPs', async (t) => {
  const api = await startFakeKubeApiServer({ host: '127.0.0.1' })
  t.teardown(() => api.close())
  api.apply({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'default', labels: { 'istio.io/dataplane-mode': 'ambient' } } })
  api.apply({
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: 'running', namespace: 'default' },
    spec: { nodeName: 'w1', containers: [{ name: 'a', image: 'x' }] },
    status: { phase: 'Running', podIP: '10.1.0.5' },
  })
  api.apply({
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: 'pending', namespace: 'default' },
    spec: { containers: [{ name: 'a', image: 'x' }] },
    status: { phase: 'Pending' },
  })
  api.apply({
    apiVersion: 'security.istio.io/v1',
    kind: 'AuthorizationPolicy',
    metadata: { name: 'deny', namespace: 'default' },
    spec: { action: 'DENY', rules: [{}] },
  })
  api.withhold('telemetries')
  const release = api.holdLists('authorizationpolicies')

  const source = new KubeConfigSource({ client: new KubeClient({ server: api.url }), debounceMs: 5, backoff: { minMs: 5, maxMs: 20 } })
  t.teardown(() => source.close())
  const started = source.start()
  await eventually(() => source.status().Pod?.synced === true && source.status().Telemetry?.synced === true)
  t.equal(source.current, undefined, 'pods listed, policies not yet: nothing emitted')
  release()
  const first = await started
  t.equal(first.version, 1)
  t.same(
    first.snapshot.Pod.map((p) => p.metadata.name),
    ['running'],
    'only the pod with an address',
  )
  t.equal(first.snapshot.Pod[0]?.status.podIP, '10.1.0.5')
  t.same(
    first.snapshot.AuthorizationPolicy.map((p) => p.metadata.name),
    ['deny'],
    'the first update has the policies too',
  )
  t.equal(first.snapshot.AuthorizationPolicy[0]?.source.file, 'k8s:AuthorizationPolicy/default/deny')

  // The Telemetry CRD gets installed: its objects arrive without a restart.
  api.serve('telemetries')
  api.apply({
    apiVersion: 'telemetry.istio.io/v1',
    kind: 'Telemetry',
    metadata: { name: 'mesh-default', namespace: 'istio-system' },
    spec: { accessLogging: [{ providers: [{ name: 'envoy' }] }] },
  })
  await eventually(() => source.current?.snapshot.Telemetry.length === 1)

  // The pending pod gets its IP: it appears.
  const pending = structuredClone(api.get('Pod', 'default', 'pending')!)
  pending.status = { phase: 'Running', podIP: '10.1.0.6' }
  api.apply(pending)
  await eventually(() => source.current?.snapshot.Pod.length === 2)
})
