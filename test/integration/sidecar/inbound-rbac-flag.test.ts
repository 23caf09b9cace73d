// The destination sidecar marks a request it refuses by L7 policy with Envoy's `RBAC` response flag
// (403 `RBAC: access denied`, response_flags="RBAC", as the waypoint does); the caller's sidecar
// only saw an upstream 403 and reports it without a flag (the dashboard counts the denial once,
// from the destination).
import t from 'tap'
import { startSidecarMesh } from '../../helpers/sidecar-mesh.js'

t.test('sidecar inbound: an L7 denial is 403 with response_flags RBAC', async (t) => {
  const h = await startSidecarMesh(t)
  const r = await h.request({ method: 'POST' })
  t.equal(r.status, 403)
  t.equal(r.body, 'RBAC: access denied')
  const dst = (await Promise.all(['reviews-v1', 'reviews-v2'].map((p) => h.metrics.get(p)!.render()))).join('\n')
  t.match(
    dst,
    /istio_requests_total\{[^}]*reporter="destination"[^}]*response_flags="RBAC"[^}]*response_code="403"[^}]*\} 1\n/,
    'the denying sidecar reports RBAC',
  )
  t.notMatch(
    dst,
    /istio_requests_total\{[^}]*reporter="destination"[^}]*response_flags="-"[^}]*response_code="403"/,
    'never a flagless 403',
  )
  const src = await h.metrics.get('client')!.render()
  t.match(
    src,
    /istio_requests_total\{[^}]*reporter="source"[^}]*response_flags="-"[^}]*response_code="403"[^}]*\} 1\n/,
    'the caller reports the upstream 403 without a flag',
  )
  const ok = await h.request()
  t.equal(ok.status, 200, 'GET still passes')
})
