// The caller's sidecar applies the route's fault injection (as the waypoint does in ambient): an
// abort at 100 % answers 503 with flag FI from the client's own sidecar, and reviews is never reached.
import t from 'tap'
import { eventually } from '../../helpers/eventually.js'
import { FILES, startSidecarMesh } from '../../helpers/sidecar-mesh.js'

const ABORT = `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata:
  name: reviews
  namespace: default
spec:
  hosts:
    - reviews
  http:
    - fault:
        abort:
          percentage:
            value: 100
          httpStatus: 503
      route:
        - destination:
            host: reviews
`

t.test("fault abort at the caller's sidecar", async (t) => {
  const h = await startSidecarMesh(t)
  t.equal((await h.request()).status, 200)
  const seen = (): number => h.seen.get('reviews-v1')!.length + h.seen.get('reviews-v2')!.length
  await h.writeFile('routing.yaml', ABORT)
  await eventually(
    () =>
      h.sidecars
        .get('client')!
        .config()
        .services.find((s) => s.name === 'reviews')!.ports[0]!.routes[0]!.fault !== null,
  )
  const before = seen()
  const r = await h.request()
  t.equal(r.status, 503)
  t.equal(seen(), before, 'reviews never reached')
  t.match(
    await h.metrics.get('client')!.render(),
    /istio_requests_total\{[^}]*reporter="source"[^}]*response_flags="FI"[^}]*response_code="503"/,
  )
  // Back to the seed's canary.
  await h.writeFile('routing.yaml', FILES['routing.yaml']!)
  await eventually(async () => (await h.request()).status === 200)
})
