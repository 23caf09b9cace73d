// Table tests for AuthorizationPolicy → ztunnel Authorization (src/authz/from-authorization-policy.ts).
// Inputs are YAML as users write it, parsed with the `yaml` package.
import t from 'tap'
import { parse, parseAllDocuments } from 'yaml'
import { SpiffeId } from '../../../src/identity/spiffe-id.js'
import {
  AuthzWarningCode,
  fromAuthorizationPolicy,
  matchLabels,
  selectsWorkload,
  toStringMatch,
  type AuthorizationPolicyResource,
  type Conversion,
  type ConversionOptions,
} from '../../../src/authz/from-authorization-policy.js'
import { authorize } from '../../../src/authz/rbac.js'
import { match, type Authorization, type Match, type Rule } from '../../../src/authz/policy.js'

const convert = (doc: string, o?: ConversionOptions): Conversion => fromAuthorizationPolicy(parse(doc) as AuthorizationPolicyResource, o)
const rule = (...clauses: Partial<Match>[][]): Rule => ({ clauses: clauses.map((ms) => ({ matches: ms.map(match) })) })
const codes = (c: Conversion) => c.warnings.map((w) => w.code)
const ap = (spec: string, meta = 'name: p\n  namespace: ns') =>
  `apiVersion: security.istio.io/v1\nkind: AuthorizationPolicy\nmetadata:\n  ${meta}\nspec:\n${spec}`

const HTTP_ALLOW = (found: string) =>
  `ztunnel does not support HTTP attributes (found: ${found}). In ambient mode you must use a ` +
  `waypoint proxy to enforce HTTP rules. Within an ALLOW policy, rules matching HTTP attributes are ` +
  `omitted. This will be more restrictive than requested.`
const HTTP_DENY = (found: string) =>
  `ztunnel does not support HTTP attributes (found: ${found}). In ambient mode you must use a ` +
  `waypoint proxy to enforce HTTP rules. DENY policy with HTTP attributes is enforced without the HTTP ` +
  `rules. This will be more restrictive than requested.`

// The seed document's two AuthorizationPolicy examples, verbatim (section 3.3).
const SEED = `
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata:
  name: allow-reviews
  namespace: default
spec:
  selector:
    matchLabels:
      app: reviews
  action: ALLOW
  rules:
    - from:
        - source:
            principals: [ "cluster.local/ns/default/sa/bookinfo-productpage" ]
      to:
        - operation:
            methods: [ "GET" ]
            paths: [ "/reviews/*" ]
---
# 네임스페이스 DENY-ALL 기본 정책
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata:
  name: deny-all
  namespace: default
spec: { }
`

interface Row {
  name: string
  yaml: string
  options?: ConversionOptions
  /** Expected Authorization fields (compared with t.same), or undefined for "nothing for ztunnel". */
  want: Partial<Authorization> | undefined
  warnings?: string[]
  message?: string
}

const rows: Row[] = [
  // --- scope ---
  {
    name: 'selector → WORKLOAD_SELECTOR',
    yaml: ap('  selector:\n    matchLabels: {app: a}'),
    want: { scope: 'WORKLOAD_SELECTOR', action: 'ALLOW', rules: [] },
    warnings: [],
  },
  { name: 'empty selector {} is still a selector', yaml: ap('  selector: {}'), want: { scope: 'WORKLOAD_SELECTOR' } },
  { name: 'selector: null → NAMESPACE', yaml: ap('  selector: null'), want: { scope: 'NAMESPACE' } },
  {
    name: 'no selector → NAMESPACE',
    yaml: ap('  action: DENY\n  rules: [{}]'),
    want: { scope: 'NAMESPACE', action: 'DENY', rules: [{ clauses: [] }] },
  },
  {
    name: 'no selector in istio-system → GLOBAL',
    yaml: ap('  {}', 'name: p\n  namespace: istio-system'),
    want: { scope: 'GLOBAL', namespace: 'istio-system' },
  },
  {
    name: 'selector in the root namespace stays WORKLOAD_SELECTOR',
    yaml: ap('  selector: {matchLabels: {a: b}}', 'name: p\n  namespace: istio-system'),
    want: { scope: 'WORKLOAD_SELECTOR' },
  },
  {
    name: 'configurable root namespace',
    yaml: ap('  {}', 'name: p\n  namespace: mesh-root'),
    options: { rootNamespace: 'mesh-root' },
    want: { scope: 'GLOBAL' },
  },
  {
    name: 'istio-system is not root when another is configured',
    yaml: ap('  {}', 'name: p\n  namespace: istio-system'),
    options: { rootNamespace: 'mesh-root' },
    want: { scope: 'NAMESPACE' },
  },
  // --- not for ztunnel ---
  {
    name: 'targetRefs → waypoint only',
    yaml: ap('  targetRefs:\n  - kind: Gateway\n    group: gateway.networking.k8s.io\n    name: waypoint\n  rules: [{}]'),
    want: undefined,
    warnings: [AuthzWarningCode.waypointOnly],
  },
  {
    name: 'targetRef (singular) → waypoint only',
    yaml: ap('  targetRef:\n    kind: Service\n    name: reviews'),
    want: undefined,
    warnings: [AuthzWarningCode.waypointOnly],
  },
  {
    name: 'targetRefs: [] is not a target',
    yaml: ap('  targetRefs: []\n  rules: [{}]'),
    want: { scope: 'NAMESPACE', rules: [{ clauses: [] }] },
  },
  {
    name: 'AUDIT is not enforced by ztunnel',
    yaml: ap('  action: AUDIT\n  rules: [{}]'),
    want: undefined,
    warnings: [AuthzWarningCode.unsupportedAction],
    message: 'ztunnel does not support the AUDIT action',
  },
  {
    name: 'CUSTOM is not enforced by ztunnel',
    yaml: ap('  action: CUSTOM\n  provider: {name: ext-authz}\n  rules: [{}]'),
    want: undefined,
    warnings: [AuthzWarningCode.unsupportedAction],
    message: 'ztunnel does not support the CUSTOM action',
  },
  {
    name: 'targetRefs is checked before the action',
    yaml: ap('  action: AUDIT\n  targetRefs: [{kind: Gateway, name: w}]'),
    want: undefined,
    warnings: [AuthzWarningCode.waypointOnly],
  },
  // --- empty forms ---
  { name: 'spec: {} = ALLOW with no rules (allow nothing)', yaml: ap('  {}'), want: { action: 'ALLOW', rules: [], dryRun: false } },
  { name: 'rules: [{}] = a rule with no clauses (everything)', yaml: ap('  rules: [{}]'), want: { rules: [{ clauses: [] }] } },
  { name: 'rules: [] = no rules', yaml: ap('  rules: []'), want: { rules: [] } },
  {
    name: 'to: [{operation: {}}] = a clause with one empty match',
    yaml: ap('  rules: [{to: [{operation: {}}]}]'),
    want: { rules: [rule([{}])] },
  },
  // --- to / from / when ---
  {
    name: 'to: ports and notPorts, every to in one clause',
    yaml: ap('  rules:\n  - to:\n    - operation: {ports: ["8080", "9090"]}\n    - operation: {notPorts: ["22"]}'),
    want: { rules: [rule([{ destinationPorts: [8080, 9090] }, { notDestinationPorts: [22] }])] },
  },
  {
    name: 'from: every L4 source field',
    yaml: ap(
      '  rules:\n  - from:\n    - source:\n        principals: ["cluster.local/ns/a/sa/b"]\n' +
        '        notPrincipals: ["*/sa/evil"]\n        namespaces: ["a*"]\n        notNamespaces: ["*"]\n' +
        '        ipBlocks: ["10.0.0.0/8", "fd00::1"]\n        notIpBlocks: ["10.1.0.0/16"]\n' +
        '        serviceAccounts: ["other/sa1", "sa2"]\n        notServiceAccounts: ["sa3"]',
    ),
    want: {
      rules: [
        rule([
          {
            principals: [{ exact: 'cluster.local/ns/a/sa/b' }],
            notPrincipals: [{ suffix: '/sa/evil' }],
            namespaces: [{ prefix: 'a' }],
            notNamespaces: [{ presence: true }],
            sourceIps: [
              { address: '10.0.0.0', length: 8 },
              { address: 'fd00::1', length: 128 },
            ],
            notSourceIps: [{ address: '10.1.0.0', length: 16 }],
            serviceAccounts: [
              { namespace: 'other', serviceAccount: 'sa1' },
              { namespace: 'ns', serviceAccount: 'sa2' },
            ],
            notServiceAccounts: [{ namespace: 'ns', serviceAccount: 'sa3' }],
          },
        ]),
      ],
    },
    warnings: [],
  },
  {
    name: 'clause order is to, from, then each when',
    yaml: ap(
      '  rules:\n  - from: [{source: {namespaces: [a]}}, {source: {namespaces: [b]}}]\n' +
        '    to: [{operation: {ports: ["80"]}}]\n    when: [{key: source.ip, values: ["1.2.3.4"]}]',
    ),
    want: {
      rules: [
        rule(
          [{ destinationPorts: [80] }],
          [{ namespaces: [{ exact: 'a' }] }, { namespaces: [{ exact: 'b' }] }],
          [{ sourceIps: [{ address: '1.2.3.4', length: 32 }] }],
        ),
      ],
    },
  },
  {
    name: 'when: the five L4 keys with values and notValues',
    yaml: ap(
      '  rules:\n  - when:\n    - {key: source.ip, values: ["10.0.0.0/8"], notValues: ["10.0.0.1"]}\n' +
        '    - {key: source.namespace, values: ["a"], notValues: ["b*"]}\n' +
        '    - {key: source.principal, values: ["*"], notValues: ["cluster.local/ns/x/sa/y"]}\n' +
        '    - {key: destination.ip, values: ["::ffff:10.0.0.0/104"], notValues: ["10.0.0.9"]}\n' +
        '    - {key: destination.port, values: ["80"], notValues: ["81"]}',
    ),
    want: {
      rules: [
        rule(
          [{ sourceIps: [{ address: '10.0.0.0', length: 8 }], notSourceIps: [{ address: '10.0.0.1', length: 32 }] }],
          [{ namespaces: [{ exact: 'a' }], notNamespaces: [{ prefix: 'b' }] }],
          [{ principals: [{ presence: true }], notPrincipals: [{ exact: 'cluster.local/ns/x/sa/y' }] }],
          [{ destinationIps: [{ address: '10.0.0.0', length: 8 }], notDestinationIps: [{ address: '10.0.0.9', length: 32 }] }],
          [{ destinationPorts: [80], notDestinationPorts: [81] }],
        ),
      ],
    },
    warnings: [],
  },
  // --- HTTP attributes: ALLOW drops the rule, DENY removes the attributes ---
  {
    name: 'ALLOW: rule with methods is dropped',
    yaml: ap('  rules:\n  - to: [{operation: {methods: [GET], ports: ["80"]}}]\n  - from: [{source: {namespaces: [a]}}]'),
    want: { rules: [rule([{ namespaces: [{ exact: 'a' }] }])] },
    warnings: [AuthzWarningCode.httpAttributes],
    message: HTTP_ALLOW('methods'),
  },
  {
    name: 'ALLOW: rule with an HTTP when key is dropped',
    yaml: ap(
      '  rules:\n  - from: [{source: {principals: ["cluster.local/ns/a/sa/b"]}}]\n    when: [{key: "request.headers[x-user]", values: [alice]}]',
    ),
    want: { rules: [] },
    message: HTTP_ALLOW('request.headers[x-user]'),
  },
  {
    name: 'ALLOW: requestPrincipals and remoteIpBlocks drop the rule',
    yaml: ap('  rules:\n  - from: [{source: {requestPrincipals: ["*"], notRemoteIpBlocks: ["1.2.3.4"]}}]'),
    want: { rules: [] },
    message: HTTP_ALLOW('notRemoteIpBlocks, requestPrincipals'),
  },
  {
    name: 'found list is sorted and deduplicated across rules',
    yaml: ap(
      '  rules:\n  - to: [{operation: {paths: ["/a"], notHosts: [x]}}]\n' +
        '  - to: [{operation: {paths: ["/b"], methods: [GET], notMethods: [PUT], hosts: [h], ' +
        'notPaths: ["/c"]}}]',
    ),
    want: { rules: [] },
    message: HTTP_ALLOW('hosts, methods, notHosts, notMethods, notPaths, paths'),
  },
  {
    name: "Istio's own example: methods, request.auth.presenter, requestPrincipals",
    yaml: ap(
      '  rules:\n  - from: [{source: {requestPrincipals: ["example.com/sub-1"]}}]\n' +
        '    to: [{operation: {methods: [GET]}}]\n    when: [{key: request.auth.presenter, values: ' +
        '[presenter.example.com]}]',
    ),
    want: { rules: [] },
    message: HTTP_ALLOW('methods, request.auth.presenter, requestPrincipals'),
  },
  {
    name: 'source.serviceAccount is not an L4 when key (istiod list)',
    yaml: ap('  rules:\n  - when: [{key: source.serviceAccount, values: [a]}]'),
    want: { rules: [] },
    message: HTTP_ALLOW('source.serviceAccount'),
  },
  {
    name: 'DENY: methods removed, ports kept (denies the whole port)',
    yaml: ap('  action: DENY\n  rules:\n  - to: [{operation: {methods: [POST], ports: ["8080"]}}]'),
    want: { action: 'DENY', rules: [rule([{ destinationPorts: [8080] }])] },
    warnings: [AuthzWarningCode.httpAttributes],
    message: HTTP_DENY('methods'),
  },
  {
    name: 'DENY: only methods leaves an empty match (never matches)',
    yaml: ap('  action: DENY\n  rules:\n  - to: [{operation: {methods: [GET]}}]'),
    want: { rules: [rule([{}])] },
    message: HTTP_DENY('methods'),
  },
  {
    name: 'DENY: HTTP when key becomes an empty-match clause',
    yaml: ap(
      '  action: DENY\n  rules:\n  - from: [{source: {namespaces: [a]}}]\n    when: [{key: "request.auth.claims[iss]", values: [x]}]',
    ),
    want: { rules: [rule([{ namespaces: [{ exact: 'a' }] }], [{}])] },
    message: HTTP_DENY('request.auth.claims[iss]'),
  },
  {
    name: 'DENY: requestPrincipals removed, principals kept',
    yaml: ap('  action: DENY\n  rules:\n  - from: [{source: {principals: ["*"], requestPrincipals: ["*"]}}]'),
    want: { rules: [rule([{ principals: [{ presence: true }] }])] },
    message: HTTP_DENY('requestPrincipals'),
  },
  // --- what istiod drops silently (we warn) ---
  {
    name: 'invalid ports are dropped with a warning',
    yaml: ap('  rules:\n  - to: [{operation: {ports: ["http", "80", "70000", "-1"]}}]'),
    want: { rules: [rule([{ destinationPorts: [80] }])] },
    warnings: [AuthzWarningCode.invalidPort, AuthzWarningCode.invalidPort, AuthzWarningCode.invalidPort],
  },
  {
    name: 'numeric YAML ports are read as text',
    yaml: ap('  rules:\n  - to: [{operation: {ports: [8080]}}]'),
    want: { rules: [rule([{ destinationPorts: [8080] }])] },
    warnings: [],
  },
  {
    name: 'invalid IP blocks are dropped with a warning',
    yaml: ap('  rules:\n  - from: [{source: {ipBlocks: ["10.0.0.0/33", "nope", "10.0.0.1", "010.0.0.1", ""]}}]'),
    want: { rules: [rule([{ sourceIps: [{ address: '10.0.0.1', length: 32 }] }])] },
    warnings: [AuthzWarningCode.invalidIpBlock, AuthzWarningCode.invalidIpBlock, AuthzWarningCode.invalidIpBlock],
  },
  {
    name: 'principal written with spiffe:// is kept and warned about',
    yaml: ap('  rules:\n  - from: [{source: {principals: ["spiffe://cluster.local/ns/a/sa/b"]}}]'),
    want: { rules: [rule([{ principals: [{ exact: 'spiffe://cluster.local/ns/a/sa/b' }] }])] },
    warnings: [AuthzWarningCode.spiffePrincipal],
  },
  // --- dry run ---
  {
    name: 'istio.io/dry-run: "true" → dryRun',
    yaml: ap('  rules: [{}]', 'name: p\n  namespace: ns\n  annotations: {istio.io/dry-run: "true"}'),
    want: { dryRun: true },
  },
  {
    name: 'istio.io/dry-run: "false" → enforced',
    yaml: ap('  rules: [{}]', 'name: p\n  namespace: ns\n  annotations: {istio.io/dry-run: "false"}'),
    want: { dryRun: false },
  },
]

t.test('fromAuthorizationPolicy: conversion table', async (t) => {
  t.ok(rows.length >= 35, `${rows.length} rows`)
  for (const row of rows) {
    t.test(row.name, async (tt) => {
      const c = convert(row.yaml, row.options)
      if (row.want === undefined) tt.equal(c.authorization, undefined, 'nothing for ztunnel')
      else tt.match(c.authorization, row.want, 'authorization')
      if (row.want?.rules) tt.same(c.authorization?.rules, row.want.rules, 'rules exactly')
      if (row.warnings) tt.same(codes(c), row.warnings, 'warning codes')
      if (row.message) tt.equal(c.warnings[0]?.message, row.message, 'Istio status text')
      if (c.authorization) tt.ok(Object.isFrozen(c.authorization) && Object.isFrozen(c.authorization.rules), 'frozen')
    })
  }
})

t.test("the seed document's AuthorizationPolicy examples convert", async (t) => {
  const docs = parseAllDocuments(SEED).map((d) => d.toJS() as AuthorizationPolicyResource)
  t.equal(docs.length, 2)
  const [allowReviews, denyAll] = docs.map((d) => fromAuthorizationPolicy(d)) as [Conversion, Conversion]

  // allow-reviews: the only rule has methods/paths, so ztunnel gets an ALLOW with no rules.
  t.match(allowReviews.authorization, {
    name: 'allow-reviews',
    namespace: 'default',
    scope: 'WORKLOAD_SELECTOR',
    action: 'ALLOW',
    dryRun: false,
  })
  t.same(allowReviews.authorization?.rules, [])
  t.same(allowReviews.warnings, [
    { code: AuthzWarningCode.httpAttributes, path: 'spec.rules', message: HTTP_ALLOW('methods, paths'), istioReason: 'UnsupportedValue' },
  ])
  const productpage = {
    srcIdentity: SpiffeId.parse('spiffe://cluster.local/ns/default/sa/bookinfo-productpage'),
    srcIp: '10.0.0.1',
    dstIp: '10.0.0.2',
    dstPort: 9080,
  }
  t.equal(
    authorize(productpage, [allowReviews.authorization!]).reason,
    'allow policies exist, but none allowed',
    'even productpage is refused at ztunnel',
  )
  t.ok(selectsWorkload(docs[0]!, { namespace: 'default', labels: { app: 'reviews', version: 'v1' } }))
  t.notOk(selectsWorkload(docs[0]!, { namespace: 'default', labels: { app: 'ratings' } }))

  // deny-all: `spec: { }` is an ALLOW with no rules for the whole namespace.
  t.same(denyAll.authorization, { name: 'deny-all', namespace: 'default', scope: 'NAMESPACE', action: 'ALLOW', rules: [], dryRun: false })
  t.same(denyAll.warnings, [])
  t.equal(authorize(productpage, [denyAll.authorization!]).allowed, false)
})

t.test('converted policies evaluate as istiod + ztunnel would', async (t) => {
  const a = SpiffeId.of({ namespace: 'a', serviceAccount: 'client' })
  const conn = { srcIdentity: a, srcIp: '10.0.0.1', dstIp: '10.0.0.2', dstPort: 8080 }
  const only = (doc: string) => convert(doc).authorization!
  const cases: [string, string, boolean][] = [
    ['DENY with only methods never fires (more permissive)', ap('  action: DENY\n  rules: [{to: [{operation: {methods: [GET]}}]}]'), true],
    [
      'DENY with methods + port denies the whole port (more restrictive)',
      ap('  action: DENY\n  rules: [{to: [{operation: {methods: [GET], ports: ["8080"]}}]}]'),
      false,
    ],
    [
      'DENY with namespaces + HTTP when never fires',
      ap('  action: DENY\n  rules: [{from: [{source: {namespaces: [a]}}], when: [{key: "request.headers[x]", values: [y]}]}]'),
      true,
    ],
    [
      'ALLOW serviceAccounts in the policy namespace',
      ap('  rules: [{from: [{source: {serviceAccounts: [client]}}]}]', 'name: p\n  namespace: a'),
      true,
    ],
    [
      "ALLOW serviceAccounts default to the policy namespace, not the peer's",
      ap('  rules: [{from: [{source: {serviceAccounts: [client]}}]}]'),
      false,
    ],
    ['ALLOW when source.principal prefix', ap('  rules: [{when: [{key: source.principal, values: ["cluster.local/ns/a/*"]}]}]'), true],
    ['ALLOW notPorts on the destination port', ap('  rules: [{to: [{operation: {notPorts: ["8080"]}}]}]'), false],
  ]
  for (const [name, doc, allowed] of cases) t.equal(authorize(conn, [only(doc)]).allowed, allowed, name)
})

t.test("toStringMatch: Istio's wildcard forms", async (t) => {
  t.same(['*', '*.local', 'cluster.local/*', 'exact', '**', 'a*b'].map(toStringMatch), [
    { presence: true },
    { suffix: '.local' },
    { prefix: 'cluster.local/' },
    { exact: 'exact' },
    { suffix: '*' },
    { exact: 'a*b' },
  ])
})

t.test('matchLabels and selectsWorkload', async (t) => {
  t.ok(matchLabels({ app: 'a' }, { app: 'a', v: '1' }))
  t.notOk(matchLabels({ app: 'a', v: '2' }, { app: 'a', v: '1' }))
  t.notOk(matchLabels({ app: 'a' }, {}))
  t.ok(matchLabels({}, { app: 'a' }), 'empty matchLabels selects every pod')
  t.ok(matchLabels(undefined, {}))
  t.notOk(matchLabels({ toString: 'x' }, {}), 'own properties only')
  const pol = (ns: string, selector: unknown) =>
    ({ metadata: { name: 'p', namespace: ns }, spec: { selector } }) as AuthorizationPolicyResource
  t.notOk(selectsWorkload(pol('ns', undefined), { namespace: 'ns', labels: {} }), 'no selector: not a selector policy')
  t.ok(selectsWorkload(pol('ns', {}), { namespace: 'ns', labels: { a: 'b' } }))
  t.notOk(selectsWorkload(pol('other', { matchLabels: { a: 'b' } }), { namespace: 'ns', labels: { a: 'b' } }), 'other namespace')
  t.ok(
    selectsWorkload(pol('istio-system', { matchLabels: { a: 'b' } }), { namespace: 'ns', labels: { a: 'b' } }),
    'root namespace selects mesh-wide',
  )
  t.ok(selectsWorkload(pol('root', { matchLabels: { a: 'b' } }), { namespace: 'ns', labels: { a: 'b' } }, 'root'), 'configurable root')
})
