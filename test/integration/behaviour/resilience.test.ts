// Behaviour suite, run in both modes on the same YAML (test/helpers/behaviour-scenario.ts): the
// reviews VirtualService's retries, timeout and fault injection, each chosen by path prefix. The L7
// work happens in the waypoint (ambient) or in the caller's sidecar; the answers, the app's view and
// the response flags in istio_requests_total are the same.
import t from 'tap'
import { MESH_CASES_FILE_TIMEOUT_MS, meshCases, requestsTotal, startMeshUnderTest } from '../../helpers/mesh-under-test.js'

t.setTimeout(MESH_CASES_FILE_TIMEOUT_MS)
for (const c of await meshCases()) {
  t.test(`${c.name}: retries, timeouts, faults`, { timeout: c.timeoutMs, skip: c.skip }, async (t) => {
    const m = await startMeshUnderTest(t, c)
    const flags = async (responseFlags: string, code: number): Promise<number> =>
      requestsTotal(await m.l7Metrics(), { reporter: m.l7Reporter, response_flags: responseFlags, response_code: String(code) })

    await t.test('retries (attempts 3, retryOn 5xx) recover from two failures', async (t) => {
      const r = await m.request({ path: '/retry/flaky/a/2' })
      t.equal(r.status, 200, r.body)
      t.equal(m.apps.seenUnder('/flaky/a/').length, 3, 'the app saw the first try and two retries (the prefix rewritten to /)')
      t.ok(
        m.apps.seenUnder('/flaky/a/').every((s) => s.pod === 'reviews-v1'),
        'every try went to subset v1',
      )
    })

    await t.test('retries used up: the last 503 is returned, flagged URX', async (t) => {
      const r = await m.request({ path: '/retry/flaky/b/10' })
      t.equal(r.status, 503)
      t.equal(m.apps.seenUnder('/flaky/b/').length, 4, 'one try + 3 retries, no more')
      t.equal(await flags('URX', 503), 1)
    })

    await t.test('a route timeout of 0.3 s answers 504 UT and the app is not waited for', async (t) => {
      const r = await m.request({ path: '/timeout/delay/5000' })
      t.equal(r.status, 504)
      t.equal(r.body, 'upstream request timeout')
      t.ok(r.ms < 4_000, `answered after ${Math.round(r.ms)} ms, not the app's 5 s`)
      t.equal(m.apps.seenUnder('/delay/5000').length, 1, 'retries: attempts 0 — a single try')
      t.equal(await flags('UT', 504), 1)
      t.equal((await m.request({ path: '/timeout/delay/1' })).status, 200, 'a fast answer within the timeout passes')
    })

    await t.test('fault abort: 418 from the proxy, flagged FI, the app never reached', async (t) => {
      const r = await m.request({ path: '/fault-abort/x' })
      t.equal(r.status, 418)
      t.equal(m.apps.seenUnder('/fault-abort/').length, 0)
      t.equal(await flags('FI', 418), 1)
    })

    await t.test('fault delay: 0.2 s before the request goes on, flagged DI', async (t) => {
      const r = await m.request({ path: '/fault-delay/x' })
      t.equal(r.status, 200)
      t.ok(r.ms >= 190, `answered after ${Math.round(r.ms)} ms (fixedDelay 0.2 s)`)
      t.equal(m.apps.seenUnder('/fault-delay/').length, 1)
      t.equal(await flags('DI', 200), 1)
    })

    await t.test("Istio's default retries (no retries field: 2 attempts on 503) hide one failure", async (t) => {
      const r = await m.request({ path: '/flaky/c/1' })
      t.equal(r.status, 200)
      t.equal(m.apps.seenUnder('/flaky/c/').length, 2)
    })
  })
}
