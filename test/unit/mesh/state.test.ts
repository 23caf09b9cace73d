import t from 'tap'
import { affectsAuthorization } from '../../../src/mesh/change.js'
import type { MeshChange, MeshDelta } from '../../../src/mesh/change.js'
import { MeshState } from '../../../src/mesh/state.js'
import { policy, service, workload } from './builders.js'

const SVC = 'default/web.default.svc.cluster.local'

function recorder(state: MeshState): MeshDelta[] {
  const seen: MeshDelta[] = []
  state.subscribe((d) => seen.push(d))
  return seen
}

t.test('workload indexes: uid, address per network, endpoints', async (t) => {
  const state = new MeshState()
  const a = workload({ uid: 'a', addresses: ['10.0.0.1', 'fd00::1'], services: new Map([[SVC, [{ servicePort: 80, targetPort: 8080 }]]]) })
  const b = workload({ uid: 'b', addresses: ['10.0.0.1'], network: 'remote' })
  state.apply([
    { op: 'upsert', kind: 'workload', value: a },
    { op: 'upsert', kind: 'workload', value: b },
  ])

  t.equal(state.workloadByUid('a')?.uid, 'a')
  t.equal(state.workloadByAddress('10.0.0.1')?.uid, 'a', 'default network')
  t.equal(state.workloadByAddress('10.0.0.1', 'remote')?.uid, 'b', 'same IP on another network')
  t.equal(state.workloadByAddress('fd00::1')?.uid, 'a')
  t.equal(state.workloadByAddress('10.0.0.2'), undefined)
  t.same(
    state.endpointsOf(SVC).map((w) => w.uid),
    ['a'],
  )
  t.equal(state.endpointsOf(SVC), state.endpointsOf(SVC), 'endpoint list is cached until it changes')
  t.same(state.endpointsOf('default/none'), [])
  t.equal(state.workloads().length, 2)
})

t.test('stored values are frozen copies', async (t) => {
  const state = new MeshState()
  const input = workload({ uid: 'a', addresses: ['10.0.0.1'], services: new Map([[SVC, []]]) })
  state.apply([{ op: 'upsert', kind: 'workload', value: input }])
  const stored = state.workloadByUid('a')!
  t.not(stored, input)
  t.ok(Object.isFrozen(stored) && Object.isFrozen(stored.addresses))
  t.throws(() => (stored.services as Map<string, unknown>).set('x', []), TypeError)
  t.throws(() => (stored.services as Map<string, unknown>).delete(SVC), TypeError)
  ;(input.addresses as string[]).push('10.0.0.9')
  t.same(state.workloadByUid('a')!.addresses, ['10.0.0.1'], 'caller mutations do not leak in')
})

t.test('update moves indexes; remove clears them', async (t) => {
  const state = new MeshState()
  const events = recorder(state)
  state.apply([{ op: 'upsert', kind: 'workload', value: workload({ uid: 'a', addresses: ['10.0.0.1'], services: new Map([[SVC, []]]) }) }])
  state.apply([{ op: 'upsert', kind: 'workload', value: workload({ uid: 'a', addresses: ['10.0.0.2'] }) }])
  t.equal(state.workloadByAddress('10.0.0.1'), undefined, 'old address released')
  t.equal(state.workloadByAddress('10.0.0.2')?.uid, 'a')
  t.same(state.endpointsOf(SVC), [], 'left the service')
  t.same(
    events.map((e) => [e.workloads.added, e.workloads.updated]),
    [
      [['a'], []],
      [[], ['a']],
    ],
  )

  state.apply([{ op: 'remove', kind: 'workload', key: 'a' }])
  t.equal(state.workloadByUid('a'), undefined)
  t.equal(state.workloadByAddress('10.0.0.2'), undefined)
  t.same(events.at(-1)!.workloads.removed, ['a'])
  t.equal(state.version, 3)

  const before = events.length
  state.apply([{ op: 'remove', kind: 'workload', key: 'missing' }])
  t.equal(events.length, before, 'removing an unknown key emits nothing')
})

t.test('an IP moving to another workload: newest owner wins, the old one reappears if it is removed', async (t) => {
  const state = new MeshState()
  state.apply([{ op: 'upsert', kind: 'workload', value: workload({ uid: 'old', addresses: ['10.0.0.1'] }) }])
  state.apply([{ op: 'upsert', kind: 'workload', value: workload({ uid: 'new', addresses: ['10.0.0.1'] }) }])
  t.equal(state.workloadByAddress('10.0.0.1')?.uid, 'new')
  state.apply([{ op: 'upsert', kind: 'workload', value: workload({ uid: 'old', addresses: ['10.0.0.1'] }) }])
  t.equal(state.workloadByAddress('10.0.0.1')?.uid, 'new', 'an identical re-push does not steal the address back')
  state.apply([{ op: 'remove', kind: 'workload', key: 'old' }])
  t.equal(state.workloadByAddress('10.0.0.1')?.uid, 'new')
  state.apply([{ op: 'upsert', kind: 'workload', value: workload({ uid: 'old', addresses: ['10.0.0.1'] }) }])
  state.apply([{ op: 'remove', kind: 'workload', key: 'old' }])
  t.equal(state.workloadByAddress('10.0.0.1')?.uid, 'new', 'removing the newest owner shows the previous one')
})

t.test('service indexes: key, VIP per network, hostname', async (t) => {
  const state = new MeshState()
  state.apply([
    { op: 'upsert', kind: 'service', value: service({ name: 'web', addresses: ['10.96.0.1'] }) },
    {
      op: 'upsert',
      kind: 'service',
      value: service({
        name: 'web',
        namespace: 'other',
        hostname: 'web.default.svc.cluster.local',
        addresses: ['10.96.0.2'],
        network: 'net2',
      }),
    },
  ])
  t.equal(state.serviceByKey(SVC)?.name, 'web')
  t.equal(state.serviceByAddress('10.96.0.1')?.namespace, 'default')
  t.equal(state.serviceByAddress('10.96.0.2'), undefined, 'not on the default network')
  t.equal(state.serviceByAddress('10.96.0.2', 'net2')?.namespace, 'other')
  t.same(
    state
      .servicesByHostname('web.default.svc.cluster.local')
      .map((s) => s.namespace)
      .sort(),
    ['default', 'other'],
  )
  state.apply([{ op: 'remove', kind: 'service', key: SVC }])
  t.equal(state.serviceByAddress('10.96.0.1'), undefined)
  t.same(
    state.servicesByHostname('web.default.svc.cluster.local').map((s) => s.namespace),
    ['other'],
  )
})

t.test('policiesFor: GLOBAL + own NAMESPACE + named selector policies, once each', async (t) => {
  const state = new MeshState()
  state.apply([
    { op: 'upsert', kind: 'policy', value: policy({ name: 'mesh', namespace: 'istio-system', scope: 'GLOBAL' }) },
    { op: 'upsert', kind: 'policy', value: policy({ name: 'ns', namespace: 'default' }) },
    { op: 'upsert', kind: 'policy', value: policy({ name: 'other-ns', namespace: 'other' }) },
    { op: 'upsert', kind: 'policy', value: policy({ name: 'sel', namespace: 'default', scope: 'WORKLOAD_SELECTOR' }) },
    { op: 'upsert', kind: 'policy', value: policy({ name: 'sel2', namespace: 'default', scope: 'WORKLOAD_SELECTOR' }) },
  ])
  const keys = (ns: string, names: string[]): string[] =>
    state
      .policiesFor(workload({ uid: 'w', namespace: ns, authorizationPolicies: names }))
      .map((p) => `${p.namespace}/${p.name}`)
      .sort()
  t.same(keys('default', ['default/sel', 'default/missing', 'default/ns']), ['default/ns', 'default/sel', 'istio-system/mesh'])
  t.same(keys('other', []), ['istio-system/mesh', 'other/other-ns'])
  t.same(keys('istio-system', []), ['istio-system/mesh'])
  state.apply([{ op: 'remove', kind: 'policy', key: 'istio-system/mesh' }])
  t.same(keys('other', []), ['other/other-ns'])
  t.equal(state.policyByKey('default/sel')?.scope, 'WORKLOAD_SELECTOR')
})

t.test('policiesFor: answered from the scope indexes, cached per workload until a policy changes', async (t) => {
  const state = new MeshState()
  const changes: MeshChange[] = [
    { op: 'upsert', kind: 'workload', value: workload({ uid: 'w', namespace: 'a', authorizationPolicies: ['b/sel'] }) },
  ]
  // 3,000 policies in other namespaces: none applies to w, and none may show up.
  for (let i = 0; i < 3000; i++) changes.push({ op: 'upsert', kind: 'policy', value: policy({ name: `p${i}`, namespace: `ns${i % 100}` }) })
  changes.push({ op: 'upsert', kind: 'policy', value: policy({ name: 'own', namespace: 'a' }) })
  changes.push({ op: 'upsert', kind: 'policy', value: policy({ name: 'sel', namespace: 'b', scope: 'WORKLOAD_SELECTOR' }) })
  state.apply(changes)
  const w = state.workloadByUid('w')!
  const first = state.policiesFor(w)
  t.same(
    first.map((p) => `${p.namespace}/${p.name}`),
    ['a/own', 'b/sel'],
  )
  t.equal(state.policiesFor(w), first, 'the same frozen list while nothing changes')
  t.ok(Object.isFrozen(first))
  state.apply([{ op: 'upsert', kind: 'policy', value: policy({ name: 'mesh', namespace: 'istio-system', scope: 'GLOBAL' }) }])
  t.same(
    state.policiesFor(w).map((p) => `${p.namespace}/${p.name}`),
    ['a/own', 'istio-system/mesh', 'b/sel'],
    'a policy change is seen at once',
  )
  state.apply([{ op: 'remove', kind: 'policy', key: 'b/sel' }])
  t.same(
    state.policiesFor(w).map((p) => `${p.namespace}/${p.name}`),
    ['a/own', 'istio-system/mesh'],
  )
  state.apply([{ op: 'upsert', kind: 'workload', value: workload({ uid: 'w', namespace: 'ns7' }) }])
  t.equal(state.policiesFor(state.workloadByUid('w')!).length, 31, "a moved workload gets its new namespace's policies (30 + global)")
})

t.test('change events: batched, no-ops dropped, unsubscribe, authorization relevance', async (t) => {
  const state = new MeshState()
  const events = recorder(state)
  const d = state.apply([
    { op: 'upsert', kind: 'workload', value: workload({ uid: 'a' }) },
    { op: 'upsert', kind: 'service', value: service({ name: 'web' }) },
    { op: 'upsert', kind: 'policy', value: policy({ name: 'p' }) },
    { op: 'upsert', kind: 'workload', value: workload({ uid: 'tmp' }) },
    { op: 'remove', kind: 'workload', key: 'tmp' },
  ])
  t.equal(events.length, 1, 'one event per apply')
  t.same(d.workloads, { added: ['a'], updated: [], removed: [] }, 'add-then-remove in one batch is invisible')
  t.same(d.services.added, [SVC])
  t.same(d.policies.added, ['default/p'])
  t.ok(affectsAuthorization(d))

  const same = state.apply([{ op: 'upsert', kind: 'policy', value: policy({ name: 'p' }) }])
  t.equal(events.length, 1, 'identical upsert emits nothing')
  t.equal(same.version, d.version)

  const svcOnly = state.apply([{ op: 'upsert', kind: 'service', value: service({ name: 'web', addresses: ['10.96.0.1'] }) }])
  t.notOk(affectsAuthorization(svcOnly), 'a Service change does not need a policy re-check')
  const wlUpdate = state.apply([{ op: 'upsert', kind: 'workload', value: workload({ uid: 'a', authorizationPolicies: ['default/p'] }) }])
  t.ok(affectsAuthorization(wlUpdate), 'a workload update may change its policies')

  const off = state.subscribe(() => t.fail('unsubscribed listener called'))
  off()
  state.apply([{ op: 'remove', kind: 'policy', key: 'default/p' }])
  t.same(events.at(-1)!.policies.removed, ['default/p'])
})

t.test('a throwing subscriber does not stop the others', async (t) => {
  const errors: unknown[] = []
  const state = new MeshState({ onSubscriberError: (e) => errors.push(e) })
  let called = false
  state.subscribe(() => {
    throw new Error('boom')
  })
  state.subscribe(() => {
    called = true
  })
  state.apply([{ op: 'upsert', kind: 'workload', value: workload({ uid: 'a' }) }])
  t.ok(called)
  t.equal(errors.length, 1)
})

t.test('apply is atomic: an invalid change rejects the whole batch', async (t) => {
  const state = new MeshState()
  const cases = [
    workload({ uid: 'x', addresses: ['010.0.0.1'] }),
    workload({ uid: 'x', addresses: ['::FFFF:10.0.0.1'] }),
    workload({ uid: '' }),
    workload({ uid: 'x', podLocalAddress: 'nope' }),
  ]
  for (const bad of cases) {
    t.throws(
      () =>
        state.apply([
          { op: 'upsert', kind: 'workload', value: workload({ uid: 'good' }) },
          { op: 'upsert', kind: 'workload', value: bad },
        ]),
      { code: 'MESH_INVALID_CHANGE' },
    )
  }
  t.throws(() => state.apply([{ op: 'upsert', kind: 'service', value: service({ name: 'web', addresses: ['10.0.0.01'] }) }]))
  t.throws(() => state.apply([{ op: 'upsert', kind: 'policy', value: policy({ name: '' }) }]))
  t.throws(() => state.apply([{ op: 'remove', kind: 'policy', key: '' }]))
  t.equal(state.workloadByUid('good'), undefined)
  t.equal(state.version, 0)
})

t.test('replaceAll applies the minimal diff', async (t) => {
  const state = new MeshState()
  state.replaceAll({
    workloads: [workload({ uid: 'a', addresses: ['10.0.0.1'] }), workload({ uid: 'b' })],
    services: [service({ name: 'web' })],
    policies: [policy({ name: 'p' })],
  })
  const events = recorder(state)
  const d = state.replaceAll({
    workloads: [workload({ uid: 'a', addresses: ['10.0.0.1'] }), workload({ uid: 'c' })],
    services: [service({ name: 'web', addresses: ['10.96.0.1'] })],
    policies: [policy({ name: 'p' })],
  })
  t.same(d.workloads, { added: ['c'], updated: [], removed: ['b'] })
  t.same(d.services, { added: [], updated: [SVC], removed: [] })
  t.same(d.policies, { added: [], updated: [], removed: [] })
  t.equal(events.length, 1)

  const again = state.replaceAll(state.snapshot())
  t.equal(events.length, 1, 'replacing with the current snapshot changes nothing')
  t.equal(again.version, d.version)

  // An IP moving from a removed workload to a new one ends up with the new one.
  state.replaceAll({ workloads: [workload({ uid: 'z', addresses: ['10.0.0.1'] })], services: [], policies: [] })
  t.equal(state.workloadByAddress('10.0.0.1')?.uid, 'z')
  t.equal(state.workloads().length, 1)
  t.same(state.services(), [])
  t.same(state.policies(), [])
})
