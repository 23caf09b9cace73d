// The seed's allow-reviews (test/fixtures/seed/07, a selector policy with methods and paths) in
// sidecar mode, with the expectations of the waypoint's L7 test (test/integration/waypoint/
// data-path.test.ts): GET /reviews/* from productpage passes, POST and another caller get
// `403 RBAC: access denied` and never reach the app, and the seed's deny-all (08) alone denies GET.
// In sidecar mode the reviews sidecar enforces it with L7 semantics on the caller's own identity.
import t from 'tap'
import { readFileSync } from 'node:fs'
import { resolve } from 'node:path'
import { eventually } from '../../helpers/eventually.js'
import { NAMESPACE_YAML, podYaml } from '../../helpers/istiod-mesh.js'
import { startSidecarMesh } from '../../helpers/sidecar-mesh.js'

const SEED = resolve(import.meta.dirname, '../../fixtures/seed')

const FILES: Record<string, string> = {
  '00-namespace.yaml': NAMESPACE_YAML,
  'pods.yaml': [
    podYaml('productpage', 'node-1', { serviceAccount: 'bookinfo-productpage', app: 'productpage' }),
    podYaml('curl', 'node-1', { serviceAccount: 'curl', app: 'curl' }),
    podYaml('reviews-v1', 'node-2', { serviceAccount: 'bookinfo-reviews', app: 'reviews', port: 9080 }),
    `apiVersion: v1
kind: Service
metadata:
  name: reviews
  namespace: default
spec:
  selector:
    app: reviews
  ports:
    - name: http
      port: 9080
      targetPort: 9080
`,
  ].join('---\n'),
  '07-authorizationpolicy-allow-reviews.yaml': readFileSync(resolve(SEED, '07-authorizationpolicy-allow-reviews.yaml'), 'utf8'),
}

t.test('seed allow-reviews and deny-all at the reviews sidecar', async (t) => {
  const h = await startSidecarMesh(t, { files: FILES, apps: ['reviews-v1'], clients: ['productpage', 'curl'] })
  t.same(
    h.sidecars
      .get('reviews-v1')!
      .config()
      .authorization.map((p) => p.name),
    ['allow-reviews'],
  )

  t.equal((await h.request({ from: 'productpage', path: '/reviews/1' })).status, 200, 'GET /reviews/1 from productpage')
  const post = await h.request({ from: 'productpage', path: '/reviews/1', method: 'POST' })
  t.equal(post.status, 403)
  t.equal(post.body, 'RBAC: access denied')
  t.equal((await h.request({ from: 'productpage', path: '/ratings/1' })).status, 403, 'a path outside /reviews/*')
  t.equal((await h.request({ from: 'curl', path: '/reviews/1' })).status, 403, 'another caller')
  t.equal(h.seen.get('reviews-v1')!.length, 1, 'denied requests never reach the app')
  t.match(
    await h.metrics.get('reviews-v1')!.render(),
    /istio_requests_total\{[^}]*reporter="destination"[^}]*source_principal="spiffe:\/\/cluster\.local\/ns\/default\/sa\/curl"[^}]*response_code="403"/,
  )

  // deny-all alone (with allow-reviews present it would still allow: ALLOW policies are ORed).
  await h.writeFile(
    '07-authorizationpolicy-allow-reviews.yaml',
    readFileSync(resolve(SEED, '08-authorizationpolicy-deny-all.yaml'), 'utf8'),
  )
  await eventually(
    () =>
      h.sidecars
        .get('reviews-v1')!
        .config()
        .authorization.map((p) => p.name)
        .join() === 'deny-all',
  )
  t.equal((await h.request({ from: 'productpage', path: '/reviews/1' })).status, 403, 'deny-all (ALLOW nothing)')
})
