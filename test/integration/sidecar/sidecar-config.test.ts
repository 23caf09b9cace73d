// istiod's sidecar configs (src/istiod/translate/sidecar-config.ts), pure, on bookinfo with the
// demo's policies (deploy/demo): opt-in, one per meshed pod (none for the waypoint), outbound routes
// resolved as the waypoint's (the seed's 90/10 canary), inbound policies with L7 semantics, and
// PeerAuthentication as ztunnel's converted policy.
import t from 'tap'
import { readFileSync } from 'node:fs'
import { resolve } from 'node:path'
import { fixture, run } from '../../unit/istiod/translate/helpers.js'

const DEMO = resolve(import.meta.dirname, '../../../deploy/demo')
const demo = (f: string): string => readFileSync(resolve(DEMO, f), 'utf8')
const YAML = [...fixture('bookinfo'), demo('authorization.yaml'), demo('peer-authentication.yaml'), demo('reviews-canary.yaml')]

t.test('off by default', async (t) => {
  t.equal(run(YAML).sidecars, undefined)
})

t.test("one per meshed pod, from the pod's point of view", async (t) => {
  const tr = run(YAML, { sidecars: true })
  const sidecars = tr.sidecars!
  const names = sidecars.map((c) => c.name)
  t.equal(sidecars.length, tr.mesh.workloads.filter((w) => w.podLocalAddress !== undefined).length, 'every app pod, not the waypoint')
  t.notOk(
    names.some((n) => n.startsWith('reviews-waypoint')),
    'no sidecar for the waypoint pod',
  )

  const productpage = sidecars.find((c) => c.name.startsWith('productpage-'))!
  t.equal(productpage.identity, 'spiffe://cluster.local/ns/default/sa/bookinfo-productpage')
  t.notOk(
    productpage.services.some((s) => s.hostname.startsWith('reviews-waypoint.')),
    "the waypoint's own Service is not a destination",
  )
  const reviews = productpage.services.find((s) => s.hostname === 'reviews.default.svc.cluster.local')!
  t.same(reviews.authorization, [], 'no policy on the caller side')
  const route = reviews.ports[0]!.routes[0]!
  t.match(
    route.action,
    {
      kind: 'forward',
      destinations: [
        { subset: 'v1', weight: 90 },
        { subset: 'v2', weight: 10 },
      ],
    },
    "the seed's canary",
  )
  const v1 = productpage.clusters.find((c) => c.subset === 'v1' && c.hostname === 'reviews.default.svc.cluster.local')!
  t.ok(
    v1.endpoints.length > 0 && v1.endpoints.every((e) => e.identity === 'spiffe://cluster.local/ns/default/sa/bookinfo-reviews'),
    'endpoints carry the peer identity to verify',
  )

  const reviewsPod = sidecars.find((c) => c.name.startsWith('reviews-v1-'))!
  t.same(
    reviewsPod.authorization.map((p) => p.name),
    ['allow-reviews-at-waypoint', 'allow-reviews-from-waypoint', 'deny-all'],
    "selector, namespace-wide and Service-targeted policies, all enforced by the pod's sidecar",
  )
  t.same(reviewsPod.sidecar.ports, [{ port: 9080, protocol: 'HTTP' }])
  t.same(
    reviewsPod.sidecar.peerAuthentication.map((p) => `${p.namespace}/${p.name}`),
    ['istio-system/istio_converted_static_strict'],
    'STRICT',
  )
  t.equal(reviewsPod.workloads[0]!.uid, reviewsPod.sidecar.pod.uid)
  t.not(reviewsPod.sidecar.pod.podIp, reviewsPod.sidecar.pod.podLocalAddress)

  const curl = sidecars.find((c) => c.name.startsWith('curl'))!
  t.same(curl.sidecar.ports, [{ port: 80, protocol: 'HTTP' }], 'the target port of the curl Service')
})
