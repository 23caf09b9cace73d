// End to end on the fake API server: deploy/kind's bookinfo applied through the API (the test plays
// the scheduler and kubelet: one running pod per Deployment, with a pod IP), istiod --kube, and a
// ztunnel's Delta xDS source authenticated by a projected-token TokenReview. Checks: the workloads
// carry the fake's pod IPs and nodes; a waypoint Gateway gets its owned Deployment + Service and a
// Programmed status; a policy edit reaches the client; deleting the Gateway removes the waypoint; the
// CA root is kept in a Secret and published per namespace; bad tokens are refused.
import t from 'tap'
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseAllDocuments } from 'yaml'
import { startIstiod } from '../../../src/istiod/istiod.js'
import { KubeClient } from '../../../src/kube/client.js'
import { MeshState } from '../../../src/mesh/state.js'
import { createCapturingLogger } from '../../../src/observability/capturing-logger.js'
import { createXdsSource } from '../../../src/ztunnel/xds-source.js'
import { createCaClient } from '../../../src/xds/ca-client.js'
import { createCsr } from '../../../src/identity/csr.js'
import { SpiffeId } from '../../../src/identity/spiffe-id.js'
import { eventually } from '../../helpers/eventually.js'
import { startFakeKubeApiServer, type FakeKubeApiServer } from '../../helpers/fake-kube-apiserver.js'

type Obj = Parameters<FakeKubeApiServer['apply']>[0]
const NODES = ['kind-worker', 'kind-worker2']

async function applyFile(api: FakeKubeApiServer, file: string): Promise<void> {
  for (const doc of parseAllDocuments(await readFile(file, 'utf8'))) {
    const o = doc.toJS() as Obj | null
    if (o !== null) api.apply(o)
  }
}

/** The scheduler and kubelet: one running pod per Deployment, nodes in turn, 10.244.<node>.<n>. */
function runDeployments(api: FakeKubeApiServer, namespace: string): void {
  let n = 0
  for (const d of api.list('Deployment').filter((x) => x.metadata.namespace === namespace)) {
    if (api.list('Pod').some((p) => p.metadata.name.startsWith(`${d.metadata.name}-`))) continue
    const template = (d.spec as { template: { metadata: { labels: Record<string, string> }; spec: Record<string, unknown> } }).template
    const node = n % NODES.length
    n++
    api.apply({
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: `${d.metadata.name}-7d4b9c-x${n}`, namespace, labels: template.metadata.labels },
      spec: { ...template.spec, nodeName: NODES[node] },
      status: { phase: 'Running', podIP: `10.244.${node + 1}.${10 + n}` },
    })
  }
}

t.test('istiod --kube on the fake API: workloads, waypoint, policy edit, auth', async (t) => {
  const api = await startFakeKubeApiServer({ host: '127.0.0.1' })
  t.teardown(() => api.close())
  api.apply({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'istio-system' } })
  await applyFile(api, 'deploy/kind/bookinfo.yaml')
  runDeployments(api, 'default')
  api.addToken('ztunnel-worker', {
    username: 'system:serviceaccount:istio-system:ztunnel',
    audiences: ['istio-ca'],
    extra: { 'authentication.kubernetes.io/pod-name': ['ztunnel-abcde'], 'authentication.kubernetes.io/node-name': ['kind-worker'] },
  })
  api.addToken('wrong-audience', { username: 'system:serviceaccount:istio-system:ztunnel', audiences: ['https://kubernetes.default.svc'] })

  const stateDir = await mkdtemp(join(tmpdir(), 'istiod-kube-'))
  t.teardown(() => rm(stateDir, { recursive: true, force: true }))
  const logs = createCapturingLogger({ level: 'info', component: 'kube-e2e' })
  const logger = logs.logger
  const istiod = await startIstiod({
    kube: { client: new KubeClient({ server: api.url }), waypointImage: 'ambient:test', backoff: { minMs: 5, maxMs: 50 } },
    stateDir,
    nodes: 1,
    host: '127.0.0.1',
    ports: { grpc: 0, debug: 0 },
    logger,
    debounceMs: 10,
  })
  t.teardown(() => istiod.close())
  const rootCertPem = await readFile(istiod.rootCertPath, 'utf8')

  // The first push came after every kind's first list: all bookinfo pods, at the fake's addresses.
  const mesh = new MeshState()
  const xds = createXdsSource({
    target: istiod.addresses.grpc,
    tls: { rootCertPem, serverIdentity: istiod.serverIdentity },
    token: 'ztunnel-worker',
    nodeId: 'kind-worker',
    mesh,
    logger,
  })
  t.teardown(() => xds.close())
  await xds.start({ timeoutMs: 10_000 })
  const pods = api.list('Pod')
  t.equal(mesh.workloads().length, pods.length, 'one workload per running pod, none synthesised')
  for (const p of pods) {
    const w = mesh.workloads().find((x) => x.name === p.metadata.name)
    t.same(w?.addresses, [(p.status as { podIP: string }).podIP], `${p.metadata.name}: the pod's own IP`)
    t.equal(w?.node, (p.spec as { nodeName: string }).nodeName, `${p.metadata.name}: the pod's own node`)
  }
  const details = mesh.services().find((s) => s.name === 'details')
  t.same(
    details?.addresses,
    [(api.get('Service', 'default', 'details')!.spec as { clusterIP: string }).clusterIP],
    'the Service keeps its clusterIP',
  )

  // The CA root lives in a Secret; its certificate is published in every namespace.
  t.ok(api.get('Secret', 'istio-system', 'istio-ca-secret'), 'istio-ca-secret created')
  await eventually(() => {
    const cm = api.get('ConfigMap', 'default', 'istio-ca-root-cert')
    return (cm?.data as Record<string, string> | undefined)?.['root-cert.pem'] === rootCertPem
  })

  // A waypoint Gateway: istiod creates its owned Deployment + Service and writes Programmed.
  await applyFile(api, 'deploy/kind/samples/reviews-waypoint.yaml')
  const gw = api.get('Gateway', 'default', 'reviews-waypoint')!
  const deployment = await eventually(() => api.get('Deployment', 'default', 'reviews-waypoint') ?? false)
  t.same((deployment.metadata.ownerReferences as { uid: string; kind: string }[])[0]?.uid, gw.metadata.uid, 'owned by the Gateway')
  t.equal(deployment.metadata.labels?.['gateway.networking.k8s.io/gateway-name'], 'reviews-waypoint')
  t.equal(deployment.metadata.labels?.['istio.io/gateway-name'], 'reviews-waypoint')
  const svc = await eventually(() => api.get('Service', 'default', 'reviews-waypoint') ?? false)
  t.ok(
    (svc.spec as { ports: { port: number }[] }).ports.some((p) => p.port === 15008),
    'waypoint Service on 15008',
  )
  const status = await eventually(() => {
    const s = api.get('Gateway', 'default', 'reviews-waypoint')?.status as
      { conditions?: { type: string; status: string }[]; addresses?: { type: string; value: string }[] } | undefined
    return s?.conditions?.some((c) => c.type === 'Programmed' && c.status === 'True') === true ? s : false
  })
  t.ok(
    status.addresses?.some((a) => a.type === 'IPAddress' && a.value === (svc.spec as { clusterIP: string }).clusterIP),
    'status.addresses has the Service IP',
  )
  // The waypoint's pod runs (the test plays the ReplicaSet): it becomes the waypoint's workload.
  runDeployments(api, 'default')
  await eventually(() => mesh.workloads().some((w) => w.name.startsWith('reviews-waypoint-')))
  await eventually(() => mesh.services().find((s) => s.name === 'reviews')?.waypoint !== undefined)

  // A policy edit reaches the ztunnel.
  await applyFile(api, 'deploy/kind/samples/deny-productpage-to-details.yaml')
  await eventually(() => mesh.policies().some((p) => p.name === 'deny-productpage-to-details'))
  const edited = structuredClone(api.get('AuthorizationPolicy', 'default', 'deny-productpage-to-details')!)
  ;(edited.spec as { action: string }).action = 'ALLOW'
  api.apply(edited)
  await eventually(() => mesh.policies().find((p) => p.name === 'deny-productpage-to-details')?.action === 'ALLOW')
  api.remove('AuthorizationPolicy', 'default', 'deny-productpage-to-details')
  await eventually(() => !mesh.policies().some((p) => p.name === 'deny-productpage-to-details'))

  // Deleting the Gateway removes what istiod made (owner references → garbage collection).
  api.remove('Gateway', 'default', 'reviews-waypoint')
  t.notOk(api.get('Deployment', 'default', 'reviews-waypoint'), 'waypoint Deployment gone with its Gateway')
  t.notOk(api.get('Service', 'default', 'reviews-waypoint'), 'waypoint Service gone with its Gateway')

  // Authentication: the CA signs what the node's pods may have, nothing else; bad tokens are refused.
  const ca = createCaClient({
    target: istiod.addresses.grpc,
    tls: { rootCertPem, serverIdentity: istiod.serverIdentity },
    token: 'ztunnel-worker',
  })
  t.teardown(() => ca.close())
  const onWorker = pods.find((p) => (p.spec as { nodeName: string }).nodeName === 'kind-worker')!
  const onOther = pods.find(
    (p) =>
      (p.spec as { nodeName: string }).nodeName === 'kind-worker2' &&
      (p.spec as { serviceAccountName?: string }).serviceAccountName !==
        (onWorker.spec as { serviceAccountName?: string }).serviceAccountName,
  )!
  const idOf = (p: Obj): SpiffeId =>
    SpiffeId.of({
      trustDomain: 'cluster.local',
      namespace: 'default',
      serviceAccount: (p.spec as { serviceAccountName?: string }).serviceAccountName ?? 'default',
    })
  const mine = await createCsr(idOf(onWorker))
  t.ok(
    (await ca.sign({ csrPem: mine.csrPem, ttlMs: 3_600_000, identity: idOf(onWorker) })).certChainPem.length > 0,
    "signed for a pod on the caller's node",
  )
  const theirs = await createCsr(idOf(onOther))
  await t.rejects(ca.sign({ csrPem: theirs.csrPem, ttlMs: 3_600_000, identity: idOf(onOther) }), 'refused for a pod on another node')
  const bad = createCaClient({
    target: istiod.addresses.grpc,
    tls: { rootCertPem, serverIdentity: istiod.serverIdentity },
    token: 'wrong-audience',
  })
  t.teardown(() => bad.close())
  await t.rejects(
    bad.sign({ csrPem: mine.csrPem, ttlMs: 3_600_000, identity: idOf(onWorker) }),
    'a token not for audience istio-ca is refused',
  )
  t.ok(
    api.requests.some((r) => r.startsWith('POST /apis/authentication.k8s.io/v1/tokenreviews')),
    'checked by TokenReview',
  )

  // A second istiod (another replica, or a restart on an empty emptyDir) takes the root from the Secret.
  const otherState = await mkdtemp(join(tmpdir(), 'istiod-kube-'))
  t.teardown(() => rm(otherState, { recursive: true, force: true }))
  const second = await startIstiod({
    kube: { client: new KubeClient({ server: api.url }), waypointImage: 'ambient:test' },
    stateDir: otherState,
    nodes: 1,
    host: '127.0.0.1',
    ports: { grpc: 0, debug: 0 },
    logger,
    debounceMs: 10,
  })
  t.teardown(() => second.close())
  t.equal(await readFile(second.rootCertPath, 'utf8'), rootCertPem, 'the same root, from istio-ca-secret')
})
