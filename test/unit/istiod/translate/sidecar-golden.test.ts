// The sidecar configs (src/istiod/translate/sidecar-config.ts) stay byte-identical to what the
// straightforward per-pod implementation produced before it shared its per-namespace and
// per-translation work (issue 14): the SHA-256 of the JSON of every config and of the messages,
// recorded from that implementation, on bookinfo with the demo's policies, bookinfo with the
// seed, and a generated mesh with routing, policies and PeerAuthentication of every scope. A
// changed hash means changed output: if the change is meant, record the new hash and say why.
import t from 'tap'
import { createHash } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { resolve } from 'node:path'
import { generateIstiodConfig } from '../../../../src/bench/istiod-mesh.js'
import { internSnapshot } from '../../../../src/istiod/resources/intern.js'
import { translate, translateIncremental } from '../../../../src/istiod/translate/index.js'
import { documentJson } from '../../../../src/xds/shared-json.js'
import { fixture, run, snapshotOf } from './helpers.js'

const DEMO = resolve(import.meta.dirname, '../../../../deploy/demo')
const demo = (f: string): string => readFileSync(resolve(DEMO, f), 'utf8')

/** Every kind of policy scope and namespace-dependent routing the sidecar configs read. */
const EXTRA = `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: svc-0-from-ns-01, namespace: ns-01}
spec:
  hosts: [svc-0.ns-00.svc.cluster.local]
  http:
  - route:
    - destination: {host: svc-0.ns-00.svc.cluster.local}
      weight: 70
    - destination: {host: svc-1.ns-01.svc.cluster.local}
      weight: 30
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: svc-2, namespace: ns-02}
spec:
  host: svc-2.ns-02.svc.cluster.local
  trafficPolicy: {connectionPool: {tcp: {connectTimeout: 2s}}}
---
apiVersion: security.istio.io/v1
kind: PeerAuthentication
metadata: {name: default, namespace: ns-02}
spec: {mtls: {mode: STRICT}}
---
apiVersion: security.istio.io/v1
kind: PeerAuthentication
metadata: {name: svc-5-permissive, namespace: ns-01}
spec:
  selector: {matchLabels: {app: svc-5}}
  mtls: {mode: PERMISSIVE}
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: every-waypoint, namespace: istio-system}
spec:
  targetRefs: [{group: gateway.networking.k8s.io, kind: GatewayClass, name: istio-waypoint}]
  action: DENY
  rules: [{to: [{operation: {paths: [/admin]}}]}]
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: svc-4-service, namespace: ns-00}
spec:
  targetRefs: [{kind: Service, group: '', name: svc-4}]
  action: ALLOW
  rules: [{to: [{operation: {methods: [GET]}}]}]
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: ns-00-waypoint, namespace: ns-00}
spec:
  targetRefs: [{group: gateway.networking.k8s.io, kind: Gateway, name: waypoint}]
  action: ALLOW
  rules: [{from: [{source: {namespaces: [ns-01]}}]}]
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: root-selector, namespace: istio-system}
spec:
  selector: {matchLabels: {app: svc-7}}
  action: DENY
  rules: [{to: [{operation: {ports: ['9999']}}]}]
---
`

/** The seed files that go together (01, 03, 04, 05 each route reviews with their own VirtualService). */
const seed = (): string[] =>
  [
    '01-canary-destinationrule-virtualservice',
    '06-peerauthentication-strict',
    '07-authorizationpolicy-allow-reviews',
    '08-authorizationpolicy-deny-all',
  ]
    .map((f) => fixture(`seed/${f}.yaml`))
    .flat()

function generated(): string[] {
  const mesh = generateIstiodConfig({ services: 24, podsPerService: 2, policies: 20 })
  return [...mesh.files.map((f) => f.text), ...fixture('bookinfo'), ...seed(), EXTRA]
}

const CASES: { name: string; yaml: () => string[]; sidecars: number; sha256: string }[] = [
  {
    name: 'bookinfo with the demo policies',
    yaml: () => [...fixture('bookinfo'), demo('authorization.yaml'), demo('peer-authentication.yaml'), demo('reviews-canary.yaml')],
    sidecars: 7,
    sha256: 'a062d7e84aa73c21b529f71b9912ad2d60606c54a796d6c94bb8033191f6937f',
  },
  {
    name: 'bookinfo with the seed',
    yaml: () => [...fixture('bookinfo'), ...seed()],
    sidecars: 7,
    sha256: 'b6eda6da884e20909d5b813a3f2095e74e7923185effdb0a473e296415ba8711',
  },
  {
    name: 'generated mesh with every policy scope',
    yaml: generated,
    sidecars: 55,
    sha256: '3951499773a8d8548419c542ec86f3cc87591aee319862f4af05af040ae1e63a',
  },
]

for (const c of CASES) {
  t.test(c.name, async (t) => {
    const tr = run(c.yaml(), { sidecars: true })
    const json = JSON.stringify({ sidecars: tr.sidecars, messages: tr.messages })
    const sha256 = createHash('sha256').update(json).digest('hex')
    t.equal(tr.sidecars?.length, c.sidecars, 'one config per meshed pod')
    t.equal(sha256, c.sha256, `byte-identical configs and messages (${json.length} bytes of JSON)`)
    // What istiod encodes (src/xds/convert.ts): each config's JSON, its shared lists spliced in.
    t.ok(
      tr.sidecars!.every((s) => documentJson(s) === JSON.stringify(s)),
      'the encoded JSON of each config is its JSON.stringify',
    )
  })
}

t.test('a later translation keeps the objects of unchanged configs', async (t) => {
  const base = generated()
  const snap1 = internSnapshot(snapshotOf(...base), undefined)
  const options = { nodes: 2, sidecars: true }
  const first = translateIncremental(snap1, options, undefined)
  const ns = first.translation.sidecars!.find((c) => c.name.startsWith('svc-9-'))!.namespace
  const extra = `apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: svc-9-only, namespace: ${ns}}
spec:
  selector: {matchLabels: {app: svc-9}}
  action: DENY
  rules: [{to: [{operation: {ports: ['7777']}}]}]
`
  const second = translateIncremental(internSnapshot(snapshotOf(...base, extra), snap1), options, first.memo)
  const before = new Map(first.translation.sidecars!.map((c) => [`${c.namespace}/${c.name}`, c]))
  const changed = second.translation.sidecars!.filter((c) => before.get(`${c.namespace}/${c.name}`) !== c)
  t.ok(
    changed.length > 0 && changed.every((c) => c.namespace === ns && c.name.startsWith('svc-9-')),
    `only svc-9's pods get a new config (${changed.map((c) => c.name).join(', ')})`,
  )
  t.ok(
    changed.every((c) => c.authorization.some((p) => p.name === 'svc-9-only')),
    'with the new policy',
  )
  const kept = second.translation.sidecars!.filter((c) => c.namespace === ns && !changed.includes(c))
  t.ok(kept.length > 0 && kept.every((c) => c.services === changed[0]!.services), "a namespace's configs share one outbound half")
  t.equal(
    JSON.stringify(second.translation.sidecars),
    JSON.stringify(translate(snapshotOf(...base, extra), options).sidecars),
    'as a full translation',
  )
})
