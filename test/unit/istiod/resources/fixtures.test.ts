// Every YAML example of the seed document, extracted verbatim, and the bookinfo-like app must be
// accepted as written: zero messages of any severity.
import { readFileSync, readdirSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import t from 'tap'
import { fromAuthorizationPolicy } from '../../../../src/authz/from-authorization-policy.js'
import { parseConfigText } from '../../../../src/istiod/resources/parse.js'
import { parseConfigFiles } from '../../../../src/istiod/resources/snapshot.js'

const FIXTURES = fileURLToPath(new URL('../../../fixtures/', import.meta.url))
const read = (dir: string): { file: string; text: string }[] =>
  readdirSync(join(FIXTURES, dir))
    .filter((f) => f.endsWith('.yaml'))
    .sort()
    .map((f) => ({ file: `${dir}/${f}`, text: readFileSync(join(FIXTURES, dir, f), 'utf8') }))

t.test('each seed example parses with no messages', async (t) => {
  const files = read('seed')
  t.equal(files.length, 9, 'the seed document has nine YAML examples')
  for (const { file, text } of files) {
    const r = parseConfigText(text, file)
    t.same(r.messages, [], `${file}: no messages`)
    t.ok(r.syntaxOk, file)
    t.ok(r.objects.length >= 1, `${file}: at least one object`)
  }
})

t.test('seed examples read as intended', async (t) => {
  const one = (name: string) => {
    const f = read('seed').find((x) => x.file.includes(name))!
    return parseConfigText(f.text, f.file).objects
  }
  const [dr, vs] = one('canary')
  t.match(dr, {
    kind: 'DestinationRule',
    metadata: { name: 'reviews', namespace: 'default' },
    spec: { host: 'reviews', subsets: [{ name: 'v1', labels: { version: 'v1' } }, { name: 'v2' }] },
  })
  t.match(vs, {
    kind: 'VirtualService',
    spec: { hosts: ['reviews'], http: [{ route: [{ destination: { host: 'reviews', subset: 'v1' }, weight: 90 }, { weight: 10 }] }] },
  })
  t.match(one('circuit-breaker')[0], {
    spec: {
      trafficPolicy: {
        connectionPool: {
          tcp: { maxConnections: 100 },
          http: { http1MaxPendingRequests: 100, http2MaxRequests: 1000, maxRequestsPerConnection: 10 },
        },
        outlierDetection: { consecutive5xxErrors: 5, intervalMs: 30_000, baseEjectionTimeMs: 30_000, maxEjectionPercent: 50 },
      },
    },
  })
  t.match(one('retry')[0], {
    spec: {
      http: [
        {
          timeoutMs: 3000,
          retries: { attempts: 3, perTryTimeoutMs: 1000, retryOn: ['gateway-error', 'connect-failure', 'refused-stream'] },
        },
      ],
    },
  })
  t.match(one('mirroring')[0], { spec: { http: [{ mirror: { host: 'httpbin', subset: 'v2' }, mirrorPercentage: 100 }] } })
  t.match(one('fault')[0], {
    spec: { http: [{ fault: { delay: { fixedDelayMs: 5000, percentage: 10 }, abort: { httpStatus: 503, percentage: 5 } } }] },
  })
  t.match(one('peerauthentication')[0], { metadata: { namespace: 'my-namespace' }, spec: { mtls: { mode: 'STRICT' }, portLevelMtls: {} } })
  t.match(one('telemetry')[0], { metadata: { namespace: 'istio-system' }, spec: { accessLogging: [{ providers: [{ name: 'envoy' }] }] } })
})

t.test('seed AuthorizationPolicies convert with fromAuthorizationPolicy as parsed', async (t) => {
  const files = read('seed').filter((f) => f.file.includes('authorizationpolicy'))
  const [allow, denyAll] = files.map((f) => parseConfigText(f.text, f.file).objects[0]!)
  if (allow?.kind !== 'AuthorizationPolicy' || denyAll?.kind !== 'AuthorizationPolicy') throw new Error('expected policies')
  t.same(denyAll.spec, {}, 'spec: { } is an empty spec')
  t.equal(fromAuthorizationPolicy(denyAll).authorization?.scope, 'NAMESPACE')
  t.same(allow.spec.selector, { matchLabels: { app: 'reviews' } })
  t.same(allow.spec.rules?.[0]?.to?.[0]?.operation, { methods: ['GET'], paths: ['/reviews/*'] })
  t.equal(fromAuthorizationPolicy(allow).authorization?.scope, 'WORKLOAD_SELECTOR')
})

t.test('bookinfo parses with no messages into the expected objects', async (t) => {
  const { snapshot, messages } = parseConfigFiles(read('bookinfo'))
  t.same(messages, [])
  const names = (list: readonly { metadata: { name: string } }[]) => list.map((o) => o.metadata.name)
  t.same(names(snapshot.Namespace), ['default'])
  t.same(snapshot.Namespace[0]?.metadata.labels, { 'istio.io/dataplane-mode': 'ambient' })
  t.same(names(snapshot.ServiceAccount), ['bookinfo-details', 'bookinfo-productpage', 'bookinfo-ratings', 'bookinfo-reviews', 'curl'])
  t.same(names(snapshot.Deployment), ['curl', 'details-v1', 'productpage-v1', 'ratings-v1', 'reviews-v1', 'reviews-v2', 'reviews-v3'])
  t.same(names(snapshot.Service), ['curl', 'details', 'productpage', 'ratings', 'reviews'])
  const reviews = snapshot.Service.find((s) => s.metadata.name === 'reviews')!
  t.equal(reviews.metadata.labels['istio.io/use-waypoint'], 'reviews-waypoint')
  t.same(reviews.spec.ports, [{ name: 'http', port: 9080, targetPort: 9080, protocol: 'TCP' }])
  t.match(snapshot.Gateway, [
    {
      metadata: { name: 'reviews-waypoint' },
      spec: { gatewayClassName: 'istio-waypoint', listeners: [{ name: 'mesh', port: 15008, protocol: 'HBONE' }] },
    },
  ])
  const v3 = snapshot.Deployment.find((d) => d.metadata.name === 'reviews-v3')!
  t.match(v3.spec, {
    replicas: 1,
    template: {
      metadata: { labels: { app: 'reviews', version: 'v3' } },
      spec: {
        serviceAccountName: 'bookinfo-reviews',
        containers: [{ image: 'docker.io/istio/examples-bookinfo-reviews-v3:1.20.3', ports: [{ containerPort: 9080 }] }],
      },
    },
  })
})
