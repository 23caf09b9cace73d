// Pods, nodes and addresses: deterministic names and placement, and allocation that is stable
// across translations (src/istiod/translate/placement.ts, allocation.ts).
import t from 'tap'
import { TranslationCode } from '../../../../src/istiod/translate/index.js'
import { fnv1a, templateHash } from '../../../../src/istiod/translate/placement.js'
import { codes, deployment, run, service, workloadNamed } from './helpers.js'

t.test('a Deployment becomes <name>-<template hash>-<i> pods, the same every time', async (t) => {
  const yaml = deployment('web', { replicas: 3 })
  const a = run(yaml)
  const b = run(yaml)
  const names = a.mesh.workloads.map((w) => w.name)
  t.equal(names.length, 3)
  t.match(names[0], /^web-[bcdfghjklmnpqrstvwxz2456789]{10}-0$/)
  t.same(
    names.map((n) => n.replace(/-\d$/, '')),
    Array(3).fill(names[0]!.replace(/-0$/, '')),
    'one template hash',
  )
  t.same(
    b.mesh.workloads.map((w) => w.name),
    names,
  )
  t.same(JSON.stringify(b), JSON.stringify(a), 'byte-equal output')
  t.equal(a.mesh.workloads[0]!.workloadName, 'web')
  t.equal(a.mesh.workloads[0]!.workloadType, 'DEPLOYMENT')
})

t.test('a template change renames the pods (a rollout); a replica change does not', async (t) => {
  const one = run(deployment('web', { replicas: 1 }))
  const two = run(deployment('web', { replicas: 2 }))
  const relabelled = run(deployment('web', { replicas: 1, labels: { version: 'v2' } }))
  t.equal(two.mesh.workloads[0]!.name, one.mesh.workloads[0]!.name)
  t.not(relabelled.mesh.workloads[0]!.name, one.mesh.workloads[0]!.name)
})

t.test('node: spec.nodeName when it is a node, else a stable hash of namespace/name', async (t) => {
  const pod = (name: string, nodeName?: string) => `
apiVersion: v1
kind: Pod
metadata: {name: ${name}}
spec:
  ${nodeName === undefined ? '' : `nodeName: ${nodeName}`}
  containers: [{name: c, image: i}]
---
`
  const out = run([pod('pinned', 'node-3'), pod('free'), pod('lost', 'node-9')], { nodes: 3 })
  t.equal(workloadNamed(out, 'pinned').node, 'node-3')
  t.equal(workloadNamed(out, 'free').node, `node-${1 + (fnv1a('default/free') % 3)}`)
  t.equal(workloadNamed(out, 'lost').node, `node-${1 + (fnv1a('default/lost') % 3)}`)
  t.same(codes(out), [TranslationCode.unknownNode])
  t.equal(workloadNamed(out, 'free').workloadType, 'POD')
  t.equal(workloadNamed(out, 'free').workloadName, 'free')
})

t.test('fnv1a and templateHash are fixed functions (names must not change across releases)', async (t) => {
  t.equal(fnv1a(''), 0x811c9dc5)
  t.equal(fnv1a('a'), 0xe40c292c)
  t.equal(templateHash('x'), templateHash('x'))
  t.equal(templateHash('x').length, 10)
})

t.test('addresses follow the plan: pod 127.244.k.j, pod-local 127.245.k.j, VIP 127.96.x.y', async (t) => {
  const out = run(deployment('web') + service('web'), { nodes: 1 })
  const w = out.mesh.workloads[0]!
  t.same(w.addresses, ['127.244.1.1'])
  t.equal(w.podLocalAddress, '127.245.1.1')
  t.equal(w.node, 'node-1')
  t.same(out.mesh.services[0]!.addresses, ['127.96.0.1'])
})

t.test('allocation is stable: pods keep their address as others come and go', async (t) => {
  const base = deployment('a') + deployment('b') + deployment('c')
  const first = run(base, { nodes: 1 })
  const ip = (tr: typeof first, n: string) => workloadNamed(tr, n).addresses[0]
  t.same(
    ['a', 'b', 'c'].map((n) => ip(first, n)),
    ['127.244.1.1', '127.244.1.2', '127.244.1.3'],
  )
  // b goes away: a and c keep theirs.
  const second = run(deployment('a') + deployment('c'), { nodes: 1, allocations: first.allocations })
  t.equal(ip(second, 'a'), '127.244.1.1')
  t.equal(ip(second, 'c'), '127.244.1.3')
  // A newcomer sorted before c takes the free address, not c's.
  const third = run(deployment('a') + deployment('bb') + deployment('c'), { nodes: 1, allocations: second.allocations })
  t.equal(ip(third, 'c'), '127.244.1.3')
  t.equal(ip(third, 'bb'), '127.244.1.2')
  // Without the table, the same config gets the same fresh numbering (reproducible start).
  t.same(run(base, { nodes: 1 }).allocations, first.allocations)
})

t.test('a table written under another address plan is not reused: addresses come from the current plan', async (t) => {
  const yaml = deployment('a') + deployment('b') + service('a')
  const other = { pods: '10.244', podLocal: '10.245', services: '10.96' }
  const first = run(yaml, { nodes: 1, addressPlan: other })
  t.equal(workloadNamed(first, 'a').addresses[0], '10.244.1.1')
  const second = run(yaml, { nodes: 1, allocations: first.allocations })
  t.same(
    ['a', 'b'].map((n) => workloadNamed(second, n).addresses[0]),
    ['127.244.1.1', '127.244.1.2'],
    'pods renumbered in 127.244',
  )
  t.same(second.mesh.services.find((s) => s.name === 'a')!.addresses, ['127.96.0.1'], 'the VIP renumbered in 127.96')
  t.same(run(yaml, { nodes: 1 }).allocations, second.allocations, 'as if there had been no table')
})

t.test('Service VIPs are stable too, and a given clusterIP is kept', async (t) => {
  const svc = (name: string, clusterIP?: string) => `
apiVersion: v1
kind: Service
metadata: {name: ${name}}
spec:
  ${clusterIP === undefined ? '' : `clusterIP: ${clusterIP}`}
  selector: {app: ${name}}
  ports: [{port: 80}]
---
`
  const first = run([svc('a'), svc('b'), svc('c')])
  const second = run([svc('a'), svc('c'), svc('fixed', '10.96.0.10'), svc('headless', 'None')], { allocations: first.allocations })
  const vip = (n: string) => second.mesh.services.find((s) => s.name === n)!.addresses
  t.same(vip('a'), ['127.96.0.1'])
  t.same(vip('c'), ['127.96.0.3'])
  t.same(vip('fixed'), ['10.96.0.10'])
  t.same(vip('headless'), [])
})

t.test('a Pod with status.podIP keeps it; a later clash (by name) is reported and allocated instead', async (t) => {
  const pod = (name: string, ip: string) => `
apiVersion: v1
kind: Pod
metadata: {name: ${name}}
spec:
  nodeName: node-1
  containers: [{name: c, image: i}]
status: {podIP: ${ip}}
---
`
  const out = run([pod('real', '10.244.0.7'), pod('local', '127.244.1.9'), pod('z-clash', '10.244.0.7')])
  t.same(workloadNamed(out, 'real').addresses, ['10.244.0.7'])
  t.equal(workloadNamed(out, 'real').podLocalAddress, undefined, 'no pod-local twin outside 127.244/16')
  t.equal(workloadNamed(out, 'local').podLocalAddress, '127.245.1.9')
  t.same(workloadNamed(out, 'z-clash').addresses, ['127.244.1.1'])
  t.same(codes(out), [TranslationCode.addressConflict])
})

t.test('nodes must be 1..255', async (t) => {
  t.throws(() => run('', { nodes: 0 }), RangeError)
  t.throws(() => run('', { nodes: 256 }), RangeError)
})
