// Waypoint configuration from the seed document's traffic examples (test/fixtures/seed), and
// VirtualService / HTTPRoute host resolution (src/istiod/translate/waypoint-config.ts and friends).
import t from 'tap'
import { TranslationCode, WAYPOINT_CONFIG_API_VERSION, type Translation } from '../../../../src/istiod/translate/index.js'
import type { HttpRoute, ServedService, UpstreamCluster } from '../../../../src/mesh/waypoint-config.js'
import { codes, deployment, fixture, ns, run, service, waypoint } from './helpers.js'

/** A namespace whose Services all use waypoint `wp`, with reviews v1/v2 and ratings, httpbin v1/v2. */
const MESH = [
  ns('default', { 'istio.io/dataplane-mode': 'ambient', 'istio.io/use-waypoint': 'wp' }),
  waypoint('wp'),
  deployment('reviews-v1', { app: 'reviews', labels: { version: 'v1' }, port: 9080, replicas: 2 }),
  deployment('reviews-v2', { app: 'reviews', labels: { version: 'v2' }, port: 9080 }),
  service('reviews', { port: 9080, targetPort: 9080 }),
  deployment('ratings', { port: 9080 }),
  service('ratings', { port: 9080, targetPort: 9080 }),
  deployment('httpbin-v1', { app: 'httpbin', labels: { version: 'v1' } }),
  deployment('httpbin-v2', { app: 'httpbin', labels: { version: 'v2' } }),
  service('httpbin', { port: 8000, targetPort: 8080 }),
].join('')

const served = (out: Translation, name: string): ServedService => {
  const s = out.waypoints[0]!.services.find((x) => x.name === name)
  if (s === undefined) throw new Error(`waypoint does not serve ${name}`)
  return s
}
const routes = (out: Translation, name: string): readonly HttpRoute[] => served(out, name).ports[0]!.routes
const cluster = (out: Translation, name: string): UpstreamCluster => {
  const c = out.waypoints[0]!.clusters.find((x) => x.name === name)
  if (c === undefined) throw new Error(`no cluster ${name} in ${out.waypoints[0]!.clusters.map((x) => x.name).join(', ')}`)
  return c
}
const forward = (r: HttpRoute) => (r.action.kind === 'forward' ? r.action.destinations : [])

t.test('without routing config a served Service gets one default route to itself, with default retries', async (t) => {
  const out = run(MESH)
  const wp = out.waypoints[0]!
  t.equal(wp.apiVersion, WAYPOINT_CONFIG_API_VERSION)
  t.same(
    wp.services.map((s) => s.name),
    ['httpbin', 'ratings', 'reviews'],
    "the waypoint serves its namespace's Services, not itself",
  )
  const [r] = routes(out, 'reviews')
  t.match(r, { name: 'default', matches: [], timeoutMs: null, fault: null, mirrors: [], rewrite: null })
  t.same(
    forward(r!).map((d) => [d.cluster, d.weight]),
    [['outbound|9080||reviews.default.svc.cluster.local', 100]],
  )
  t.same(r!.retries, {
    attempts: 2,
    perTryTimeoutMs: null,
    retryOn: ['connect-failure', 'refused-stream', 'unavailable', 'cancelled', 'retriable-status-codes'],
    retriableStatusCodes: [503],
  })
  t.same(served(out, 'reviews').ports[0]!.protocol, 'HTTP', 'port named http')
  const c = cluster(out, 'outbound|9080||reviews.default.svc.cluster.local')
  t.equal(c.endpoints.length, 3)
  t.match(c.endpoints[0], {
    targetPort: 9080,
    identity: 'spiffe://cluster.local/ns/default/sa/reviews-v1',
    hbonePort: 15008,
    tunnelProtocol: 'HBONE',
    healthy: true,
  })
  t.equal(cluster(out, 'outbound|8000||httpbin.default.svc.cluster.local').endpoints[0]!.targetPort, 8080)
  t.same(codes(out), [])
})

t.test('seed 2.1: 90/10 canary over DestinationRule subsets', async (t) => {
  const out = run([MESH, ...fixture('seed/01-canary-destinationrule-virtualservice.yaml')])
  const [r] = routes(out, 'reviews')
  t.same(
    forward(r!).map((d) => [d.subset, d.weight, d.port]),
    [
      ['v1', 90],
      ['v2', 10],
    ].map(([s, w]) => [s, w, 9080]),
  )
  const v1 = cluster(out, 'outbound|9080|v1|reviews.default.svc.cluster.local')
  const v2 = cluster(out, 'outbound|9080|v2|reviews.default.svc.cluster.local')
  t.same(v1.subsetLabels, { version: 'v1' })
  t.equal(v1.endpoints.length, 2, 'both v1 replicas')
  t.ok(v1.endpoints.every((e) => e.name.startsWith('reviews-v1-')))
  t.same(
    v2.endpoints.map((e) => e.name.slice(0, 10)),
    ['reviews-v2'],
  )
  t.equal(v1.destinationRule, 'DestinationRule/default/reviews')
  t.same(served(out, 'reviews').ports[0]!.routeSource, ['VirtualService/default/reviews'])
  t.same(codes(out), [])
})

t.test('seed 2.2: circuit breaker (connectionPool, outlierDetection) on every reviews cluster', async (t) => {
  const out = run([MESH, ...fixture('seed/02-circuit-breaker-destinationrule.yaml')])
  t.same(cluster(out, 'outbound|9080||reviews.default.svc.cluster.local').trafficPolicy, {
    loadBalancer: 'LEAST_REQUEST',
    connectionPool: {
      maxConnections: 100,
      connectTimeoutMs: 10_000,
      http1MaxPendingRequests: 100,
      http2MaxRequests: 1000,
      maxRequestsPerConnection: 10,
      maxRetries: 4294967295,
      idleTimeoutMs: 3_600_000,
    },
    outlierDetection: {
      consecutive5xxErrors: 5,
      consecutiveGatewayErrors: 0,
      intervalMs: 30_000,
      baseEjectionTimeMs: 30_000,
      maxEjectionPercent: 50,
    },
  })
  t.equal(cluster(out, 'outbound|9080||ratings.default.svc.cluster.local').trafficPolicy.outlierDetection, null, 'other hosts untouched')
})

t.test('seed 2.3: retries and timeout', async (t) => {
  const out = run([MESH, ...fixture('seed/03-retry-timeout-virtualservice.yaml')])
  const [r] = routes(out, 'reviews')
  t.equal(r!.timeoutMs, 3000)
  t.same(r!.retries, {
    attempts: 3,
    perTryTimeoutMs: 1000,
    retryOn: ['gateway-error', 'connect-failure', 'refused-stream'],
    retriableStatusCodes: [],
  })
  t.same(
    forward(r!).map((d) => [d.hostname, d.port, d.subset, d.weight]),
    [['reviews.default.svc.cluster.local', 9080, null, 100]],
  )
})

t.test('seed 2.4: mirroring to a subset, 100%', async (t) => {
  const dr =
    `apiVersion: networking.istio.io/v1\nkind: DestinationRule\nmetadata: {name: httpbin}\nspec:\n` +
    `  host: httpbin\n  subsets: [{name: v1, labels: {version: v1}}, {name: v2, labels: ` +
    `{version: v2}}]\n`
  const out = run([MESH, dr, ...fixture('seed/04-mirroring-virtualservice.yaml')])
  const [r] = routes(out, 'httpbin')
  t.same(r!.mirrors, [
    {
      cluster: 'outbound|8000|v2|httpbin.default.svc.cluster.local',
      hostname: 'httpbin.default.svc.cluster.local',
      port: 8000,
      subset: 'v2',
      percentage: 100,
    },
  ])
  t.same(
    forward(r!).map((d) => [d.subset, d.weight]),
    [['v1', 100]],
  )
  t.equal(cluster(out, 'outbound|8000|v2|httpbin.default.svc.cluster.local').endpoints.length, 1)
  t.same(codes(out), [])
  // As written in the seed, without the DestinationRule, the subsets do not exist: said, and 503.
  const bare = run([MESH, ...fixture('seed/04-mirroring-virtualservice.yaml')])
  t.same(codes(bare), [TranslationCode.unknownSubset, TranslationCode.unknownSubset])
  t.same(cluster(bare, 'outbound|8000|v1|httpbin.default.svc.cluster.local').endpoints, [])
})

t.test('seed 2.5: fault injection (10% delay 5s, 5% abort 503)', async (t) => {
  const out = run([MESH, ...fixture('seed/05-fault-injection-virtualservice.yaml')])
  const [r] = routes(out, 'ratings')
  t.same(r!.fault, { delay: { fixedDelayMs: 5000, percentage: 10 }, abort: { httpStatus: 503, grpcStatus: null, percentage: 5 } })
})

t.test('VirtualService hosts resolve relative to the VirtualService namespace (Istio short names)', async (t) => {
  const vs = (namespace: string, host: string, dest = 'reviews') =>
    `apiVersion: networking.istio.io/v1\nkind: VirtualService\n` +
    `metadata: {name: vs, namespace: ${namespace}}\nspec:\n  hosts: ["${host}"]\n` +
    `  http: [{timeout: 7s, route: [{destination: {host: ${dest}}}]}]\n`
  const rows: { name: string; ns: string; host: string; applies: boolean; messages?: string[] }[] = [
    { name: 'short name, same namespace', ns: 'default', host: 'reviews', applies: true },
    { name: 'FQDN', ns: 'default', host: 'reviews.default.svc.cluster.local', applies: true },
    { name: 'FQDN from another namespace', ns: 'other', host: 'reviews.default.svc.cluster.local', applies: true },
    { name: 'wildcard', ns: 'other', host: '*.default.svc.cluster.local', applies: true },
    { name: 'short name from another namespace means reviews.other', ns: 'other', host: 'reviews', applies: false },
    {
      name: 'name.namespace is taken as a full name (Istio), reported',
      ns: 'default',
      host: 'reviews.default',
      applies: false,
      messages: [TranslationCode.virtualServiceHostNotFqdn],
    },
  ]
  for (const r of rows) {
    const dest = r.ns === 'default' ? 'reviews' : 'reviews.default.svc.cluster.local'
    const out = run([MESH, vs(r.ns, r.host, dest)])
    t.equal(routes(out, 'reviews')[0]!.timeoutMs, r.applies ? 7000 : null, r.name)
    t.same(codes(out), r.messages ?? [], `${r.name}: messages`)
  }
  // A short destination host is resolved in the VirtualService's namespace too.
  const out = run([MESH, vs('other', 'reviews.default.svc.cluster.local', 'reviews')])
  t.same(
    forward(routes(out, 'reviews')[0]!).map((d) => d.hostname),
    ['reviews.other.svc.cluster.local'],
  )
  t.same(codes(out), [TranslationCode.unknownDestination])
})

t.test('VirtualService match details: port filter, headers, uri, rewrite, headers ops, sourceLabels', async (t) => {
  const vs = `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: reviews}
spec:
  hosts: [reviews]
  http:
    - name: other-port
      match: [{port: 1234}]
      route: [{destination: {host: reviews}}]
    - name: by-client
      match: [{sourceLabels: {app: productpage}}]
      route: [{destination: {host: reviews}}]
    - name: jason
      match: [{headers: {End-User: {exact: jason}}, uri: {prefix: /api}}]
      rewrite: {uri: /v2}
      headers: {request: {set: {X-Canary: "yes"}}}
      route: [{destination: {host: reviews}}]
    - route: [{destination: {host: reviews}}]
`
  const out = run([MESH, vs])
  const rs = routes(out, 'reviews')
  t.same(
    rs.map((r) => r.name),
    ['jason', 'VirtualService/default/reviews#3'],
    'port-1234 and sourceLabels routes left out',
  )
  t.same(rs[0]!.matches[0]!.headers, [{ name: 'end-user', match: { kind: 'exact', value: 'jason' } }])
  t.same(rs[0]!.matches[0]!.path, { kind: 'prefix', value: '/api' })
  t.equal(rs[0]!.rewrite!.uriPrefix, '/v2')
  t.same(rs[0]!.headers.request.set, [{ name: 'x-canary', value: 'yes' }])
  t.same(codes(out), [TranslationCode.unsupportedField])
})

t.test('a VirtualService for a Service without a waypoint is reported (ambient ignores it)', async (t) => {
  const out = run([deployment('reviews'), service('reviews'), ...fixture('seed/03-retry-timeout-virtualservice.yaml')])
  t.same(codes(out), [TranslationCode.routeWithoutWaypoint])
  t.same(out.waypoints, [])
})

t.test('HTTPRoute attached to the Service (GAMMA): weights, filters, precedence', async (t) => {
  const route = `apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: reviews}
spec:
  parentRefs: [{group: "", kind: Service, name: reviews, port: 9080}]
  rules:
    - backendRefs: [{name: reviews, port: 9080, weight: 3}, {name: ratings, port: 9080, weight: 1}]
    - matches: [{path: {type: PathPrefix, value: /api/}}]
      filters: [{type: RequestHeaderModifier, requestHeaderModifier: {add: [{name: X-Api, value: "1"}]}}]
      backendRefs: [{name: ratings, port: 9080}]
    - matches: [{path: {type: Exact, value: /health}}]
      filters: [{type: RequestRedirect, requestRedirect: {path: {type: ReplaceFullPath, replaceFullPath: /ok}, statusCode: 302}}]
`
  const out = run([MESH, route])
  const rs = routes(out, 'reviews')
  t.same(
    rs.map((r) => r.matches[0]?.path ?? 'match-all'),
    [{ kind: 'exact', value: '/health' }, { kind: 'pathSeparatedPrefix', value: '/api' }, 'match-all'],
  )
  t.match(rs[0]!.action, { kind: 'redirect', redirect: { path: '/ok', statusCode: 302 } })
  t.same(rs[1]!.headers.request.add, [{ name: 'x-api', value: '1' }])
  t.same(
    forward(rs[2]!).map((d) => [d.hostname, d.weight]),
    [
      ['reviews.default.svc.cluster.local', 3],
      ['ratings.default.svc.cluster.local', 1],
    ],
  )
  t.same(served(out, 'reviews').ports[0]!.routeSource, ['HTTPRoute/default/reviews'])
  t.same(codes(out), [])
})

t.test('the same config gives byte-equal waypoint JSON', async (t) => {
  const yaml = [MESH, ...fixture('seed/01-canary-destinationrule-virtualservice.yaml')]
  t.equal(JSON.stringify(run(yaml).waypoints), JSON.stringify(run(yaml).waypoints))
})
