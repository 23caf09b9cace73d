// Behaviour suite, both modes, same YAML (test/helpers/behaviour-scenario.ts) plus an
// outlierDetection added to the reviews DestinationRule in the test: with reviews-v2 answering 500
// on the /any/ route (both versions, no subset), v2 is ejected after two consecutive 5xx and every
// later request is answered by v1 — in the waypoint (ambient) or in the caller's sidecar.
import t from 'tap'
import { ROUTES_YAML, SUBSETS_YAML } from '../../helpers/behaviour-scenario.js'
import { MESH_CASES_FILE_TIMEOUT_MS, meshCases, startMeshUnderTest } from '../../helpers/mesh-under-test.js'

const WITH_OUTLIER_DETECTION = SUBSETS_YAML.replace(
  '  subsets:',
  `  trafficPolicy:
    outlierDetection:
      consecutive5xxErrors: 2
      interval: 10s
      baseEjectionTime: 60s
      maxEjectionPercent: 50
  subsets:`,
)

t.setTimeout(MESH_CASES_FILE_TIMEOUT_MS)
for (const c of await meshCases()) {
  t.test(`${c.name}: outlier detection`, { timeout: c.timeoutMs, skip: c.skip }, async (t) => {
    const m = await startMeshUnderTest(t, c)
    await m.writeFile('reviews-routes.yaml', `${ROUTES_YAML}---\n${WITH_OUTLIER_DETECTION}`)
    await m.converged()
    const statuses: number[] = []
    for (let i = 0; i < 30; i++) statuses.push((await m.request({ path: `/any/fail-at/reviews-v2/500?i=${i}` })).status)
    t.equal(statuses.filter((s) => s === 500).length, 2, `reviews-v2 ejected after 2 consecutive 5xx: ${statuses.join(',')}`)
    t.same(statuses.slice(-10), Array(10).fill(200), 'then only v1 answers')
    const v2 = m.apps.seen.get('reviews-v2')!.filter((s) => s.url.startsWith('/any/')).length
    t.equal(v2, 2, 'v2 saw nothing after its ejection')
  })
}
