// `ambient cluster up` end to end (multi-process tier, from the built CLI; skipped without one):
// bookinfo from test/fixtures on two nodes, a request through the mesh (curl pod → productpage →
// details + reviews (waypoint) → ratings), live config changes (a DENY policy, a scale-up), a killed
// pod restarted, `cluster down` leaving nothing running or bound, and an unknown image refused.
// Its own address plan and node IPs, so it never meets the demo's or other tests' addresses.
import t from 'tap'
import { execFile } from 'node:child_process'
import { randomInt } from 'node:crypto'
import { existsSync, readFileSync } from 'node:fs'
import { rm, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { eventually } from '../../helpers/eventually.js'
import { needs, requires } from '../../helpers/requires.js'
import {
  alive,
  bookinfoDirs,
  CLI,
  denyCurlPolicy,
  DIST,
  FIXTURES,
  listeners,
  startCluster,
  waitClusterUp,
} from '../../helpers/cluster-fixture.js'
import { httpGetViaSocks, isPolicyDenial } from '../../../src/cluster/sample-apps/http-client.js'
import { L7_PROXY_ENV, L7_PROXY_NODE_FLAGS } from '../../../src/l7-proxy-process.js'

const built = needs.file(join(DIST, 'cli/commands/cluster.js'), 'run npm run build')
const run = promisify(execFile)
// pods 127.X, pod-local 127.X+1, VIPs 127.X+2, nodes 127.X+3.0.k: 196..236, away from the defaults
// (127.244/245/96, 127.18.0) and from the other multi-process tests (odd octets below 182).
const X = 196 + randomInt(0, 11) * 4

const BUILD_SKIP = requires(t, built)

t.test('cluster up on bookinfo: traffic, live changes, restarts, clean down', { timeout: 90_000, skip: BUILD_SKIP }, async (t) => {
  const dirs = await bookinfoDirs(t, 'ambient-cluster-')
  const { dir, configDir } = dirs
  const cluster = startCluster(t, dirs, X)
  await waitClusterUp(cluster, 40_000)

  const state = cluster.state()!
  t.ok(state, 'the run state is written')
  const roles = (role: string): number => state.processes.filter((p) => p.role === role && p.pid !== undefined && alive(p.pid)).length
  t.equal(roles('istiod'), 1, 'istiod runs')
  t.equal(roles('ztunnel'), 2, 'a ztunnel per node')
  t.equal(roles('pod'), 7, 'a process per bookinfo pod (6 apps and curl)')
  t.ok(
    state.pods.every((p) => p.podIP.startsWith(`127.${X}.`)),
    'pods got addresses of the plan',
  )
  const curlPod = state.pods.find((p) => p.workload === 'curl')!
  const proxy = { host: curlPod.podIP, port: 15080 }

  await t.test('curl pod → productpage → details, reviews (via the waypoint) → ratings', async (t) => {
    const page = await eventually(
      async () => {
        const r = await httpGetViaSocks(proxy, 'http://productpage:9080/productpage', { timeoutMs: 3_000 })
        const body = JSON.parse(r.body) as { details?: { author?: string }; reviews?: { podname?: string } }
        return r.status === 200 && body.reviews?.podname !== undefined && body.details?.author !== undefined ? body : false
      },
      { timeoutMs: 20_000, intervalMs: 200 },
    )
    t.match(page.reviews!.podname, /^reviews-v[123]-/, "the page includes reviews' answer")
  })

  await t.test('the waypoint runs fed by istiod (--xds), with its Node flags and malloc bound', async (t) => {
    const wp = cluster.state()!.processes.find((p) => p.role === 'waypoint' && p.pid !== undefined && alive(p.pid))
    t.ok(wp, 'a waypoint process')
    const argv = readFileSync(`/proc/${wp!.pid}/cmdline`, 'utf8').split('\0')
    const env = readFileSync(`/proc/${wp!.pid}/environ`, 'utf8').split('\0')
    t.ok(argv.includes('--xds'), `--xds, not the file bridge (${argv.slice(1).join(' ')})`)
    t.notOk(argv.includes('--ca-dir'), 'no local CA')
    for (const flag of L7_PROXY_NODE_FLAGS) t.ok(argv.includes(flag), flag)
    for (const [k, v] of Object.entries(L7_PROXY_ENV)) t.ok(env.includes(`${k}=${v}`), `${k}=${v}`)
  })

  await t.test("ambient exec curl -- curl (the pod's env and capture)", { skip: requires(t, needs.curl) }, async (t) => {
    const { stdout } = await run(
      process.execPath,
      [CLI, 'exec', '--state-dir', join(dir, 'state'), 'curl', '--', 'curl', '-s', '-m', '5', 'http://reviews:9080/reviews/0'],
      { timeout: 15_000 },
    )
    t.match(JSON.parse(stdout), { podname: /^reviews-v/ })
    const env = await run(process.execPath, [CLI, 'exec', '--state-dir', join(dir, 'state'), 'deploy/curl', '--', 'env'], {
      timeout: 15_000,
    })
    t.match(env.stdout, new RegExp(`ALL_PROXY=socks5h://${curlPod.podIP.replaceAll('.', '\\.')}:15080`))
    t.match(env.stdout, /POD_NAMESPACE=default/)
    t.match(env.stdout, /SERVICE_ACCOUNT=curl/)
  })

  await t.test('a DENY policy written into the config dir applies live, and its removal too', async (t) => {
    const deny = join(configDir, 'deny-curl.yaml')
    await writeFile(deny, denyCurlPolicy('details'))
    await eventually(
      async () => {
        try {
          await httpGetViaSocks(proxy, 'http://details:9080/details/0', { timeoutMs: 3_000 })
          return false
        } catch (err) {
          return isPolicyDenial(err)
        }
      },
      { timeoutMs: 15_000, intervalMs: 200 },
    )
    t.pass('curl → details is denied')
    await rm(deny)
    await eventually(async () => (await httpGetViaSocks(proxy, 'http://details:9080/details/0', { timeoutMs: 3_000 })).status === 200, {
      timeoutMs: 15_000,
      intervalMs: 200,
    })
    t.pass('allowed again once the file is gone')
  })

  await t.test('scaling a Deployment starts a pod process', async (t) => {
    const file = join(configDir, 'ratings.yaml')
    await writeFile(file, readFileSync(file, 'utf8').replace('replicas: 1', 'replicas: 2'))
    await eventually(() => (cluster.state()?.pods.filter((p) => p.workload === 'ratings-v1').length ?? 0) === 2, {
      timeoutMs: 15_000,
      intervalMs: 100,
    })
    const ratings = await eventually(
      () => {
        const procs = cluster.state()!.processes.filter((p) => p.name.startsWith('pod/default/ratings-v1-') && p.pid !== undefined)
        return procs.length === 2 ? procs : false
      },
      { timeoutMs: 10_000, intervalMs: 100 },
    )
    t.equal(ratings.length, 2, 'two ratings pods run')
  })

  await t.test('a killed pod process is reported and restarted', async (t) => {
    const victim = cluster.state()!.processes.find((p) => p.name.startsWith('pod/default/details-v1-'))!
    process.kill(victim.pid!, 'SIGKILL')
    const back = await eventually(
      () => {
        const p = cluster.state()?.processes.find((q) => q.name === victim.name)
        return p !== undefined && p.pid !== undefined && p.pid !== victim.pid && alive(p.pid) ? p : false
      },
      { timeoutMs: 15_000, intervalMs: 100 },
    )
    t.equal(back.restarts, 1)
    t.match(cluster.output(), new RegExp(`${victim.name} exited \\(SIGKILL\\); restarting`))
    await eventually(async () => (await httpGetViaSocks(proxy, 'http://details:9080/details/0', { timeoutMs: 3_000 })).status === 200, {
      timeoutMs: 10_000,
      intervalMs: 200,
    })
  })

  await t.test('cluster down from another process leaves nothing running or bound', async (t) => {
    const pids = cluster
      .state()!
      .processes.map((p) => p.pid!)
      .filter((p) => p !== undefined)
    const { stdout } = await run(process.execPath, [CLI, 'cluster', 'down', '--state-dir', join(dir, 'state')], { timeout: 40_000 })
    t.match(stdout, /cluster down/)
    await eventually(() => cluster.proc.exitCode !== null, { timeoutMs: 5_000, intervalMs: 20 })
    t.equal(cluster.proc.exitCode, 0, 'cluster up exits 0')
    t.same(pids.filter(alive), [], 'no component process is left')
    t.same(await listeners([`127.${X}.`, `127.${X + 1}.`, `127.${X + 3}.0.`]), [], 'nothing bound on the pod, pod-local or node addresses')
    t.notOk(existsSync(join(dir, 'state', 'cluster.json')), 'the run state is removed')
  })
})

t.test('an unknown image fails cluster up with the known images, and nothing is left', { timeout: 30_000, skip: BUILD_SKIP }, async (t) => {
  const dirs = await bookinfoDirs(t, 'ambient-cluster-bad-')
  const { dir, configDir } = dirs
  await writeFile(
    join(configDir, 'details.yaml'),
    readFileSync(join(FIXTURES, 'details.yaml'), 'utf8').replace(/image: .*/, 'image: nginx:1.27'),
  )
  const cluster = startCluster(t, dirs, X)
  const code = await new Promise<number | null>((res) => cluster.proc.once('exit', (c) => res(c)))
  t.equal(code, 2, 'a config error')
  t.match(cluster.output(), /CLUSTER_UNKNOWN_IMAGE/)
  t.match(cluster.output(), /image "nginx:1\.27" has no built-in sample app/)
  t.match(cluster.output(), /examples-bookinfo-productpage-v1.*httpbin.*curl/)
  t.notOk(existsSync(join(dir, 'state', 'cluster.json')))
})
