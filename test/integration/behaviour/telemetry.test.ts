// Behaviour suite, both modes: the proxy that sees both ends of a request reports who called whom
// with Istio's workload labels — the waypoint (reporter="waypoint", the caller's labels from the
// baggage its ztunnel sent) in ambient, the destination's sidecar (reporter="destination", the
// caller's labels from Istio's metadata exchange headers) in sidecar mode. The exchange headers never
// reach the app. The destination's labels come from the endpoint's metadata in istiod's config
// (the waypoint; a caller's sidecar) or the sidecar's own (a callee's sidecar).
import t from 'tap'
import { MESH_CASES_FILE_TIMEOUT_MS, meshCases, requestsTotal, startMeshUnderTest } from '../../helpers/mesh-under-test.js'

t.setTimeout(MESH_CASES_FILE_TIMEOUT_MS)
for (const c of await meshCases()) {
  const { mode } = c
  t.test(
    `${c.name}: the caller's workload, canonical service and revision on the callee's request metrics`,
    { timeout: c.timeoutMs, skip: c.skip },
    async (t) => {
      const m = await startMeshUnderTest(t, c)
      t.equal((await m.request({ from: 'client', path: '/reviews/1', headers: { 'x-canary': 'always' } })).status, 200)
      const metrics = mode === 'ambient' ? await m.l7Metrics() : await m.destinationMetrics('reviews-v2')
      const labels = {
        reporter: mode === 'ambient' ? 'waypoint' : 'destination',
        source_workload: 'client',
        source_canonical_service: 'client',
        source_canonical_revision: 'latest',
        source_workload_namespace: 'default',
        source_principal: 'spiffe://cluster.local/ns/default/sa/client',
        destination_workload: 'reviews-v2',
        destination_canonical_service: 'reviews',
        destination_canonical_revision: 'v2',
        response_code: '200',
      }
      t.equal(
        requestsTotal(metrics, labels),
        1,
        `one request with ${JSON.stringify(labels)} in:\n${metrics
          .split('\n')
          .filter((l) => l.startsWith('istio_requests_total'))
          .join('\n')}`,
      )
      const seen = m.apps.seen.get('reviews-v2') ?? []
      t.equal(seen.length, 1)
      t.notOk(
        Object.keys(seen[0]?.headers ?? {}).some((h) => h.startsWith('x-envoy-peer-metadata')),
        'the app sees no metadata exchange header',
      )
    },
  )
}
