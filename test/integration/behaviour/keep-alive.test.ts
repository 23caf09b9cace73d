// Behaviour suite, both modes: an app that closes an idle keep-alive connection (node:http's
// keepAliveTimeout, 5 s by default — Istio's bookinfo apps do the same) must not strand the next
// request on the proxy's pooled connection to it. The proxy sees the app's FIN and drops the
// connection (upstream_connection_closed "peer closed the connection"); the next request opens a
// new one. Before, the half-open connection was reused and the request was never answered.
import t from 'tap'
import { eventually } from '../../helpers/eventually.js'
import { MESH_CASES_FILE_TIMEOUT_MS, meshCases, startMeshUnderTest } from '../../helpers/mesh-under-test.js'

t.setTimeout(MESH_CASES_FILE_TIMEOUT_MS)
for (const c of await meshCases()) {
  t.test(`${c.name}: an app closing an idle keep-alive connection`, { timeout: c.timeoutMs, skip: c.skip }, async (t) => {
    const m = await startMeshUnderTest(t, c)
    const peerClosed = (): number =>
      m.log.filter((r) => r.event === 'upstream_connection_closed' && r.reason === 'peer closed the connection').length
    t.equal((await m.request({ path: '/reviews/1', headers: { 'x-canary': 'always' } })).status, 200)
    // The app's 5 s keep-alive timeout passes (polled, bounded).
    await eventually(() => peerClosed() > 0, { timeoutMs: 15_000 })
    const r = await m.request({ path: '/reviews/2', headers: { 'x-canary': 'always' } })
    t.equal(r.status, 200, 'the next request is answered on a new connection')
  })
}
