// The node agent on the fake API server: it sees only its node's pods (field selector), only
// ambient ones, reconciles what ztunnel already holds (keep/del + snapshot), then follows changes.
// The namespace lookup, the rules and the workload manager are recorded here; the netns e2e is
// test/integration/inpod/node-agent-inpod.test.ts.
import t from 'tap'
import { HostSnatErrorCode } from '../../../src/capture/inpod/host-snat.js'
import { AmbientError } from '../../../src/errors.js'
import { KubeClient } from '../../../src/kube/client.js'
import { startNodeAgent } from '../../../src/ztunnel/node-agent.js'
import { WorkloadManagerErrorCode, type ZdsWorkloads } from '../../../src/ztunnel/workload-manager.js'
import { eventually } from '../../helpers/eventually.js'
import { startFakeKubeApiServer, type FakeKubeApiServer } from '../../helpers/fake-kube-apiserver.js'

/** A ZDS sink that accepts everything, with `over` replacing some of its calls. */
const acceptingSink = (over: Partial<ZdsWorkloads> = {}): ZdsWorkloads => ({
  beginSnapshot: () => undefined,
  uids: () => [],
  add: async () => undefined,
  keep: async () => undefined,
  del: async () => undefined,
  snapshotSent: async () => undefined,
  ...over,
})

/** Node w1's agent on the fake API server, with the netns lookup, the rules and the namespace fd stubbed. */
const stubbedNode = (api: FakeKubeApiServer, workloads: ZdsWorkloads) => ({
  client: new KubeClient({ server: api.url }),
  node: 'w1',
  workloads,
  resolveNetns: async (w: { name: string }) => `/ns/${w.name}`,
  installRules: async () => undefined,
  openNetns: () => 3,
})

t.test('node agent: add/keep/del + snapshot from the pods of its node', async (t) => {
  const api = await startFakeKubeApiServer({ host: '127.0.0.1' })
  t.teardown(() => api.close())
  api.apply({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'mesh', labels: { 'istio.io/dataplane-mode': 'ambient' } } })
  api.apply({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'plain' } })
  const pod = (ns: string, name: string, node: string, labels: Record<string, string> = {}): void => {
    api.apply({
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name, namespace: ns, uid: `uid-${name}`, labels },
      spec: { nodeName: node, serviceAccountName: name, containers: [] },
      status: { phase: 'Running', podIP: '10.0.0.1' },
    })
  }
  pod('mesh', 'a', 'w1')
  pod('mesh', 'kept', 'w1')
  pod('mesh', 'other-node', 'w2')
  pod('plain', 'not-ambient', 'w1')
  pod('mesh', 'opted-out', 'w1', { 'istio.io/dataplane-mode': 'none' })
  const log: string[] = []
  const fds = new Map<number, string>()
  const sink: ZdsWorkloads = {
    beginSnapshot: () => log.push('begin'),
    uids: () => ['uid-kept', 'uid-gone'],
    add: async (w, fd) => {
      log.push(`add ${w.namespace}/${w.name} ${fds.get(fd)}`)
    },
    keep: async (uid) => {
      log.push(`keep ${uid}`)
    },
    del: async (uid) => {
      log.push(`del ${uid}`)
    },
    snapshotSent: async () => {
      log.push('snapshot')
    },
  }
  const agent = startNodeAgent({
    client: new KubeClient({ server: api.url }),
    node: 'w1',
    workloads: sink,
    resolveNetns: async (w) => `/var/run/netns/${w.name}@${w.ip}`,
    installRules: async (path) => {
      log.push(`rules ${path}`)
    },
    openNetns: (path) => {
      fds.set(fds.size + 100, path)
      return fds.size + 99
    },
    onError: (err) => t.fail(String(err)),
  })
  t.teardown(() => agent.stop())
  await agent.ready
  t.same(
    log,
    ['begin', 'rules /var/run/netns/a@10.0.0.1', 'add mesh/a /var/run/netns/a@10.0.0.1', 'keep uid-kept', 'del uid-gone', 'snapshot'],
    'reconciled with what ztunnel held, then the snapshot marker',
  )
  log.length = 0
  pod('mesh', 'b', 'w1')
  await eventually(() => log.includes('add mesh/b /var/run/netns/b@10.0.0.1'))
  api.remove('Pod', 'mesh', 'a')
  await eventually(() => log.includes('del uid-a'))
  t.same([...agent.held()].sort(), ['uid-b', 'uid-kept'])
  t.ok(
    api.requests.some((r) => r.includes('fieldSelector=spec.nodeName%3Dw1')),
    "watches only its node's pods",
  )
})

t.test("node agent: the node's probe SNAT follows the pods ztunnel holds; a failed apply is retried", async (t) => {
  const api = await startFakeKubeApiServer({ host: '127.0.0.1' })
  t.teardown(() => api.close())
  api.apply({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'mesh', labels: { 'istio.io/dataplane-mode': 'ambient' } } })
  const pod = (name: string, ip: string, labels: Record<string, string> = {}): void => {
    api.apply({
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name, namespace: 'mesh', uid: `uid-${name}`, labels },
      spec: { nodeName: 'w1', serviceAccountName: name, containers: [] },
      status: { phase: 'Running', podIP: ip },
    })
  }
  pod('a', '10.0.0.1')
  pod('kept', '10.0.0.2')
  pod('opted-out', '10.0.0.3', { 'istio.io/dataplane-mode': 'none' })
  const syncs: string[][] = []
  let failNext = true
  const errors: unknown[] = []
  const agent = startNodeAgent({
    ...stubbedNode(api, acceptingSink({ uids: () => ['uid-kept'] })),
    hostSnat: {
      sync: async (ips) => {
        syncs.push([...ips].sort())
        if (failNext) {
          failNext = false
          throw new AmbientError(HostSnatErrorCode.unavailable, 'iptables: not found')
        }
        return { add: [], del: [], apply: true }
      },
      applied: () => new Set(),
    },
    retry: { initialMs: 10 },
    onError: (err) => errors.push(err),
  })
  t.teardown(() => agent.stop())
  await agent.ready
  t.same(syncs[0], ['10.0.0.1', '10.0.0.2'], 'the first pass: the added and the kept pod, not the opted-out one')
  await eventually(() => syncs.length >= 2)
  t.match(errors, [{ code: HostSnatErrorCode.unavailable }], 'the failure is reported with its code')
  t.same(syncs[1], ['10.0.0.1', '10.0.0.2'], 'and retried')
  api.remove('Pod', 'mesh', 'a')
  await eventually(() => syncs.at(-1)?.join() === '10.0.0.2')
  pod('b', '10.0.0.4')
  await eventually(() => syncs.at(-1)?.join() === '10.0.0.2,10.0.0.4')
  t.equal(errors.length, 1)
})

t.test('node agent: a pod that keeps failing is retried with a growing delay, from the start again once a round succeeds', async (t) => {
  const api = await startFakeKubeApiServer({ host: '127.0.0.1' })
  t.teardown(() => api.close())
  api.apply({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'mesh', labels: { 'istio.io/dataplane-mode': 'ambient' } } })
  const pod = (name: string, ip: string): void => {
    api.apply({
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name, namespace: 'mesh', uid: `uid-${name}` },
      spec: { nodeName: 'w1', serviceAccountName: name, containers: [] },
      status: { phase: 'Running', podIP: ip },
    })
  }
  pod('v6', 'fd00::1')
  let failuresLeft = 5
  const adds: string[] = []
  const delays: number[] = []
  const errors: unknown[] = []
  const sink = acceptingSink({
    add: async (w) => {
      adds.push(w.uid)
      if (failuresLeft-- > 0) throw new AmbientError(WorkloadManagerErrorCode.listeners, `pod ${w.uid}: EADDRNOTAVAIL`)
    },
  })
  const agent = startNodeAgent({
    ...stubbedNode(api, sink),
    retry: { initialMs: 1, maxMs: 4 },
    setTimer: (fn, ms) => {
      delays.push(ms)
      return setTimeout(fn, 0)
    },
    onError: (err) => errors.push(err),
  })
  t.teardown(() => agent.stop())
  await agent.ready
  await eventually(() => adds.length === 6)
  t.same(delays, [1, 2, 4, 4, 4], 'doubling up to the cap while the add keeps failing')
  t.equal(errors.length, 5, 'each failed round is reported')
  t.match(errors[0], { code: WorkloadManagerErrorCode.listeners })
  t.same([...agent.held()], ['uid-v6'], 'held once the add succeeds')
  failuresLeft = 1
  pod('w', '10.0.0.9')
  await eventually(() => adds.filter((u) => u === 'uid-w').length === 2)
  t.same(delays.slice(5), [1], 'after a round without failure the delay starts over')
})
