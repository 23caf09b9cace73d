// Which mode the cluster runner starts a waypoint in: fed by istiod (`ambient waypoint --xds`) when
// the built CLI has the xDS waypoint, else the bridge (a config file from /debug/config and the CA
// directory, which loads the certificate library: ≈ 15 MB more RSS per waypoint). The check once read
// the command's option spec out of its built source and stopped matching when those options moved to
// their own module, so every cluster (and bench:waypoint) ran the bridge. And the Node flags it gets.
import t from 'tap'
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { spawnSync } from 'node:child_process'
import { waypointSupportsXds } from '../../../src/cluster/cluster.js'
import { HBONE_PROCESS_NODE_FLAGS } from '../../../src/hbone/settings.js'
import { L7_PROXY_NODE_FLAGS } from '../../../src/l7-proxy-process.js'
import { cliEntry } from '../../helpers/run-cli.js'
import { needs, requires } from '../../helpers/requires.js'

t.test('a build with the xDS waypoint next to its CLI runs waypoints fed by istiod; one without, the bridge', async (t) => {
  const dir = await mkdtemp(path.join(tmpdir(), 'waypoint-mode-'))
  t.teardown(() => rm(dir, { recursive: true, force: true }))
  await mkdir(path.join(dir, 'cli'))
  await mkdir(path.join(dir, 'waypoint'))
  const cli = path.join(dir, 'cli', 'main.js')
  await writeFile(cli, '')
  t.equal(waypointSupportsXds(cli), false, 'no xds-waypoint.js: the bridge')
  await writeFile(path.join(dir, 'waypoint', 'xds-waypoint.js'), '')
  t.equal(waypointSupportsXds(cli), true, 'xds-waypoint.js beside the CLI: --xds')
})

t.test(
  'the built CLI runs its waypoints fed by istiod',
  { skip: requires(t, needs.file(cliEntry, 'npx tsc -p tsconfig.build.json')) },
  async (t) => {
    t.equal(waypointSupportsXds(cliEntry), true)
  },
)

t.test(
  'a waypoint runs with the HBONE process flags, GC and optimizing compiler on the main thread, and this Node takes them',
  async (t) => {
    t.same(L7_PROXY_NODE_FLAGS, [...HBONE_PROCESS_NODE_FLAGS, '--single-threaded-gc', '--no-concurrent-recompilation'])
    const run = spawnSync(process.execPath, [...L7_PROXY_NODE_FLAGS, '-e', 'process.stdout.write("ok")'], {
      encoding: 'utf8',
      timeout: 30_000,
    })
    t.equal(run.status, 0, run.stderr)
    t.equal(run.stdout, 'ok')
  },
)
