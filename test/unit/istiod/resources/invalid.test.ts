// Invalid input: each problem with its stable code, path and line; all problems at once; the valid
// rest still applies; unknown kinds listed; wrong apiVersions; YAML syntax errors.
import t from 'tap'
import { ConfigMessageCode as C } from '../../../../src/istiod/resources/messages.js'
import { parseConfigText } from '../../../../src/istiod/resources/parse.js'
import { parseConfigFiles } from '../../../../src/istiod/resources/snapshot.js'

const VS = (http: string) => `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: r}
spec:
  hosts: [reviews]
  http:
${http}`

interface Case {
  name: string
  yaml: string
  code: string
  path: string
  line: number
  object?: string
}

const cases: Case[] = [
  {
    name: 'weight not a number',
    yaml: VS('    - route: [{destination: {host: r}, weight: ninety}]\n'),
    code: C.schema,
    path: 'spec.http[0].route[0].weight',
    line: 7,
  },
  {
    name: 'weight out of range',
    yaml: VS('    - route:\n        - destination: {host: r}\n          weight: 101\n'),
    code: C.schema,
    path: 'spec.http[0].route[0].weight',
    line: 9,
  },
  {
    name: 'timeout without unit',
    yaml: VS('    - route: [{destination: {host: r}}]\n      timeout: 5\n'),
    code: C.schema,
    path: 'spec.http[0].timeout',
    line: 8,
  },
  {
    name: 'perTryTimeout bad',
    yaml: VS('    - route: [{destination: {host: r}}]\n      retries: {attempts: 2, perTryTimeout: soon}\n'),
    code: C.schema,
    path: 'spec.http[0].retries.perTryTimeout',
    line: 8,
  },
  {
    name: 'abort status out of range',
    yaml: VS('    - route: [{destination: {host: r}}]\n      fault:\n        abort: {httpStatus: 700}\n'),
    code: C.schema,
    path: 'spec.http[0].fault.abort.httpStatus',
    line: 9,
  },
  {
    name: 'fault percentage > 100',
    yaml: VS('    - route: [{destination: {host: r}}]\n      fault:\n        delay: {fixedDelay: 1s, percentage: {value: 150}}\n'),
    code: C.schema,
    path: 'spec.http[0].fault.delay.percentage.value',
    line: 9,
  },
  {
    name: 'string match with two kinds',
    yaml: VS('    - match: [{uri: {exact: /a, prefix: /b}}]\n      route: [{destination: {host: r}}]\n'),
    code: C.schema,
    path: 'spec.http[0].match[0].uri',
    line: 7,
  },
  {
    name: 'route without destination host',
    yaml: VS('    - route: [{destination: {subset: v1}}]\n'),
    code: C.missingField,
    path: 'spec.http[0].route[0].destination.host',
    line: 7,
  },
  { name: 'http route without route', yaml: VS('    - timeout: 1s\n'), code: C.missingField, path: 'spec.http[0].route', line: 7 },
  {
    name: 'VirtualService without hosts',
    yaml: 'apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {name: r}\nspec: {http: []}\n',
    code: C.missingField,
    path: 'spec.hosts',
    line: 4,
  },
  {
    name: 'DestinationRule bad lb',
    yaml:
      'apiVersion: networking.istio.io/v1\nkind: DestinationRule\nmetadata: {name: d}\nspec:\n  host: r\n' +
      '  trafficPolicy:\n    loadBalancer: {simple: round_robin}\n',
    code: C.schema,
    path: 'spec.trafficPolicy.loadBalancer.simple',
    line: 7,
  },
  {
    name: 'DestinationRule duplicate subset',
    yaml: 'apiVersion: networking.istio.io/v1\nkind: DestinationRule\nmetadata: {name: d}\nspec:\n  host: r\n  subsets:\n    - {name: v1}\n    - {name: v1}\n',
    code: C.schema,
    path: 'spec.subsets[1].name',
    line: 8,
  },
  {
    name: 'DestinationRule without host',
    yaml: 'apiVersion: networking.istio.io/v1\nkind: DestinationRule\nmetadata: {name: d}\nspec:\n  subsets: []\n',
    code: C.missingField,
    path: 'spec.host',
    line: 4,
  },
  {
    name: 'PeerAuthentication unknown mode',
    yaml: 'apiVersion: security.istio.io/v1\nkind: PeerAuthentication\nmetadata: {name: p}\nspec:\n  mtls: {mode: strict}\n',
    code: C.schema,
    path: 'spec.mtls.mode',
    line: 5,
  },
  {
    name: 'portLevelMtls without selector',
    yaml: 'apiVersion: security.istio.io/v1\nkind: PeerAuthentication\nmetadata: {name: p}\nspec:\n  portLevelMtls: {8080: {mode: DISABLE}}\n',
    code: C.schema,
    path: 'spec.portLevelMtls',
    line: 5,
  },
  {
    name: 'AuthorizationPolicy bad action',
    yaml: 'apiVersion: security.istio.io/v1\nkind: AuthorizationPolicy\nmetadata: {name: a}\nspec:\n  action: REJECT\n',
    code: C.schema,
    path: 'spec.action',
    line: 5,
  },
  {
    name: 'AuthorizationPolicy bad ipBlock',
    yaml:
      'apiVersion: security.istio.io/v1\nkind: AuthorizationPolicy\nmetadata: {name: a}\nspec:\n  rules:\n' +
      '    - from:\n        - source: {ipBlocks: [10.0.0.300]}\n',
    code: C.schema,
    path: 'spec.rules[0].from[0].source.ipBlocks[0]',
    line: 7,
  },
  {
    name: 'AuthorizationPolicy bad port',
    yaml: 'apiVersion: security.istio.io/v1\nkind: AuthorizationPolicy\nmetadata: {name: a}\nspec:\n  rules:\n    - to: [{operation: {ports: ["http"]}}]\n',
    code: C.schema,
    path: 'spec.rules[0].to[0].operation.ports[0]',
    line: 6,
  },
  {
    name: 'CUSTOM without provider',
    yaml: 'apiVersion: security.istio.io/v1\nkind: AuthorizationPolicy\nmetadata: {name: a}\nspec: {action: CUSTOM}\n',
    code: C.missingField,
    path: 'spec.provider',
    line: 4,
  },
  {
    name: 'Service port out of range',
    yaml: 'apiVersion: v1\nkind: Service\nmetadata: {name: s}\nspec:\n  ports:\n    - port: 70000\n',
    code: C.schema,
    path: 'spec.ports[0].port',
    line: 6,
  },
  {
    name: 'Service bad targetPort name',
    yaml: 'apiVersion: v1\nkind: Service\nmetadata: {name: s}\nspec:\n  ports:\n    - {port: 80, targetPort: Not_A_Name}\n',
    code: C.schema,
    path: 'spec.ports[0].targetPort',
    line: 6,
  },
  {
    name: 'Deployment selector does not match template',
    yaml:
      'apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: d}\nspec:\n' +
      '  selector: {matchLabels: {app: x}}\n  template:\n    metadata: {labels: {app: y}}\n' +
      '    spec: {containers: [{name: c, image: i}]}\n',
    code: C.schema,
    path: 'spec.selector.matchLabels.app',
    line: 5,
  },
  {
    name: 'Deployment negative replicas',
    yaml:
      'apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: d}\nspec:\n  replicas: -1\n' +
      '  selector: {matchLabels: {app: x}}\n  template:\n    metadata: {labels: {app: x}}\n' +
      '    spec: {containers: [{name: c, image: i}]}\n',
    code: C.schema,
    path: 'spec.replicas',
    line: 5,
  },
  {
    name: 'Pod container without image',
    yaml: 'apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n  containers:\n    - name: c\n',
    code: C.missingField,
    path: 'spec.containers[0].image',
    line: 6,
  },
  {
    name: 'label value not a string',
    yaml: 'apiVersion: v1\nkind: Namespace\nmetadata:\n  name: n\n  labels:\n    istio-injection: true\n',
    code: C.schema,
    path: 'metadata.labels["istio-injection"]',
    line: 6,
    object: 'Namespace/n',
  },
  {
    name: 'Gateway without listeners',
    yaml: 'apiVersion: gateway.networking.k8s.io/v1\nkind: Gateway\nmetadata: {name: w}\nspec: {gatewayClassName: istio-waypoint}\n',
    code: C.missingField,
    path: 'spec.listeners',
    line: 4,
  },
  {
    name: 'HTTPRoute bad path type',
    yaml:
      'apiVersion: gateway.networking.k8s.io/v1\nkind: HTTPRoute\nmetadata: {name: h}\nspec:\n  rules:\n' +
      '    - matches: [{path: {type: Prefix, value: /}}]\n',
    code: C.schema,
    path: 'spec.rules[0].matches[0].path.type',
    line: 6,
  },
  {
    name: 'HTTPRoute Service backend without port',
    yaml: 'apiVersion: gateway.networking.k8s.io/v1\nkind: HTTPRoute\nmetadata: {name: h}\nspec:\n  rules:\n    - backendRefs:\n        - name: reviews\n',
    code: C.missingField,
    path: 'spec.rules[0].backendRefs[0].port',
    line: 7,
  },
  {
    name: 'HTTPRoute bad timeout',
    yaml: 'apiVersion: gateway.networking.k8s.io/v1\nkind: HTTPRoute\nmetadata: {name: h}\nspec:\n  rules:\n    - timeouts: {request: 10}\n',
    code: C.schema,
    path: 'spec.rules[0].timeouts.request',
    line: 6,
  },
  {
    name: 'Telemetry spec not a mapping',
    yaml: 'apiVersion: telemetry.istio.io/v1\nkind: Telemetry\nmetadata: {name: t}\nspec: [1]\n',
    code: C.schema,
    path: 'spec',
    line: 4,
  },
  {
    name: 'missing name',
    yaml: 'apiVersion: v1\nkind: ServiceAccount\nmetadata: {namespace: a}\n',
    code: C.missingName,
    path: 'metadata.name',
    line: 3,
    object: 'ServiceAccount',
  },
  { name: 'no metadata at all', yaml: 'apiVersion: v1\nkind: ServiceAccount\n', code: C.missingName, path: 'metadata', line: 1 },
  {
    name: 'invalid name',
    yaml: 'apiVersion: v1\nkind: ServiceAccount\nmetadata: {name: Bad_Name}\n',
    code: C.schema,
    path: 'metadata.name',
    line: 3,
  },
  {
    name: 'wrong apiVersion for a known kind',
    yaml: 'apiVersion: networking.istio.io/v2\nkind: VirtualService\nmetadata: {name: r}\nspec: {hosts: [r]}\n',
    code: C.badApiVersion,
    path: 'apiVersion',
    line: 1,
    object: 'VirtualService/default/r',
  },
  {
    name: 'Deployment in extensions/v1beta1',
    yaml: 'apiVersion: extensions/v1beta1\nkind: Deployment\nmetadata: {name: d, namespace: x}\n',
    code: C.badApiVersion,
    path: 'apiVersion',
    line: 1,
    object: 'Deployment/x/d',
  },
  {
    name: 'AuthorizationPolicy under networking',
    yaml: 'apiVersion: networking.istio.io/v1\nkind: AuthorizationPolicy\nmetadata: {name: a}\n',
    code: C.badApiVersion,
    path: 'apiVersion',
    line: 1,
  },
  { name: 'not an object', yaml: '- a\n- b\n', code: C.notAnObject, path: '', line: 1 },
  { name: 'no kind', yaml: 'apiVersion: v1\nmetadata: {name: x}\n', code: C.notAnObject, path: '', line: 1 },
]

t.test('invalid objects: code, path, line; the object is skipped', async (t) => {
  for (const c of cases) {
    const r = parseConfigText(c.yaml, 'bad.yaml')
    const errors = r.messages.filter((m) => m.severity === 'error')
    t.same(r.objects, [], `${c.name}: skipped`)
    t.match(errors, [{ code: c.code, path: c.path, line: c.line, file: 'bad.yaml', docIndex: 0 }], c.name)
    if ('object' in c) t.equal(errors[0]?.object, c.object, `${c.name}: object`)
    t.ok(
      errors.every((m) => m.hint !== ''),
      `${c.name}: has a hint`,
    )
  }
})

t.test('unknown fields of Istio kinds are warnings; the object applies', async (t) => {
  const r = parseConfigText(VS('    - route: [{destination: {host: r}}]\n      retires: {attempts: 3}\n'), 'w.yaml')
  t.equal(r.objects.length, 1)
  t.match(r.messages, [
    { code: C.unknownField, severity: 'warning', path: 'spec.http[0].retires', line: 8, object: 'VirtualService/default/r' },
  ])
})

t.test('every error at once, the valid rest applied', async (t) => {
  const text = `apiVersion: v1
kind: ServiceAccount
metadata: {name: good-1}
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: bad}
spec:
  host: r
  trafficPolicy:
    loadBalancer: {simple: FASTEST}
    outlierDetection: {interval: often, maxEjectionPercent: 150}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: settings}
data: {a: b}
---
apiVersion: security.istio.io/v1
kind: PeerAuthentication
metadata: {name: good-2, namespace: istio-system}
spec: {mtls: {mode: STRICT}}
---
apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: ingress}
`
  const r = parseConfigText(text, 'mixed.yaml')
  t.same(
    r.objects.map((o) => `${o.kind}/${o.metadata.name}`),
    ['ServiceAccount/good-1', 'PeerAuthentication/good-2'],
  )
  t.same(
    r.messages.map((m) => [m.code, m.docIndex, m.path]),
    [
      [C.schema, 1, 'spec.trafficPolicy.loadBalancer.simple'],
      [C.schema, 1, 'spec.trafficPolicy.outlierDetection.interval'],
      [C.schema, 1, 'spec.trafficPolicy.outlierDetection.maxEjectionPercent'],
      [C.unknownKind, 2, 'kind'],
      [C.unknownKind, 4, 'kind'],
    ],
  )
  t.match(
    r.messages.filter((m) => m.code === C.unknownKind),
    [
      { severity: 'info', object: 'ConfigMap/default/settings', line: 15 },
      { severity: 'info', object: 'Gateway/default/ingress', reason: /networking\.istio\.io/ },
    ],
  )
})

t.test('an unknown kind that differs only in case gets a did-you-mean hint', async (t) => {
  const r = parseConfigText('apiVersion: networking.istio.io/v1\nkind: Virtualservice\nmetadata: {name: r}\n', 'k.yaml')
  t.match(r.messages, [{ code: C.unknownKind, hint: /kind: VirtualService/ }])
})

t.test('YAML syntax: a broken document is reported, the others recovered', async (t) => {
  const text =
    'apiVersion: v1\nkind: ServiceAccount\nmetadata: {name: a}\n---\napiVersion: v1\n' +
    'kind: ServiceAccount\nmetadata: {name: [b\n---\napiVersion: v1\nkind: ServiceAccount\n' +
    'metadata: {name: c}\n'
  const r = parseConfigText(text, 's.yaml')
  t.same(
    r.objects.map((o) => o.metadata.name),
    ['a', 'c'],
  )
  t.equal(r.syntaxOk, false)
  t.ok(r.messages.length >= 1)
  t.ok(r.messages.every((m) => m.code === C.yamlSyntax && m.docIndex === 1 && m.line !== undefined))
})

t.test('a file that cannot be parsed at all reports one error', async (t) => {
  const r = parseConfigText('key: [unclosed\n  other: {also: unclosed\n: : :\n', 'junk.yaml')
  t.same(r.objects, [])
  t.equal(r.syntaxOk, false)
  t.match(r.messages, [{ code: C.yamlSyntax, severity: 'error', file: 'junk.yaml', docIndex: undefined }])
  t.equal(r.messages.length, 1)
})

t.test('empty files and comment-only documents are fine', async (t) => {
  for (const text of ['', '# nothing\n', '---\n---\n', '---\n# c\n'])
    t.same(parseConfigText(text, 'e.yaml'), { objects: [], messages: [], syntaxOk: true }, JSON.stringify(text))
})

t.test('duplicate objects across files: the first file (in path order) wins', async (t) => {
  const sa = (ns: string) => `apiVersion: v1\nkind: ServiceAccount\nmetadata: {name: a, namespace: ${ns}}\n`
  const { snapshot, messages } = parseConfigFiles([
    { file: 'b.yaml', text: sa('default') },
    { file: 'a.yaml', text: `${sa('default')}---\n${sa('other')}` },
  ])
  t.same(
    snapshot.ServiceAccount.map((s) => `${s.source.file}:${s.metadata.namespace}`),
    ['a.yaml:default', 'a.yaml:other'],
  )
  t.match(messages, [
    { code: C.duplicateObject, severity: 'error', file: 'b.yaml', object: 'ServiceAccount/default/a', line: 1, reason: /a\.yaml:1/ },
  ])
})
