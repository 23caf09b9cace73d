// End to end: a Telemetry resource written to istiod's config turns the waypoint's access log on
// (the seed's mesh-wide example), and removing it turns it off again.
import t from 'tap'
import { readFile } from 'node:fs/promises'
import { fileURLToPath } from 'node:url'
import { eventually } from '../../helpers/eventually.js'
import { startWaypointIstiodMesh } from '../../helpers/waypoint-istiod-mesh.js'

const SEED = fileURLToPath(new URL('../../fixtures/seed/09-telemetry-access-log.yaml', import.meta.url))

t.test("the seed's Telemetry switches the waypoint's access log through istiod", { timeout: 60_000 }, async (t) => {
  const h = await startWaypointIstiodMesh(t)
  await h.mesh.converged()
  const wp = await h.startWaypoint()
  const accessLines = () => h.mesh.log.filter((r) => r.event === 'access_log' && r.component === 'waypoint')
  t.same(wp.config().telemetry, { accessLog: false, tracing: null }, 'no Telemetry: off')
  t.equal((await h.request()).status, 200)
  t.equal(accessLines().length, 0)

  await h.mesh.writeFile('telemetry.yaml', await readFile(SEED, 'utf8'))
  await eventually(() => wp.config().telemetry?.accessLog === true, { timeoutMs: 10_000 })
  t.equal((await h.request({ path: '/reviews/7' })).status, 200)
  const line = await h.mesh.log.waitFor((r) => r.event === 'access_log' && r.path === '/reviews/7', 5_000)
  t.match(line, {
    msg: 'request complete',
    method: 'GET',
    response_code: 200,
    source_principal: 'spiffe://cluster.local/ns/default/sa/client',
  })

  await h.mesh.removeFile('telemetry.yaml')
  await eventually(() => wp.config().telemetry?.accessLog === false, { timeoutMs: 10_000 })
  const before = accessLines().length
  t.equal((await h.request({ path: '/reviews/8' })).status, 200)
  t.equal(accessLines().length, before, 'off again: no line')
})
