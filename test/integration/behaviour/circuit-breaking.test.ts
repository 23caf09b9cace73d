// Behaviour suite, both modes, same YAML (test/helpers/behaviour-scenario.ts): ratings' DestinationRule
// allows one connection and one pending request (connectionPool tcp.maxConnections 1,
// http.http1MaxPendingRequests 1). With one request held at the app and one queued in the caller-side
// L7 proxy (waypoint or the caller's sidecar), a third is refused at once: 503 UO, Envoy's overflow.
import t from 'tap'
import { eventually } from '../../helpers/eventually.js'
import { MESH_CASES_FILE_TIMEOUT_MS, meshCases, requestsTotal, startMeshUnderTest } from '../../helpers/mesh-under-test.js'

t.setTimeout(MESH_CASES_FILE_TIMEOUT_MS)
for (const c of await meshCases()) {
  t.test(`${c.name}: circuit breaking`, { timeout: c.timeoutMs, skip: c.skip }, async (t) => {
    const m = await startMeshUnderTest(t, c)
    const pending = (): number => m.log.filter((r) => r.event === 'upstream_pending').length

    const r1 = m.request({ service: 'ratings', path: '/hold/cb1' })
    await eventually(() => m.apps.held('cb1') === 1)
    const queuedBefore = pending()
    const r2 = m.request({ service: 'ratings', path: '/hold/cb2' })
    await eventually(() => pending() > queuedBefore)
    const r3 = await m.request({ service: 'ratings', path: '/x' })
    t.equal(r3.status, 503, 'the third concurrent request overflows')
    t.match(r3.body, /overflow/)
    t.equal(m.apps.held('cb2'), 0, 'the queued request has not reached the app')
    m.apps.release('cb1')
    t.equal((await r1).status, 200)
    await eventually(() => m.apps.held('cb2') === 1)
    m.apps.release('cb2')
    t.equal((await r2).status, 200, 'the queued request got the freed connection')
    t.equal(
      requestsTotal(await m.l7Metrics(), {
        reporter: m.l7Reporter,
        destination_service_name: 'ratings',
        response_flags: 'UO',
        response_code: '503',
      }),
      1,
    )
    t.equal((await m.request({ service: 'ratings', path: '/y' })).status, 200, 'the breaker closes again')
  })
}
