// Which AuthorizationPolicies reach a waypoint and which reach ztunnel (Istio: targetRefs → the
// waypoint; selector or namespace-wide → ztunnel only), with the seed's allow-reviews and deny-all.
import t from 'tap'
import { applicablePolicies } from '../../../../src/authz/applicable.js'
import { authorize } from '../../../../src/authz/rbac.js'
import { SpiffeId } from '../../../../src/identity/spiffe-id.js'
import { TranslationCode } from '../../../../src/istiod/translate/index.js'
import { codes, deployment, fixture, ns, run, service, waypoint, workloadNamed } from './helpers.js'

const MESH = [
  ns('default', { 'istio.io/dataplane-mode': 'ambient' }),
  waypoint('wp'),
  deployment('reviews', { port: 9080 }),
  service('reviews', { port: 9080, targetPort: 9080, labels: { 'istio.io/use-waypoint': 'wp' } }),
  deployment('ratings', { port: 9080 }),
  service('ratings', { port: 9080, targetPort: 9080 }),
].join('')

const ap = (
  name: string,
  namespace: string,
  target: string,
  rules = 'rules: [{to: [{operation: {methods: [GET], paths: ["/reviews/*"]}}]}]',
) => `
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: ${name}, namespace: ${namespace}}
spec:
  ${target}
  ${rules}
---
`

t.test('targetRefs route a policy to the waypoint, never to ztunnel', async (t) => {
  const out = run([
    MESH,
    ap('to-service', 'default', 'targetRefs: [{kind: Service, group: "", name: reviews}]'),
    ap(
      'to-gateway',
      'default',
      'targetRefs: [{kind: Gateway, group: gateway.networking.k8s.io, name: wp}]',
      'action: DENY\n  rules: [{to: [{operation: {methods: [DELETE]}}]}]',
    ),
    ap('all-waypoints', 'istio-system', 'targetRefs: [{kind: GatewayClass, group: gateway.networking.k8s.io, name: istio-waypoint}]'),
    ap('by-selector', 'default', 'selector: {matchLabels: {app: reviews}}', 'rules: [{from: [{source: {namespaces: [default]}}]}]'),
  ])
  const wp = out.waypoints[0]!
  t.same(
    wp.authorization.map((p) => `${p.namespace}/${p.name}`),
    ['default/to-gateway', 'istio-system/all-waypoints'],
  )
  const reviews = wp.services.find((s) => s.name === 'reviews')!
  t.same(
    reviews.authorization.map((p) => p.name),
    ['to-service'],
  )
  t.same(reviews.authorization[0]!.rules, [
    {
      from: [],
      to: [{ hosts: [], notHosts: [], ports: [], notPorts: [], methods: ['GET'], notMethods: [], paths: ['/reviews/*'], notPaths: [] }],
      when: [],
    },
  ])
  t.match(wp.authorization[0], { action: 'DENY', provider: null, dryRun: false })
  t.same(
    out.mesh.policies.map((p) => p.name),
    ['by-selector'],
    'only the selector policy reaches ztunnel',
  )
  t.same(workloadNamed(out, 'reviews').authorizationPolicies, ['default/by-selector'])
  t.same(codes(out), [])
})

t.test('targetRefs that reach nothing are reported', async (t) => {
  const out = run([
    MESH,
    ap('no-waypoint', 'default', 'targetRefs: [{kind: Service, group: "", name: ratings}]'),
    ap('no-service', 'default', 'targetRefs: [{kind: Service, group: "", name: ghost}]'),
    ap('no-gateway', 'default', 'targetRefs: [{kind: Gateway, group: gateway.networking.k8s.io, name: ghost}]'),
  ])
  t.same(
    out.messages.map((m) => [m.object, m.code]),
    [
      ['AuthorizationPolicy/default/no-gateway', TranslationCode.policyTargetNotFound],
      ['AuthorizationPolicy/default/no-service', TranslationCode.policyTargetNotFound],
      ['AuthorizationPolicy/default/no-waypoint', TranslationCode.policyTargetNotFound],
    ],
  )
  t.same(out.waypoints[0]!.authorization, [])
})

t.test('serviceAccounts are expanded with the policy namespace; dry-run and CUSTOM carried', async (t) => {
  const out = run([
    MESH,
    `
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: ext, annotations: {istio.io/dry-run: "true"}}
spec:
  targetRefs: [{kind: Service, group: "", name: reviews}]
  action: CUSTOM
  provider: {name: ext-authz}
  rules: [{from: [{source: {serviceAccounts: [productpage, other/curl]}}], when: [{key: "request.headers[x-user]", values: [admin]}]}]
`,
  ])
  const p = out.waypoints[0]!.services.find((s) => s.name === 'reviews')!.authorization[0]!
  t.match(p, { action: 'CUSTOM', provider: 'ext-authz', dryRun: true })
  t.same(p.rules[0]!.from[0]!.serviceAccounts, ['default/productpage', 'other/curl'])
  t.same(p.rules[0]!.when, [{ key: 'request.headers[x-user]', values: ['admin'], notValues: [] }])
})

t.test('seed 3.3: allow-reviews (selector + HTTP rules) and deny-all, as ambient enforces them', async (t) => {
  const out = run([
    MESH,
    ...fixture('seed/07-authorizationpolicy-allow-reviews.yaml'),
    ...fixture('seed/08-authorizationpolicy-deny-all.yaml'),
  ])
  const byName = Object.fromEntries(out.mesh.policies.map((p) => [p.name, p]))
  // allow-reviews: its only rule holds HTTP attributes, so ztunnel drops it: an ALLOW with no rules.
  t.match(byName['allow-reviews'], { scope: 'WORKLOAD_SELECTOR', action: 'ALLOW', rules: [] })
  t.match(byName['deny-all'], { scope: 'NAMESPACE', action: 'ALLOW', rules: [] })
  t.same(workloadNamed(out, 'reviews').authorizationPolicies, ['default/allow-reviews'])
  t.same(out.waypoints[0]!.authorization, [], 'a waypoint never applies selector policies')
  t.same(
    out.waypoints[0]!.services.flatMap((s) => s.authorization),
    [],
  )
  t.same(codes(out), [TranslationCode.authorizationConversion, TranslationCode.selectorPolicyHttpAttributes])
  t.equal(out.messages[0]!.detailCode, 'AUTHZ_HTTP_ATTRIBUTES_IGNORED')
  // Even productpage's identity is refused at reviews' ztunnel: the allow list is empty.
  const w = workloadNamed(out, 'reviews')
  const peer = SpiffeId.parse('spiffe://cluster.local/ns/default/sa/bookinfo-productpage')
  const d = authorize(
    { srcIdentity: peer, srcIp: '127.244.1.9', dstIp: w.addresses[0]!, dstPort: 9080 },
    applicablePolicies(w, out.mesh.policies),
  )
  t.equal(d.allowed, false)
})

t.test('bookinfo fixture: translates cleanly, reviews through its waypoint', async (t) => {
  const out = run(fixture('bookinfo'), { nodes: 3 })
  t.same(
    out.messages.filter((m) => m.severity !== 'info'),
    [],
  )
  t.same(
    out.waypoints.map((w) => `${w.namespace}/${w.name}`),
    ['default/reviews-waypoint'],
  )
  t.same(
    out.waypoints[0]!.services.map((s) => s.name),
    ['reviews'],
  )
  t.ok(out.mesh.workloads.every((w) => w.tunnelProtocol === 'HBONE'))
  t.ok(new Set(out.mesh.workloads.flatMap((w) => w.addresses)).size === out.mesh.workloads.length, 'addresses are unique')
})
