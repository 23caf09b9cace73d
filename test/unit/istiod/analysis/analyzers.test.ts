// One row per message code: YAML as users write it, and the message it must produce (code, level,
// object, file and the line of the field at fault). Message text is checked only where it is
// Istio's own wording.
import t from 'tap'
import { AMBIENT_SHOP, WAYPOINT, analyzeFiles, lineOf } from './helpers.js'

interface Row {
  readonly name: string
  readonly files: Readonly<Record<string, string>>
  readonly code: string
  readonly level: 'Error' | 'Warning' | 'Info'
  readonly object: string
  readonly file: string
  /** A text on the expected line of `file`. */
  readonly at: string
  readonly message?: RegExp
  readonly translate?: boolean
}

const vs = (host: string, subset?: string) => `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata:
  name: cart
  namespace: shop
spec:
  hosts:
    - cart
  http:
    - route:
        - destination:
            host: ${host}${subset === undefined ? '' : `\n            subset: ${subset}`}
`
const DR = `apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata:
  name: cart
  namespace: shop
spec:
  host: cart
  subsets:
    - name: v1
      labels:
        version: v1
`
/** The shop with its Service labelled to use `name`. */
const shopUsing = (name: string) =>
  AMBIENT_SHOP.replace(
    'kind: Service\nmetadata:\n  name: cart\n  namespace: shop\n',
    `kind: Service\nmetadata:\n  name: cart\n  namespace: shop\n  labels:\n    istio.io/use-waypoint: ${name}\n`,
  )
const policy = (spec: string, ns = 'shop', name = 'cart-policy') => `apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata:
  name: ${name}
  namespace: ${ns}
spec:
${spec}`
const SLEEP_ONLY = policy(`  selector:
    matchLabels:
      app: cart
  action: ALLOW
  rules:
    - from:
        - source:
            principals: ["cluster.local/ns/shop/sa/sleep"]
`)

const rows: Row[] = [
  {
    name: 'VirtualService destination host not found (typo)',
    code: 'IST0101',
    level: 'Error',
    files: { 'shop.yaml': AMBIENT_SHOP, 'vs.yaml': vs('cartz') },
    object: 'VirtualService shop/cart',
    file: 'vs.yaml',
    at: 'host: cartz',
    message: /^Referenced host not found: "cartz"$/,
  },
  {
    name: 'host written name.namespace is read as a full name',
    code: 'IST0101',
    level: 'Error',
    files: { 'shop.yaml': AMBIENT_SHOP, 'vs.yaml': vs('cart.shop') },
    object: 'VirtualService shop/cart',
    file: 'vs.yaml',
    at: 'host: cart.shop',
  },
  {
    name: 'host in a namespace the input does not describe: a Warning',
    code: 'IST0101',
    level: 'Warning',
    files: { 'vs.yaml': vs('ratings.other.svc.cluster.local') },
    object: 'VirtualService shop/cart',
    file: 'vs.yaml',
    at: 'host: ratings',
  },
  {
    name: 'a policy in a namespace the input never creates: a Warning at metadata.namespace',
    code: 'IST0101',
    level: 'Warning',
    files: {
      'shop.yaml': AMBIENT_SHOP,
      'ap.yaml': `apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata:
  name: deny-all
  namespace: shpo
spec: {}
`,
    },
    object: 'AuthorizationPolicy shpo/deny-all',
    file: 'ap.yaml',
    at: 'namespace: shpo',
    message: /^Referenced Namespace not found: "shpo"/,
  },
  {
    name: 'subset referenced but not defined by the DestinationRule',
    code: 'IST0101',
    level: 'Error',
    files: { 'shop.yaml': AMBIENT_SHOP, 'dr.yaml': DR, 'vs.yaml': vs('cart', 'v2') },
    object: 'VirtualService shop/cart',
    file: 'vs.yaml',
    at: 'subset: v2',
    message: /host\+subset in destinationrule not found: "cart\+v2"/,
  },
  {
    name: 'DestinationRule host not found',
    code: 'IST0101',
    level: 'Error',
    files: { 'shop.yaml': AMBIENT_SHOP, 'dr.yaml': DR.replace('host: cart', 'host: carts') },
    object: 'DestinationRule shop/cart',
    file: 'dr.yaml',
    at: 'host: carts',
  },
  {
    name: 'HTTPRoute parentRef to a missing Service and backendRef to a missing Service',
    code: 'IST0101',
    level: 'Error',
    files: {
      'shop.yaml': AMBIENT_SHOP,
      'route.yaml': `apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata:
  name: cart
  namespace: shop
spec:
  parentRefs:
    - group: ""
      kind: Service
      name: checkout
  rules:
    - backendRefs:
        - name: cart
          port: 8080
`,
    },
    object: 'HTTPRoute shop/cart',
    file: 'route.yaml',
    at: 'name: checkout',
    message: /parent Service not found: "shop\/checkout"/,
  },
  {
    name: 'istio.io/use-waypoint names a Gateway that does not exist',
    code: 'IST0101',
    level: 'Error',
    files: { 'shop.yaml': shopUsing('waypoint') },
    object: 'Service shop/cart',
    file: 'shop.yaml',
    at: 'istio.io/use-waypoint',
    message: /waypoint Gateway not found: "shop\/waypoint"/,
  },
  {
    name: 'targetRefs to a missing waypoint Gateway',
    code: 'IST0101',
    level: 'Error',
    files: {
      'shop.yaml': AMBIENT_SHOP,
      'ap.yaml': policy(`  targetRefs:
    - kind: Gateway
      group: gateway.networking.k8s.io
      name: waypoint
  rules:
    - to:
        - operation:
            methods: ["GET"]
`),
    },
    object: 'AuthorizationPolicy shop/cart-policy',
    file: 'ap.yaml',
    at: 'name: waypoint',
  },
  {
    name: 'serviceAccountName without a ServiceAccount: a Warning',
    code: 'IST0101',
    level: 'Warning',
    files: { 'shop.yaml': AMBIENT_SHOP.replace('serviceAccountName: cart', 'serviceAccountName: carts') },
    object: 'Deployment shop/cart',
    file: 'shop.yaml',
    at: 'serviceAccountName: carts',
  },
  {
    name: 'schema error from the parser, located',
    code: 'IST0106',
    level: 'Error',
    files: { 'vs.yaml': vs('cart').replace('    - route:', '    - timeout: soon\n      route:') },
    object: 'VirtualService shop/cart',
    file: 'vs.yaml',
    at: 'timeout: soon',
  },
  {
    name: 'unknown field: a schema warning',
    code: 'IST0133',
    level: 'Warning',
    files: { 'dr.yaml': DR.replace('  host: cart', '  host: cart\n  trafficPolicyy: {}') },
    object: 'DestinationRule shop/cart',
    file: 'dr.yaml',
    at: 'trafficPolicyy',
  },
  {
    name: 'Service port name outside the convention',
    code: 'IST0118',
    level: 'Info',
    files: { 'shop.yaml': AMBIENT_SHOP.replace('- name: http\n', '- name: web\n') },
    object: 'Service shop/cart',
    file: 'shop.yaml',
    at: '- name: web',
  },
  {
    name: 'AuthorizationPolicy selector matching no workload',
    code: 'IST0127',
    level: 'Warning',
    files: { 'shop.yaml': AMBIENT_SHOP, 'ap.yaml': SLEEP_ONLY.replace('app: cart', 'app: kart') },
    object: 'AuthorizationPolicy shop/cart-policy',
    file: 'ap.yaml',
    at: 'matchLabels',
    message: /labels: app=kart/,
  },
  {
    name: 'Service selector matching no workload',
    code: 'IST0127',
    level: 'Warning',
    files: { 'shop.yaml': AMBIENT_SHOP.replace('  selector:\n    app: cart', '  selector:\n    app: kart') },
    object: 'Service shop/cart',
    file: 'shop.yaml',
    at: '  selector:',
  },
  {
    name: 'the same object twice',
    code: 'AMB0002',
    level: 'Error',
    files: { 'a.yaml': DR, 'b.yaml': DR },
    object: 'DestinationRule shop/cart',
    file: 'b.yaml',
    at: 'apiVersion',
  },
  {
    name: 'a kind istiod does not read',
    code: 'AMB0003',
    level: 'Info',
    files: { 'cm.yaml': 'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: settings\ndata:\n  a: b\n' },
    object: 'ConfigMap default/settings',
    file: 'cm.yaml',
    at: 'kind: ConfigMap',
  },
  {
    name: 'HTTP attributes in a policy enforced by ztunnel (Istio status wording)',
    code: 'AMB0101',
    level: 'Warning',
    files: {
      'shop.yaml': AMBIENT_SHOP,
      'ap.yaml': SLEEP_ONLY.replace(
        '  rules:\n',
        '  rules:\n    - to:\n        - operation:\n            methods: ["GET"]\n            paths: ["/cart/*"]\n',
      ),
    },
    object: 'AuthorizationPolicy shop/cart-policy',
    file: 'ap.yaml',
    at: 'rules:',
    message: new RegExp(
      String.raw`^ztunnel does not support HTTP attributes \(found: methods, paths\)\. In ambient mode you must use a waypoint proxy ` +
        String.raw`to enforce HTTP rules\. Within an ALLOW policy, rules matching HTTP attributes are omitted\. ` +
        String.raw`This will be more restrictive than requested\.$`,
    ),
  },
  {
    name: 'AUDIT is not enforced by ztunnel',
    code: 'AMB0102',
    level: 'Warning',
    files: { 'shop.yaml': AMBIENT_SHOP, 'ap.yaml': policy('  action: AUDIT\n  rules:\n    - {}\n') },
    object: 'AuthorizationPolicy shop/cart-policy',
    file: 'ap.yaml',
    at: 'action: AUDIT',
  },
  {
    name: 'principal written with spiffe://',
    code: 'AMB0103',
    level: 'Warning',
    files: { 'shop.yaml': AMBIENT_SHOP, 'ap.yaml': SLEEP_ONLY.replace('"cluster.local', '"spiffe://cluster.local') },
    object: 'AuthorizationPolicy shop/cart-policy',
    file: 'ap.yaml',
    at: 'spiffe://',
  },
  {
    name: 'PeerAuthentication DISABLE in an ambient namespace',
    code: 'AMB0104',
    level: 'Warning',
    files: {
      'shop.yaml': AMBIENT_SHOP,
      'pa.yaml':
        'apiVersion: security.istio.io/v1\nkind: PeerAuthentication\nmetadata:\n  name: default\n  namespace: shop\nspec:\n  mtls:\n    mode: DISABLE\n',
    },
    object: 'PeerAuthentication shop/default',
    file: 'pa.yaml',
    at: 'mode: DISABLE',
  },
  {
    name: 'use-waypoint names a Gateway of another class',
    code: 'AMB0201',
    level: 'Error',
    files: { 'shop.yaml': shopUsing('waypoint'), 'gw.yaml': WAYPOINT.replace('istio-waypoint', 'istio') },
    object: 'Service shop/cart',
    file: 'shop.yaml',
    at: 'istio.io/use-waypoint',
  },
  {
    name: 'a Service using a waypoint for workloads only',
    code: 'AMB0202',
    level: 'Warning',
    files: {
      'shop.yaml': shopUsing('waypoint'),
      'gw.yaml': WAYPOINT.replace('  namespace: shop\n', '  namespace: shop\n  labels:\n    istio.io/waypoint-for: workload\n'),
    },
    object: 'Service shop/cart',
    file: 'shop.yaml',
    at: 'istio.io/use-waypoint',
  },
  {
    name: 'a waypoint nothing uses',
    code: 'AMB0203',
    level: 'Warning',
    files: { 'shop.yaml': AMBIENT_SHOP, 'gw.yaml': WAYPOINT },
    object: 'Gateway shop/waypoint',
    file: 'gw.yaml',
    at: 'apiVersion',
  },
  {
    name: 'workload behind a waypoint whose ALLOW policies do not admit the waypoint',
    code: 'AMB0204',
    level: 'Error',
    files: { 'shop.yaml': shopUsing('waypoint'), 'gw.yaml': WAYPOINT, 'ap.yaml': SLEEP_ONLY },
    object: 'Deployment shop/cart',
    file: 'shop.yaml',
    at: 'apiVersion: apps/v1',
    message: /"cluster\.local\/ns\/shop\/sa\/waypoint"/,
  },
  {
    name: 'a namespace labelled for a waypoint but not in ambient',
    code: 'AMB0205',
    level: 'Warning',
    files: {
      'ns.yaml': 'apiVersion: v1\nkind: Namespace\nmetadata:\n  name: shop\n  labels:\n    istio.io/use-waypoint: waypoint\n',
      'gw.yaml': WAYPOINT,
    },
    object: 'Namespace shop',
    file: 'ns.yaml',
    at: 'istio.io/use-waypoint',
  },
  {
    name: 'a ztunnel policy for workloads none of which is in ambient',
    code: 'AMB0205',
    level: 'Warning',
    files: { 'shop.yaml': AMBIENT_SHOP.replace('    istio.io/dataplane-mode: ambient', '    team: shop'), 'ap.yaml': SLEEP_ONLY },
    object: 'AuthorizationPolicy shop/cart-policy',
    file: 'ap.yaml',
    at: 'apiVersion',
  },
  {
    name: 'targetRefs to a Service that no waypoint serves',
    code: 'AMB0206',
    level: 'Warning',
    files: {
      'shop.yaml': AMBIENT_SHOP,
      'ap.yaml': policy('  targetRefs:\n    - kind: Service\n      group: ""\n      name: cart\n  rules:\n    - {}\n'),
    },
    object: 'AuthorizationPolicy shop/cart-policy',
    file: 'ap.yaml',
    at: '- kind: Service',
  },
  {
    name: 'two VirtualServices for one host (from translation)',
    code: 'IST0109',
    level: 'Error',
    translate: true,
    files: {
      'shop.yaml': shopUsing('waypoint'),
      'gw.yaml': WAYPOINT,
      'vs.yaml': vs('cart'),
      'vs2.yaml': vs('cart').replace('name: cart\n  namespace', 'name: cart-2\n  namespace'),
    },
    object: 'VirtualService shop/cart-2',
    file: 'vs2.yaml',
    at: 'hosts',
  },
]

for (const row of rows) {
  t.test(`${row.code}: ${row.name}`, async (t) => {
    const messages = analyzeFiles(row.files, row.translate === true ? { translate: true } : {})
    const m = messages.find((x) => x.code === row.code && x.object === row.object)
    if (m === undefined) {
      t.fail(`no ${row.code} for ${row.object}`, { found: messages.map((x) => `${x.code} ${x.object ?? ''} ${x.message}`) })
      return
    }
    t.equal(m.level, row.level, 'level')
    t.equal(m.file, row.file, 'file')
    t.equal(m.line, lineOf(row.files[row.file] ?? '', row.at), 'line')
    t.ok(m.fix.length > 0 && !m.fix.includes('\n'), 'a one-line fix')
    if (row.message) t.match(m.message, row.message)
  })
}

t.test('no AMB0204 once an ALLOW admits the waypoint principal', async (t) => {
  const admitting = SLEEP_ONLY.replace(
    '"cluster.local/ns/shop/sa/sleep"',
    '"cluster.local/ns/shop/sa/sleep", "cluster.local/ns/shop/sa/waypoint"',
  )
  const messages = analyzeFiles({ 'shop.yaml': shopUsing('waypoint'), 'gw.yaml': WAYPOINT, 'ap.yaml': admitting })
  t.same(
    messages.filter((m) => m.level !== 'Info').map((m) => m.code),
    [],
  )
  const byNamespace = SLEEP_ONLY.replace('principals: ["cluster.local/ns/shop/sa/sleep"]', 'namespaces: ["shop"]')
  t.same(
    analyzeFiles({ 'shop.yaml': shopUsing('waypoint'), 'gw.yaml': WAYPOINT, 'ap.yaml': byNamespace }).map((m) => m.code),
    [],
    "the waypoint's namespace admits it too",
  )
})

t.test('HTTP attributes are not reported where no ztunnel enforces the policy', async (t) => {
  const notAmbient = AMBIENT_SHOP.replace('    istio.io/dataplane-mode: ambient', '    team: shop')
  const ap = SLEEP_ONLY.replace('  rules:\n', '  rules:\n    - to:\n        - operation:\n            methods: ["GET"]\n')
  t.notOk(analyzeFiles({ 'shop.yaml': notAmbient, 'ap.yaml': ap }).some((m) => m.code === 'AMB0101'))
})

t.test('messages are sorted by file and line, each once', async (t) => {
  const messages = analyzeFiles({
    'shop.yaml': AMBIENT_SHOP,
    'b.yaml': vs('nope'),
    'a.yaml': vs('cartz').replace('name: cart\n  namespace', 'name: other\n  namespace'),
  })
  t.same(
    messages.map((m) => `${m.file}:${m.line}`),
    ['a.yaml:12', 'b.yaml:12'],
  )
})
