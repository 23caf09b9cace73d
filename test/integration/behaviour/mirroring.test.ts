// Behaviour suite, both modes, same YAML (test/helpers/behaviour-scenario.ts): the /mirror/ route
// answers from subset v1 and sends a copy of every request to subset v2 with Envoy's `-shadow`
// authority; the copy's answer is dropped and never waited for.
import t from 'tap'
import { eventually } from '../../helpers/eventually.js'
import { MESH_CASES_FILE_TIMEOUT_MS, meshCases, startMeshUnderTest } from '../../helpers/mesh-under-test.js'

t.setTimeout(MESH_CASES_FILE_TIMEOUT_MS)
for (const c of await meshCases()) {
  t.test(`${c.name}: mirroring`, { timeout: c.timeoutMs, skip: c.skip }, async (t) => {
    const m = await startMeshUnderTest(t, c)

    await t.test('the primary answers; v2 gets a -shadow copy', async (t) => {
      for (let i = 0; i < 5; i++) {
        const r = await m.request({ path: `/mirror/${i}` })
        t.equal(r.status, 200)
        t.equal((JSON.parse(r.body) as { pod: string }).pod, 'reviews-v1')
      }
      await eventually(() => m.apps.seen.get('reviews-v2')!.filter((s) => s.url.startsWith('/mirror/')).length === 5)
      const copies = m.apps.seen.get('reviews-v2')!.filter((s) => s.url.startsWith('/mirror/'))
      t.same(
        copies.map((c) => c.headers.host),
        Array(5).fill('reviews-shadow:9080'),
      )
      t.same(copies.map((c) => c.url).sort(), ['/mirror/0', '/mirror/1', '/mirror/2', '/mirror/3', '/mirror/4'])
      t.equal(m.apps.seen.get('reviews-v1')!.filter((s) => s.url.startsWith('/mirror/')).length, 5, 'v1 saw each request once')
    })

    await t.test('the copy is fire-and-forget: a held copy does not hold the primary', async (t) => {
      const held = await m.request({ path: '/mirror/hold-at/reviews-v2/m1' })
      t.equal(held.status, 200, 'v1 answered')
      t.equal((JSON.parse(held.body) as { pod: string }).pod, 'reviews-v1')
      await eventually(() => m.apps.held('m1') === 1)
      t.equal(m.apps.held('m1'), 1, 'while the copy is still held at v2')
      t.equal((await m.request({ path: '/mirror/7' })).status, 200, 'the next request passes while the copy is held')
      m.apps.release('m1')
    })
  })
}
