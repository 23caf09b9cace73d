// `ambient cluster status` knows the cluster's mode from the run state: sidecar mode lists each
// sidecar's metrics and readiness URL on its pod IP and no ztunnel; a run state without a mode (an
// older runner's) is ambient; a corrupt one is a coded error, not a crash. The run-state files are
// written by hand with this test's own pid as the runner (alive), then read by the built CLI.
import t from 'tap'
import { execFile } from 'node:child_process'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { CLI, DIST } from '../../helpers/cluster-fixture.js'
import { describe } from '../../../src/cli/commands/cluster.js'
import { readRunState, runStateMode, runStateSidecars, type RunState } from '../../../src/cluster/run-state.js'
import { needs, requires } from '../../helpers/requires.js'

const run = promisify(execFile)
const built = needs.file(join(DIST, 'cli/commands/cluster.js'), 'run npm run build')

const pod = (name: string, node: string, podIP: string, captured = true): RunState['pods'][number] => ({
  namespace: 'default',
  name: `${name}-0`,
  workload: name,
  node,
  podIP,
  podLocalIP: podIP.replace('127.244.', '127.245.'),
  captured,
  serviceAccount: name,
  images: [`docker.io/istio/examples-bookinfo-${name}:1.20.2`],
})

const base = (mode: RunState['mode']): RunState => ({
  version: 1,
  ...(mode === undefined ? {} : { mode }),
  runnerPid: process.pid,
  startedAt: '2026-01-01T00:00:00.000Z',
  configDir: '/config',
  istiod: { grpc: '127.0.0.1:15012', debug: '127.0.0.1:15014' },
  nodes: [
    { name: 'node-1', ip: '127.18.0.1' },
    { name: 'node-2', ip: '127.18.0.2' },
  ],
  processes: [{ name: 'istiod', role: 'istiod', pid: 1, restarts: 0, logFile: '/logs/istiod.log' }],
  pods: [
    pod('productpage-v1', 'node-1', '127.244.1.1'),
    pod('details-v1', 'node-2', '127.244.2.1'),
    pod('outside', 'node-2', '127.244.2.2', false),
  ],
  waypoints: [],
})

t.test('describe: sidecar mode lists sidecars, not ztunnels', async (t) => {
  const text = describe(base('sidecar'))
  t.match(text, /^mode: sidecar/)
  t.notMatch(text, /ztunnel node-/, 'no ztunnel line')
  t.match(text, /sidecars \(2\):/)
  t.match(
    text,
    /default\/productpage-v1-0\s+metrics http:\/\/127\.244\.1\.1:15020\/metrics {2}ready http:\/\/127\.244\.1\.1:15021\/healthz\/ready/,
  )
  t.match(text, /default\/details-v1-0\s+metrics http:\/\/127\.244\.2\.1:15020\/metrics/)
  t.notMatch(text, /outside-0\s+metrics/, 'a pod without a sidecar has no sidecar line')
  t.match(text, /outside-0 .*\(no sidecar\)/)
})

t.test('describe: ambient, with or without the mode field', async (t) => {
  for (const mode of ['ambient', undefined] as const) {
    const text = describe(base(mode))
    t.match(text, /^mode: ambient/, `mode ${String(mode)}`)
    t.match(text, /ztunnel node-1: admin http:\/\/127\.18\.0\.1:15000\/config_dump {2}metrics http:\/\/127\.18\.0\.1:15020\/metrics/)
    t.notMatch(text, /sidecars \(/)
    t.match(text, /outside-0 .*\(not captured\)/)
  }
  t.equal(runStateMode({}), 'ambient', 'no mode is ambient')
  t.same(runStateSidecars(base('ambient')), [], 'no sidecars in ambient')
})

t.test('readRunState: mode optional, bad files are RUN_STATE_INVALID', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'ambient-status-mode-'))
  t.teardown(() => rm(dir, { recursive: true, force: true }))
  await writeFile(join(dir, 'cluster.json'), JSON.stringify(base(undefined)))
  t.equal(runStateMode(readRunState(dir)!), 'ambient')
  await writeFile(join(dir, 'cluster.json'), JSON.stringify(base('sidecar')))
  t.equal(readRunState(dir)!.mode, 'sidecar')
  await writeFile(join(dir, 'cluster.json'), JSON.stringify({ ...base(undefined), mode: 'mesh' }))
  t.throws(() => readRunState(dir), { code: 'RUN_STATE_INVALID', message: /mode "mesh" is not ambient or sidecar/ })
  await writeFile(join(dir, 'cluster.json'), '{"version": 1, ')
  t.throws(() => readRunState(dir), { code: 'RUN_STATE_INVALID', message: /is not JSON/ })
  await writeFile(join(dir, 'cluster.json'), JSON.stringify({ ...base('sidecar'), pods: null }))
  t.throws(() => readRunState(dir), { code: 'RUN_STATE_INVALID', message: /not a run state \(pods is not a list\)/ })
  await writeFile(join(dir, 'cluster.json'), JSON.stringify({ version: 1 }))
  t.throws(() => readRunState(dir), {
    code: 'RUN_STATE_INVALID',
    message: /nodes is not a list, processes is not a list, pods is not a list, waypoints is not a list, istiod is missing/,
  })
  await writeFile(join(dir, 'cluster.json'), 'null')
  t.equal(readRunState(dir), undefined, 'JSON that is not a run state is none')
})

t.test(
  'ambient cluster status (built CLI) on sidecar, ambient and corrupt run states',
  { timeout: 30_000, skip: requires(t, built) },
  async (t) => {
    const dir = await mkdtemp(join(tmpdir(), 'ambient-status-cli-'))
    t.teardown(() => rm(dir, { recursive: true, force: true }))
    const status = (...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> =>
      run(process.execPath, [CLI, 'cluster', 'status', '--state-dir', dir, ...args]).then(
        (r) => ({ code: 0, ...r }),
        (err: { code: number; stdout: string; stderr: string }) => err,
      )

    await writeFile(join(dir, 'cluster.json'), JSON.stringify(base('sidecar')))
    const sidecar = await status()
    t.equal(sidecar.code, 0, sidecar.stderr)
    t.match(sidecar.stdout, /^mode: sidecar/)
    t.match(sidecar.stdout, /metrics http:\/\/127\.244\.1\.1:15020\/metrics {2}ready http:\/\/127\.244\.1\.1:15021\/healthz\/ready/)
    t.notMatch(sidecar.stdout, /ztunnel node-/)
    t.match(JSON.parse((await status('--json')).stdout), { mode: 'sidecar' })

    await writeFile(join(dir, 'cluster.json'), JSON.stringify(base(undefined)))
    const ambient = await status()
    t.match(ambient.stdout, /^mode: ambient\n/)
    t.match(ambient.stdout, /ztunnel node-2: admin/)
    t.match(JSON.parse((await status('--json')).stdout), { mode: 'ambient' }, 'the JSON says ambient for a file without a mode')

    await writeFile(join(dir, 'cluster.json'), '{ not json')
    const bad = await status()
    t.equal(bad.code, 2)
    t.match(bad.stderr, /\[RUN_STATE_INVALID\] .*cluster\.json is not JSON/)
  },
)
