// Workload fields as istiod fills them: uid, identity, canonical labels, target ports by name,
// ambient enrolment (src/istiod/translate/workloads.ts, services.ts, enrolment.ts).
import t from 'tap'
import { TranslationCode } from '../../../../src/istiod/translate/index.js'
import { canonicalName, canonicalRevision } from '../../../../src/istiod/translate/workloads.js'
import { wireAppProtocol } from '../../../../src/istiod/translate/services.js'
import { MessageSink } from '../../../../src/istiod/translate/messages.js'
import { ztunnelPolicies } from '../../../../src/istiod/translate/policies.js'
import { codes, deployment, ns, run, service, serviceNamed, snapshotOf, workloadNamed } from './helpers.js'

t.test('canonical name and revision: Istio label precedence', async (t) => {
  const rows: { labels: Record<string, string>; name: string; revision: string }[] = [
    { labels: {}, name: 'my-deploy', revision: 'latest' },
    { labels: { app: 'a', version: 'v1' }, name: 'a', revision: 'v1' },
    { labels: { app: 'a', 'app.kubernetes.io/name': 'k', version: 'v1', 'app.kubernetes.io/version': 'kv' }, name: 'k', revision: 'kv' },
    {
      labels: {
        app: 'a',
        'app.kubernetes.io/name': 'k',
        'service.istio.io/canonical-name': 'c',
        version: 'v1',
        'service.istio.io/canonical-revision': 'cr',
      },
      name: 'c',
      revision: 'cr',
    },
  ]
  for (const r of rows) {
    t.equal(canonicalName(r.labels, 'my-deploy'), r.name, JSON.stringify(r.labels))
    t.equal(canonicalRevision(r.labels), r.revision, JSON.stringify(r.labels))
  }
  const w = run(deployment('reviews-v2', { app: 'reviews', labels: { version: 'v2' } })).mesh.workloads[0]!
  t.equal(w.canonicalName, 'reviews')
  t.equal(w.canonicalRevision, 'v2')
})

t.test('uid, identity fields, status and capacity', async (t) => {
  const out = run(deployment('web', { sa: 'web-sa' }), { trustDomain: 'example.org' })
  const w = out.mesh.workloads[0]!
  t.equal(w.uid, `Kubernetes//Pod/default/${w.name}`)
  t.equal(w.trustDomain, 'example.org')
  t.equal(w.serviceAccount, 'web-sa')
  t.equal(w.status, 'HEALTHY')
  t.equal(w.capacity, 1)
  t.equal(w.clusterId, 'Kubernetes')
  const noSa = run(`apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec: {containers: [{name: c, image: i}]}\n`).mesh.workloads[0]!
  t.equal(noSa.serviceAccount, 'default')
})

t.test('services map: targetPort by number, by container port name, or missing', async (t) => {
  const yaml =
    deployment('web', { port: 8080 }) +
    service('by-number', { app: 'web', port: 80, targetPort: 9090 }) +
    service('by-name', { app: 'web', port: 81, targetPort: 'http' }) +
    service('bad-name', { app: 'web', port: 82, targetPort: 'grpc' }) +
    service('other', { app: 'nobody' })
  const out = run(yaml)
  const w = workloadNamed(out, 'web')
  t.same(Object.fromEntries(w.services), {
    'default/by-number.default.svc.cluster.local': [{ servicePort: 80, targetPort: 9090 }],
    'default/by-name.default.svc.cluster.local': [{ servicePort: 81, targetPort: 8080 }],
    'default/bad-name.default.svc.cluster.local': [],
  })
  t.same(
    serviceNamed(out, 'by-name').ports,
    [{ servicePort: 81, targetPort: 0, appProtocol: 'http' }],
    'a named targetPort is 0 in the Service, as istiod sends it',
  )
  t.same(serviceNamed(out, 'by-number').ports, [{ servicePort: 80, targetPort: 9090, appProtocol: 'http' }])
  t.same(codes(out), [TranslationCode.targetPortNotFound])
  t.equal(serviceNamed(out, 'by-name').hostname, 'by-name.default.svc.cluster.local')
})

t.test('ambient enrolment: pod label beats namespace label', async (t) => {
  const rows: { name: string; nsLabel?: string; podLabel?: string; want: 'HBONE' | 'NONE' }[] = [
    { name: 'no labels', want: 'NONE' },
    { name: 'namespace ambient', nsLabel: 'ambient', want: 'HBONE' },
    { name: 'namespace ambient, pod none', nsLabel: 'ambient', podLabel: 'none', want: 'NONE' },
    { name: 'pod ambient in a plain namespace', podLabel: 'ambient', want: 'HBONE' },
    { name: 'namespace with another value', nsLabel: 'sidecar', want: 'NONE' },
  ]
  for (const r of rows) {
    const yaml =
      ns('apps', r.nsLabel === undefined ? {} : { 'istio.io/dataplane-mode': r.nsLabel }) +
      deployment('web', { ns: 'apps', labels: r.podLabel === undefined ? {} : { 'istio.io/dataplane-mode': r.podLabel } })
    t.equal(run(yaml).mesh.workloads[0]!.tunnelProtocol, r.want, r.name)
  }
})

t.test('selector AuthorizationPolicies are listed by the workloads they select', async (t) => {
  const ap = (name: string, namespace: string, selector: string) => `
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: ${name}, namespace: ${namespace}}
spec:
  ${selector}
  rules: [{from: [{source: {principals: ["cluster.local/ns/default/sa/x"]}}]}]
---
`
  const out = run(
    [
      deployment('web'),
      deployment('db'),
      ap('web-only', 'default', 'selector: {matchLabels: {app: web}}'),
      ap('mesh-web', 'istio-system', 'selector: {matchLabels: {app: web}}'),
      ap('namespace-wide', 'default', ''),
      ap('other-ns', 'prod', 'selector: {matchLabels: {app: web}}'),
    ].join(''),
  )
  t.same(workloadNamed(out, 'web').authorizationPolicies, ['default/web-only', 'istio-system/mesh-web'])
  t.same(workloadNamed(out, 'db').authorizationPolicies, [])
  t.same(
    out.mesh.policies.map((p) => `${p.namespace}/${p.name}:${p.scope}`),
    [
      'default/namespace-wide:NAMESPACE',
      'default/web-only:WORKLOAD_SELECTOR',
      'istio-system/mesh-web:WORKLOAD_SELECTOR',
      'prod/other-ns:WORKLOAD_SELECTOR',
    ],
  )
})

t.test("Service port app_protocol: appProtocol, else the port name, as Istio's protocol conversion", async (t) => {
  const rows: Array<[{ name?: string; appProtocol?: string }, string]> = [
    [{ name: 'http' }, 'http'],
    [{ name: 'http-web' }, 'http'],
    [{ name: 'HTTP-caps' }, 'http'],
    [{ name: 'http2-x' }, 'http2'],
    [{ name: 'grpc' }, 'grpc'],
    [{ name: 'grpc-api' }, 'grpc'],
    [{ name: 'tcp-db' }, ''],
    [{ name: 'tls' }, ''],
    [{ name: 'https' }, ''],
    [{ name: 'web' }, ''],
    [{}, ''],
    [{ name: 'tcp', appProtocol: 'http' }, 'http'],
    [{ name: 'http', appProtocol: 'kubernetes.io/h2c' }, 'http2'],
  ]
  for (const [port, want] of rows) t.equal(wireAppProtocol(port), want, JSON.stringify(port))
})

t.test('Services and selector policies select only pods of their namespace (the root namespace policies: of every one)', async (t) => {
  const ap = (name: string, namespace: string) =>
    `apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: ${name}, namespace: ${namespace}}
spec:
  selector: {matchLabels: {app: web}}
  rules: [{from: [{source: {namespaces: ["x"]}}]}]
---
`
  const yaml = [
    ns('aa'),
    ns('zz'),
    deployment('web', { ns: 'aa' }),
    deployment('web', { ns: 'zz' }),
    service('web', { ns: 'aa' }),
    service('web', { ns: 'zz' }),
    service('web-too', { ns: 'zz', app: 'web' }),
    ap('a-1', 'aa'),
    ap('z-1', 'zz'),
    ap('z-2', 'zz'),
    ap('mesh', 'istio-system'),
  ].join('')
  const out = run(yaml)
  const inNs = (namespace: string) => out.mesh.workloads.find((w) => w.namespace === namespace)!
  t.same([...inNs('aa').services.keys()], ['aa/web.aa.svc.cluster.local'])
  t.same([...inNs('zz').services.keys()], ['zz/web.zz.svc.cluster.local', 'zz/web-too.zz.svc.cluster.local'])
  t.same(inNs('aa').authorizationPolicies, ['aa/a-1', 'istio-system/mesh'])
  t.same(inNs('zz').authorizationPolicies, ['istio-system/mesh', 'zz/z-1', 'zz/z-2'])
  // The unsorted list itself comes in namespace/name order, the root namespace's before or after.
  const policies = ztunnelPolicies(snapshotOf(yaml).AuthorizationPolicy, 'istio-system', new MessageSink())
  t.same(policies.selectorPoliciesFor('aa', { app: 'web' }), ['aa/a-1', 'istio-system/mesh'])
  t.same(policies.selectorPoliciesFor('zz', { app: 'web' }), ['istio-system/mesh', 'zz/z-1', 'zz/z-2'])
  t.same(policies.selectorPoliciesFor('istio-system', { app: 'web' }), ['istio-system/mesh'])
  t.same(policies.selectorPoliciesFor('zz', { app: 'db' }), [])
})
