import { readFileSync } from 'node:fs'
import t from 'tap'
import { parseLocalConfig } from '../../../src/mesh/local-config.js'
import type { ConfigError, LocalConfigResult } from '../../../src/mesh/local-config.js'
import { MeshState } from '../../../src/mesh/state.js'

const FIXTURE = new URL('../../fixtures/ztunnel-local.yaml', import.meta.url)
const FILE = 'local.yaml'

function parsed(text: string): Extract<LocalConfigResult, { kind: 'parsed' }> {
  const r = parseLocalConfig(text, { file: FILE })
  if (r.kind !== 'parsed') throw new Error(`unexpected ${r.kind}: ${JSON.stringify(r.errors)}`)
  return r
}

const brief = (e: ConfigError): [string, string, number | undefined] => [e.code, e.path, e.line]

t.test('the example fixture loads whole, with defaults applied', async (t) => {
  const r = parsed(readFileSync(FIXTURE, 'utf8'))
  t.same(r.errors, [])
  const state = new MeshState()
  state.replaceAll(r.snapshot)
  t.equal(state.workloads().length, 6)
  t.equal(state.services().length, 6)
  t.equal(state.policies().length, 4)

  const pp = state.workloadByAddress('127.244.1.3')!
  t.equal(pp.uid, 'Kubernetes//v1/Pod/default/productpage-v1-6b746f74dc-9stvs', 'uid derived from cluster, namespace and name')
  t.equal(pp.podLocalAddress, '127.245.1.3')
  t.equal(pp.trustDomain, 'cluster.local')
  t.equal(pp.tunnelProtocol, 'HBONE')
  t.equal(pp.status, 'HEALTHY')
  t.equal(pp.capacity, 1)
  t.same(pp.services.get('default/productpage.default.svc.cluster.local'), [{ servicePort: 9080, targetPort: 9080 }])

  const db = state.workloadByAddress('127.244.1.9')!
  t.equal(db.tunnelProtocol, 'NONE')
  t.equal(db.workloadType, 'POD')
  t.equal(db.serviceAccount, 'default')

  t.equal(state.serviceByKey('default/productpage.default.svc.cluster.local')?.addresses[0], '127.96.0.11', 'hostname derived')
  const reviews = state.serviceByAddress('127.96.0.13')!
  t.same(reviews.waypoint, { kind: 'hostname', namespace: 'default', hostname: 'waypoint.default.svc.cluster.local', hboneMtlsPort: 15008 })
  t.same(reviews.ports, [{ servicePort: 9080, targetPort: 9080, appProtocol: '' }])
  t.same(state.serviceByAddress('127.96.0.12')!.ports, [{ servicePort: 8000, targetPort: 8080, appProtocol: 'http' }])
  t.same(
    state.endpointsOf('default/reviews.default.svc.cluster.local').map((w) => w.capacity),
    [2],
  )

  const httpbin = state.workloadByAddress('127.244.2.2')!
  t.same(
    state
      .policiesFor(httpbin)
      .map((p) => p.name)
      .sort(),
    ['deny-9999', 'deny-quarantine', 'httpbin-allow-sleep'],
  )
  const deny9999 = state.policyByKey('default/deny-9999')!
  t.equal(deny9999.scope, 'NAMESPACE', "ztunnel's enum spelling")
  t.equal(deny9999.action, 'DENY')
  t.same(deny9999.rules[0]!.clauses[0]!.matches[0]!.destinationPorts, [9999], "ztunnel's bare-list nesting")
  const fromWaypoint = state.policyByKey('default/reviews-from-waypoint')!.rules[0]!.clauses[0]!.matches[0]!
  t.same(fromWaypoint.principals, [{ exact: 'cluster.local/ns/default/sa/waypoint' }])
  t.same(fromWaypoint.sourceIps, [{ address: '127.244.0.0', length: 16 }])
})

t.test("ztunnel's own examples/localhost.yaml spellings load", async (t) => {
  const r = parsed(`
workloads:
- uid: cluster1//v1/Pod/default/local
  name: local
  namespace: default
  serviceAccount: default
  workloadIps: ["127.0.0.1"]
  protocol: TCP
  node: local
  network: ""
  services:
    "default/example.com":
      80: 8080
policies:
  - action: Allow
    rules:
    - - - notDestinationPorts:
          - 9999
    name: deny-9999
    namespace: default
    scope: Namespace
services:
- name: remote
  namespace: default
  hostname: example2.com
  vips:
    - remote/127.10.0.2
  ports:
    80: 8080
  subjectAltNames:
   - spiffe://cluster.local/ns/default/sa/local
`)
  t.same(r.errors, [])
  const [w] = r.snapshot.workloads
  t.same(w!.addresses, ['127.0.0.1'])
  t.equal(w!.tunnelProtocol, 'NONE', 'TCP is NONE')
  t.same(w!.services.get('default/example.com'), [{ servicePort: 80, targetPort: 8080 }])
  t.equal(r.snapshot.services[0]!.network, 'remote')
  t.same(r.snapshot.policies[0]!.rules[0]!.clauses[0]!.matches[0]!.notDestinationPorts, [9999])
})

t.test('each kind of invalid entry: code, path and line', async (t) => {
  const cases: Array<[string, string, Array<[string, string, number | undefined]>]> = [
    [
      'bad IP',
      'workloads:\n  - name: a\n    namespace: default\n    addresses: ["10.0.0.300"]\n',
      [['MESH_CONFIG_INVALID_ADDRESS', 'workloads[0].addresses[0]', 4]],
    ],
    [
      'missing name',
      'workloads:\n  - namespace: default\n    addresses: ["10.0.0.1"]\n',
      [['MESH_CONFIG_MISSING_FIELD', 'workloads[0].name', 2]],
    ],
    [
      'typo',
      'workloads:\n  - name: a\n    namespace: default\n    serviceAcount: x\n    addresses: ["10.0.0.1"]\n',
      [['MESH_CONFIG_UNKNOWN_FIELD', 'workloads[0].serviceAcount', 4]],
    ],
    [
      'wrong type',
      'workloads:\n  - name: a\n    namespace: 7\n    addresses: ["10.0.0.1"]\n',
      [['MESH_CONFIG_SHAPE', 'workloads[0].namespace', 3]],
    ],
    [
      'bad enum',
      'workloads:\n  - name: a\n    namespace: default\n    tunnelProtocol: QUIC\n    addresses: ["10.0.0.1"]\n',
      [['MESH_CONFIG_INVALID_VALUE', 'workloads[0].tunnelProtocol', 4]],
    ],
    [
      'bad identity',
      'workloads:\n  - name: a\n    namespace: default\n    trustDomain: Cluster.Local\n    addresses: ["10.0.0.1"]\n',
      [['MESH_CONFIG_INVALID_VALUE', 'workloads[0].trustDomain', 4]],
    ],
    [
      'both spellings',
      'workloads:\n  - name: a\n    namespace: default\n    addresses: ["10.0.0.1"]\n    workloadIps: ["10.0.0.1"]\n',
      [['MESH_CONFIG_CONFLICTING_FIELDS', 'workloads[0].workloadIps', 5]],
    ],
    [
      'pod-local equals pod IP',
      'workloads:\n  - name: a\n    namespace: default\n    addresses: ["10.0.0.1"]\n    podLocalAddress: 10.0.0.1\n',
      [['MESH_CONFIG_INVALID_VALUE', 'workloads[0].podLocalAddress', 5]],
    ],
    [
      'bad target port',
      'workloads:\n  - name: a\n    namespace: default\n    addresses: ["10.0.0.1"]\n    services:\n      default/web.example: {80: 70000}\n',
      [['MESH_CONFIG_INVALID_PORT', 'workloads[0].services["default/web.example"]["80"]', 6]],
    ],
    [
      'bad waypoint',
      'services:\n  - name: web\n    namespace: default\n    waypoint: {destination: nowhere}\n',
      [['MESH_CONFIG_INVALID_VALUE', 'services[0].waypoint.destination', 4]],
    ],
    [
      'bad SAN',
      'services:\n  - name: web\n    namespace: default\n    subjectAltNames: [default/sa]\n',
      [['MESH_CONFIG_INVALID_VALUE', 'services[0].subjectAltNames[0]', 4]],
    ],
    [
      'VIPs on two networks',
      'services:\n  - name: web\n    namespace: default\n    vips: [a/10.96.0.1, b/10.96.0.2]\n',
      [['MESH_CONFIG_INVALID_VALUE', 'services[0].vips[1]', 4]],
    ],
    ['policy without scope', 'policies:\n  - name: p\n    namespace: default\n', [['MESH_CONFIG_MISSING_FIELD', 'policies[0].scope', 2]]],
    [
      'GLOBAL outside root',
      'policies:\n  - name: p\n    namespace: default\n    scope: GLOBAL\n',
      [['MESH_CONFIG_GLOBAL_OUTSIDE_ROOT', 'policies[0].scope', 4]],
    ],
    [
      'bad CIDR',
      'policies:\n  - name: p\n    namespace: default\n    scope: NAMESPACE\n    rules:\n' +
        '      - clauses:\n          - matches:\n              - sourceIps: ["10.0.0.0/33"]\n',
      [['MESH_CONFIG_INVALID_ADDRESS', 'policies[0].rules[0].clauses[0].matches[0].sourceIps[0]', 8]],
    ],
    [
      'bad match field',
      'policies:\n  - name: p\n    namespace: default\n    scope: NAMESPACE\n    rules: [[[{methods: [GET]}]]]\n',
      [['MESH_CONFIG_UNKNOWN_FIELD', 'policies[0].rules[0][0][0].methods', 5]],
    ],
    ['not a mapping', 'workloads:\n  - just-a-string\n', [['MESH_CONFIG_SHAPE', 'workloads[0]', 2]]],
    ['unknown top level', 'workload: []\n', [['MESH_CONFIG_UNKNOWN_FIELD', 'workload', 1]]],
    ['top level list', '- name: a\n', [['MESH_CONFIG_SHAPE', '', 1]]],
  ]
  for (const [name, text, want] of cases) {
    const r = parsed(text)
    t.same(r.errors.map(brief), want, name)
    t.ok(
      r.errors.every((e) => e.file === FILE && e.reason.length > 0),
      `${name}: file and reason`,
    )
    t.same([...r.snapshot.workloads, ...r.snapshot.services, ...r.snapshot.policies], [], `${name}: entry rejected`)
  }
})

t.test('duplicates: the later entry is rejected', async (t) => {
  const r = parsed(`
workloads:
  - {uid: u1, name: a, namespace: default, addresses: ["10.0.0.1"], podLocalAddress: 10.1.0.1}
  - {uid: u1, name: b, namespace: default, addresses: ["10.0.0.2"]}
  - {uid: u3, name: c, namespace: default, addresses: ["10.0.0.1"]}
  - {uid: u4, name: d, namespace: default, addresses: ["10.0.0.1"], network: other}
  - {uid: u5, name: e, namespace: default, addresses: ["10.0.0.5"], podLocalAddress: 10.1.0.1}
services:
  - {name: web, namespace: default, addresses: ["10.96.0.1"]}
  - {name: web, namespace: default, addresses: ["10.96.0.2"]}
  - {name: api, namespace: default, addresses: ["10.0.0.1"]}  # a pod IP of u1
policies:
  - {name: p, namespace: default, scope: NAMESPACE}
  - {name: p, namespace: default, scope: NAMESPACE, action: DENY}
`)
  t.same(r.errors.map(brief), [
    ['MESH_CONFIG_DUPLICATE_UID', 'workloads[1].uid', 4],
    ['MESH_CONFIG_DUPLICATE_ADDRESS', 'workloads[2].addresses[0]', 5],
    ['MESH_CONFIG_DUPLICATE_ADDRESS', 'workloads[4].podLocalAddress', 7],
    ['MESH_CONFIG_DUPLICATE_KEY', 'services[1].hostname', 10],
    ['MESH_CONFIG_DUPLICATE_ADDRESS', 'services[2].addresses[0]', 11],
    ['MESH_CONFIG_DUPLICATE_KEY', 'policies[1].name', 14],
  ])
  t.same(
    r.snapshot.workloads.map((w) => w.uid),
    ['u1', 'u4'],
    'same IP on another network is fine',
  )
  t.same(
    r.snapshot.services.map((s) => s.addresses[0]),
    ['10.96.0.1'],
  )
  t.same(
    r.snapshot.policies.map((p) => p.action),
    ['ALLOW'],
  )
})

t.test('all errors at once; the valid rest applies', async (t) => {
  const r = parsed(`
workloads:
  - {name: ok-1, namespace: default, addresses: ["10.0.0.1"]}
  - {name: bad-1, namespace: default, addresses: ["nope", "10.0.0.2"], capacity: -1, status: DEAD}
  - {name: ok-2, namespace: default, addresses: ["::ffff:10.0.0.3"]}
services:
  - {name: web, namespace: default, ports: [{targetPort: 80}]}
  - {name: api, namespace: default, addresses: ["10.96.0.9"], ports: [{servicePort: 80, targetPort: 8080, appProtocol: http}]}
policies:
  - {name: p, namespace: default, scope: NAMESPACE, action: MAYBE, dryRun: "yes"}
  - {name: ok, namespace: istio-system, scope: GLOBAL, rules: [{}]}
`)
  t.same(
    r.errors.map((e) => e.path),
    [
      'workloads[1].addresses[0]',
      'workloads[1].status',
      'workloads[1].capacity',
      'services[0].ports[0].servicePort',
      'policies[0].action',
      'policies[0].dryRun',
    ],
  )
  t.same(
    r.snapshot.workloads.map((w) => w.name),
    ['ok-1', 'ok-2'],
  )
  t.same(r.snapshot.workloads[1]!.addresses, ['10.0.0.3'], 'IPv4-mapped IPv6 folds to IPv4')
  t.same(
    r.snapshot.services.map((s) => s.name),
    ['api'],
  )
  t.same(
    r.snapshot.policies.map((p) => p.name),
    ['ok'],
  )
  t.same(r.snapshot.policies[0]!.rules, [{ clauses: [] }], 'rules: [{}] is a rule that matches everything')
})

t.test('string matches, service accounts and root namespace option', async (t) => {
  const r = parseLocalConfig(
    `
policies:
  - name: p
    namespace: mesh-root
    scope: GLOBAL
    rules:
      - clauses:
          - matches:
              - principals: ["*", "*/sa/sleep", "cluster.local/*", {suffix: x}, {presence: {}}, exact]
                serviceAccounts: [{namespace: default, serviceAccount: sleep}]
                notDestinationPorts: [22]
`,
    { file: FILE, rootNamespace: 'mesh-root' },
  )
  t.equal(r.kind, 'parsed')
  if (r.kind !== 'parsed') return
  t.same(r.errors, [])
  const m = r.snapshot.policies[0]!.rules[0]!.clauses[0]!.matches[0]!
  t.same(m.principals, [
    { presence: true },
    { suffix: '/sa/sleep' },
    { prefix: 'cluster.local/' },
    { suffix: 'x' },
    { presence: true },
    { exact: 'exact' },
  ])
  t.same(m.serviceAccounts, [{ namespace: 'default', serviceAccount: 'sleep' }])
  t.same(m.notDestinationPorts, [22])
  t.same(m.namespaces, [])
})

t.test('an empty file is an empty mesh; broken YAML is unusable as a whole', async (t) => {
  t.same(parsed('').snapshot, { workloads: [], services: [], policies: [] })
  t.same(parsed('workloads:\n').snapshot.workloads, [])
  const r = parseLocalConfig('workloads:\n  - name: a\n    namespace: [unclosed\n', { file: FILE })
  t.equal(r.kind, 'unusable')
  t.equal(r.errors[0]!.code, 'MESH_CONFIG_YAML')
  t.type(r.errors[0]!.line, 'number')
  t.equal(parseLocalConfig('a: 1\na: 2\n', { file: FILE }).kind, 'unusable', 'duplicate keys are a YAML error')
})

t.test('the example in local-config.ts documentation parses cleanly', async (t) => {
  const src = readFileSync(new URL('../../../src/mesh/local-config.ts', import.meta.url), 'utf8')
  const example = src
    .split('\n')
    .filter((l) => l.startsWith('//   '))
    .map((l) => l.slice(5))
    .join('\n')
  const r = parsed(example)
  t.same(r.errors, [])
  t.same([r.snapshot.workloads.length, r.snapshot.services.length, r.snapshot.policies.length], [1, 1, 1])
})
