// Behaviour suite, run in both modes on the same YAML (test/helpers/behaviour-scenario.ts): the
// seed's 90/10 canary by weight, a header match overriding it, and a VirtualService edit taking
// effect on the next requests.
import t from 'tap'
import { ROUTES_YAML, SUBSETS_YAML } from '../../helpers/behaviour-scenario.js'
import { MESH_CASES_FILE_TIMEOUT_MS, meshCases, requestsTotal, startMeshUnderTest } from '../../helpers/mesh-under-test.js'

const podOf = (body: string): string => (JSON.parse(body) as { pod: string }).pod

t.setTimeout(MESH_CASES_FILE_TIMEOUT_MS)
for (const c of await meshCases()) {
  t.test(`${c.name}: routing`, { timeout: c.timeoutMs, skip: c.skip }, async (t) => {
    const m = await startMeshUnderTest(t, c)

    await t.test("the seed's 90/10 canary over 1 000 requests", async (t) => {
      const counts = new Map<string, number>()
      const total = 1000
      let next = 0
      const worker = async (): Promise<void> => {
        while (next < total) {
          next++
          const r = await m.request({ path: '/reviews/1' })
          if (r.status !== 200) throw new Error(`status ${r.status}: ${r.body}`)
          counts.set(podOf(r.body), (counts.get(podOf(r.body)) ?? 0) + 1)
        }
      }
      await Promise.all([worker(), worker(), worker(), worker()])
      const v2 = (counts.get('reviews-v2') ?? 0) / total
      t.ok(v2 > 0.06 && v2 < 0.14, `v1 ${counts.get('reviews-v1')}, v2 ${counts.get('reviews-v2')} (v2 share ${v2})`)
      t.notOk(counts.has('ratings-v1'), 'only reviews pods answer')
      t.equal(
        requestsTotal(await m.l7Metrics(), { reporter: m.l7Reporter, destination_service_name: 'reviews', response_code: '200' }),
        total,
        `istio_requests_total from the ${m.l7Reporter} reporter counts every request`,
      )
    })

    await t.test('a header match sends every request to v2', async (t) => {
      for (let i = 0; i < 20; i++) {
        const r = await m.request({ path: '/reviews/2', headers: { 'x-canary': 'always' } })
        t.equal(podOf(r.body), 'reviews-v2')
      }
    })

    await t.test('editing the VirtualService moves traffic on the next requests', async (t) => {
      await m.writeFile(
        'reviews-routes.yaml',
        ROUTES_YAML.replace('weight: 90', 'weight: 0').replace('weight: 10', 'weight: 100') + `---\n${SUBSETS_YAML}`,
      )
      await m.converged()
      for (let i = 0; i < 20; i++) t.equal(podOf((await m.request({ path: '/reviews/3' })).body), 'reviews-v2')
    })
  })
}
