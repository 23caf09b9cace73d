// Every kind's valid forms: defaults filled in, durations in ms, older apiVersions accepted, objects
// frozen with their source location.
import t from 'tap'
import { parseDurationMs } from '../../../../src/duration.js'
import type { ConfigObject, Kind, ObjectsByKind } from '../../../../src/istiod/resources/model.js'
import { parseConfigText } from '../../../../src/istiod/resources/parse.js'

function only<K extends Kind>(kind: K, yaml: string): ObjectsByKind[K] {
  const r = parseConfigText(yaml, 'test.yaml')
  if (r.messages.length > 0) throw new Error(`unexpected messages: ${JSON.stringify(r.messages)}`)
  const obj = r.objects[0] as ConfigObject | undefined
  if (obj?.kind !== kind) throw new Error(`expected one ${kind}, got ${JSON.stringify(r.objects)}`)
  return obj as ObjectsByKind[K]
}

t.test('durations in Istio and Gateway API forms', async (t) => {
  const table: [string, number | undefined][] = [
    ['5s', 5000],
    ['100ms', 100],
    ['1m', 60_000],
    ['1.5s', 1500],
    ['1h30m', 5_400_000],
    ['0', 0],
    ['.5s', 500],
    ['250us', 0.25],
    ['5', undefined],
    ['', undefined],
    ['5 s', undefined],
    ['-1s', undefined],
    ['1d', undefined],
    ['s', undefined],
  ]
  for (const [text, ms] of table) t.equal(parseDurationMs(text), ms, JSON.stringify(text))
})

t.test('Namespace and ServiceAccount; namespace defaults to default', async (t) => {
  const ns = only(
    'Namespace',
    'apiVersion: v1\nkind: Namespace\nmetadata:\n  name: bookinfo\n  namespace: ignored\n' +
      '  labels: {istio.io/dataplane-mode: ambient, istio.io/use-waypoint: wp}\n',
  )
  t.same(ns.metadata, {
    name: 'bookinfo',
    namespace: '',
    labels: { 'istio.io/dataplane-mode': 'ambient', 'istio.io/use-waypoint': 'wp' },
    annotations: {},
  })
  const sa = only('ServiceAccount', 'apiVersion: v1\nkind: ServiceAccount\nmetadata: {name: curl}\n')
  t.equal(sa.metadata.namespace, 'default')
  t.same(sa.source, { file: 'test.yaml', docIndex: 0, line: 1 })
  t.ok(Object.isFrozen(sa) && Object.isFrozen(sa.metadata) && Object.isFrozen(sa.metadata.labels), 'deeply frozen')
})

t.test('Pod: nodeName, status.podIP, serviceAccountName default, unknown Kubernetes fields ignored', async (t) => {
  const pod = only(
    'Pod',
    `apiVersion: v1
kind: Pod
metadata: {name: web-0, namespace: shop, labels: {app: web}, uid: 1234, resourceVersion: "9"}
spec:
  nodeName: node-2
  restartPolicy: Always
  containers:
    - name: web
      image: nginx:1.27
      resources: {limits: {cpu: 100m}}
      ports: [{name: http, containerPort: 8080}, {containerPort: 53, protocol: UDP}]
status:
  phase: Running
  podIP: 10.244.1.7
`,
  )
  t.same(pod.spec, {
    containers: [
      {
        name: 'web',
        image: 'nginx:1.27',
        ports: [
          { name: 'http', containerPort: 8080, protocol: 'TCP' },
          { containerPort: 53, protocol: 'UDP' },
        ],
      },
    ],
    serviceAccountName: 'default',
    nodeName: 'node-2',
  })
  t.same(pod.status, { podIP: '10.244.1.7' })
  const bare = only(
    'Pod',
    'apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n  serviceAccount: legacy\n  containers: [{name: a, image: b}]\n',
  )
  t.same(bare.status, {})
  t.notOk('nodeName' in bare.spec, 'absent optional fields are absent keys')
  t.equal(bare.spec.serviceAccountName, 'legacy', 'the deprecated serviceAccount alias')
})

t.test('Deployment: replicas default 1, 0 allowed, template labels', async (t) => {
  const yaml = (replicas: string) => `apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
${replicas}  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web, version: v1}, annotations: {a: b}}
    spec: {containers: [{name: web, image: web:1}]}
`
  const d = only('Deployment', yaml(''))
  t.equal(d.spec.replicas, 1)
  t.same(d.spec.template.metadata, { labels: { app: 'web', version: 'v1' }, annotations: { a: 'b' } })
  t.equal(only('Deployment', yaml('  replicas: 0\n')).spec.replicas, 0)
})

t.test('Service: targetPort by number, name or default; headless; no selector', async (t) => {
  const s = only(
    'Service',
    `apiVersion: v1
kind: Service
metadata: {name: web}
spec:
  clusterIP: None
  selector: {app: web}
  ports:
    - {name: http, port: 80, targetPort: http-alt, appProtocol: http}
    - {port: 443, targetPort: 8443}
    - {port: 9080}
    - {port: 53, protocol: UDP, targetPort: "5353"}
`,
  )
  t.same(s.spec.ports, [
    { name: 'http', port: 80, targetPort: 'http-alt', protocol: 'TCP', appProtocol: 'http' },
    { port: 443, targetPort: 8443, protocol: 'TCP' },
    { port: 9080, targetPort: 9080, protocol: 'TCP' },
    { port: 53, targetPort: 5353, protocol: 'UDP' },
  ])
  t.equal(s.spec.clusterIP, 'None')
  t.equal(s.spec.type, 'ClusterIP')
  const external = only('Service', 'apiVersion: v1\nkind: Service\nmetadata: {name: ext}\nspec: {ports: [{port: 80}]}\n')
  t.notOk('selector' in external.spec)
})

t.test('AuthorizationPolicy: selector, targetRefs, rules, when, v1beta1', async (t) => {
  const ap = only(
    'AuthorizationPolicy',
    `apiVersion: security.istio.io/v1beta1
kind: AuthorizationPolicy
metadata: {name: p, namespace: ns1}
spec:
  action: DENY
  targetRefs: [{kind: Service, group: "", name: reviews}]
  rules:
    - from: [{source: {namespaces: [other], notIpBlocks: [10.0.0.0/8, "::1"]}}]
      to: [{operation: {ports: ["8080", 9090], methods: [POST]}}]
      when: [{key: "request.headers[x-user]", values: [bob]}, {key: destination.port, notValues: [22]}]
    - {}
`,
  )
  t.same(ap.spec, {
    action: 'DENY',
    targetRefs: [{ kind: 'Service', group: '', name: 'reviews' }],
    rules: [
      {
        from: [{ source: { namespaces: ['other'], notIpBlocks: ['10.0.0.0/8', '::1'] } }],
        to: [{ operation: { ports: ['8080', 9090], methods: ['POST'] } }],
        when: [
          { key: 'request.headers[x-user]', values: ['bob'] },
          { key: 'destination.port', notValues: [22] },
        ],
      },
      {},
    ],
  })
  const sel = only(
    'AuthorizationPolicy',
    'apiVersion: security.istio.io/v1\nkind: AuthorizationPolicy\nmetadata: {name: p}\nspec: {selector: {}, action: CUSTOM, provider: {name: ext}}\n',
  )
  t.same(sel.spec, { selector: { matchLabels: {} }, action: 'CUSTOM', provider: { name: 'ext' } })
  t.same(
    only('AuthorizationPolicy', 'apiVersion: security.istio.io/v1\nkind: AuthorizationPolicy\nmetadata: {name: p}\n').spec,
    {},
    'no spec = spec: {}',
  )
})

t.test('PeerAuthentication: modes, selector, portLevelMtls', async (t) => {
  const pa = only(
    'PeerAuthentication',
    `apiVersion: security.istio.io/v1beta1
kind: PeerAuthentication
metadata: {name: p, namespace: istio-system}
spec:
  selector: {matchLabels: {app: db}}
  mtls: {mode: PERMISSIVE}
  portLevelMtls:
    5432: {mode: STRICT}
    "9000": {mode: DISABLE}
`,
  )
  t.same(pa.spec, {
    selector: { matchLabels: { app: 'db' } },
    mtls: { mode: 'PERMISSIVE' },
    portLevelMtls: { 5432: { mode: 'STRICT' }, 9000: { mode: 'DISABLE' } },
  })
  t.same(
    only('PeerAuthentication', 'apiVersion: security.istio.io/v1\nkind: PeerAuthentication\nmetadata: {name: d}\nspec: {}\n').spec.mtls,
    { mode: 'UNSET' },
  )
})

t.test('VirtualService: matches, rewrite, headers, redirect, tcp; v1alpha3', async (t) => {
  const vs = only(
    'VirtualService',
    `apiVersion: networking.istio.io/v1alpha3
kind: VirtualService
metadata: {name: r}
spec:
  hosts: [reviews.default.svc.cluster.local]
  http:
    - name: jason
      match:
        - uri: {prefix: /api}
          method: {exact: GET}
          headers: {End-User: {exact: jason}}
          queryParams: {v: {regex: "^[0-9]+$"}}
          port: 9080
      rewrite: {uri: /v2}
      headers:
        request: {set: {x-a: "1"}, remove: [x-b]}
        response: {add: {x-c: c}}
      route:
        - destination: {host: reviews, subset: v2, port: {number: 9080}}
          headers: {request: {set: {x-d: d}}}
    - redirect: {uri: /new, redirectCode: 308}
  tcp:
    - match: [{port: 3306}]
      route: [{destination: {host: db}}]
`,
  )
  const [first, second] = vs.spec.http
  t.match(first, {
    name: 'jason',
    match: [
      {
        uri: { kind: 'prefix', value: '/api' },
        method: { kind: 'exact', value: 'GET' },
        headers: { 'end-user': { kind: 'exact', value: 'jason' } },
        queryParams: { v: { kind: 'regex', value: '^[0-9]+$' } },
        port: 9080,
        ignoreUriCase: false,
      },
    ],
    rewrite: { uri: '/v2' },
    headers: { request: { set: { 'x-a': '1' }, add: {}, remove: ['x-b'] }, response: { add: { 'x-c': 'c' } } },
    route: [{ destination: { host: 'reviews', subset: 'v2', port: 9080 }, headers: { request: { set: { 'x-d': 'd' } } } }],
  })
  t.same(second?.redirect, { uri: '/new', redirectCode: 308 })
  t.same(vs.spec.tcp, [
    { match: [{ destinationSubnets: [], port: 3306, sourceLabels: {}, gateways: [] }], route: [{ destination: { host: 'db' } }] },
  ])
})

t.test('DestinationRule: load balancer, LEAST_CONN alias, TLS, subsets with policy, port-level settings', async (t) => {
  const dr = only(
    'DestinationRule',
    `apiVersion: networking.istio.io/v1beta1
kind: DestinationRule
metadata: {name: d}
spec:
  host: reviews
  trafficPolicy:
    loadBalancer: {simple: LEAST_CONN}
    tls: {mode: ISTIO_MUTUAL}
    connectionPool: {tcp: {connectTimeout: 250ms}, http: {idleTimeout: 1m, maxRetries: 3}}
    outlierDetection: {consecutiveGatewayErrors: 2, interval: 5m, baseEjectionTime: 15m}
    portLevelSettings:
      - port: {number: 9080}
        loadBalancer: {simple: RANDOM}
  subsets:
    - name: v1
      labels: {version: v1}
      trafficPolicy: {loadBalancer: {simple: ROUND_ROBIN}}
`,
  )
  t.match(dr.spec.trafficPolicy, {
    loadBalancer: { simple: 'LEAST_REQUEST' },
    tls: { mode: 'ISTIO_MUTUAL' },
    connectionPool: { tcp: { connectTimeoutMs: 250 }, http: { idleTimeoutMs: 60_000, maxRetries: 3 } },
    outlierDetection: { consecutiveGatewayErrors: 2, intervalMs: 300_000, baseEjectionTimeMs: 900_000 },
    portLevelSettings: [{ port: 9080, loadBalancer: { simple: 'RANDOM' } }],
  })
  t.match(dr.spec.subsets, [{ name: 'v1', labels: { version: 'v1' }, trafficPolicy: { loadBalancer: { simple: 'ROUND_ROBIN' } } }])
})

t.test('Gateway (waypoint) and HTTPRoute with a Service parent (GAMMA)', async (t) => {
  const gw = only(
    'Gateway',
    `apiVersion: gateway.networking.k8s.io/v1beta1
kind: Gateway
metadata: {name: waypoint, labels: {istio.io/waypoint-for: all}}
spec:
  gatewayClassName: istio-waypoint
  listeners: [{name: mesh, port: 15008, protocol: HBONE}]
`,
  )
  t.same(gw.spec, { gatewayClassName: 'istio-waypoint', listeners: [{ name: 'mesh', port: 15008, protocol: 'HBONE' }], addresses: [] })
  t.equal(gw.metadata.labels['istio.io/waypoint-for'], 'all')
  const route = only(
    'HTTPRoute',
    `apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: reviews}
spec:
  parentRefs: [{group: "", kind: Service, name: reviews, port: 9080}]
  rules:
    - matches:
        - path: {type: Exact, value: /reviews/1}
          headers: [{name: x-canary, value: "yes"}]
          method: GET
      filters:
        - type: RequestHeaderModifier
          requestHeaderModifier: {set: [{name: x-a, value: b}], remove: [x-c]}
        - type: URLRewrite
          urlRewrite: {path: {type: ReplacePrefixMatch, replacePrefixMatch: /v2}}
      backendRefs:
        - {name: reviews-v1, port: 9080, weight: 90}
        - {name: reviews-v2, port: 9080}
      timeouts: {request: 10s, backendRequest: 500ms}
    - backendRefs: [{name: reviews, port: 9080}]
`,
  )
  t.same(route.spec.parentRefs, [{ group: '', kind: 'Service', name: 'reviews', port: 9080 }])
  const [r0, r1] = route.spec.rules
  t.same(r0?.matches, [
    {
      path: { type: 'Exact', value: '/reviews/1' },
      headers: [{ type: 'Exact', name: 'x-canary', value: 'yes' }],
      queryParams: [],
      method: 'GET',
    },
  ])
  t.same(r0?.filters, [
    { type: 'RequestHeaderModifier', requestHeaderModifier: { set: [{ name: 'x-a', value: 'b' }], add: [], remove: ['x-c'] } },
    { type: 'URLRewrite', urlRewrite: { path: { type: 'ReplacePrefixMatch', replacePrefixMatch: '/v2' } } },
  ])
  t.same(
    r0?.backendRefs.map((b) => [b.kind, b.name, b.weight]),
    [
      ['Service', 'reviews-v1', 90],
      ['Service', 'reviews-v2', 1],
    ],
  )
  t.same(r0?.timeouts, { requestMs: 10_000, backendRequestMs: 500 })
  t.same(r1?.matches, [], 'no matches: the Gateway API default applies downstream')
  const toGw = only(
    'HTTPRoute',
    'apiVersion: gateway.networking.k8s.io/v1\nkind: HTTPRoute\nmetadata: {name: r}\nspec: {parentRefs: [{name: gw}]}\n',
  )
  t.same(toGw.spec.parentRefs, [{ group: 'gateway.networking.k8s.io', kind: 'Gateway', name: 'gw' }])
})

t.test('a kubectl List dump is read item by item', async (t) => {
  const r = parseConfigText(
    `apiVersion: v1
kind: List
items:
  - {apiVersion: v1, kind: ServiceAccount, metadata: {name: a}}
  - apiVersion: v1
    kind: Pod
    metadata: {name: p}
    spec: {containers: [{name: c, image: i}]}
    status: {podIP: 10.1.2.3}
`,
    'dump.yaml',
  )
  t.same(r.messages, [])
  t.same(
    r.objects.map((o) => [o.kind, o.metadata.name, o.source.line]),
    [
      ['ServiceAccount', 'a', 4],
      ['Pod', 'p', 5],
    ],
  )
})
