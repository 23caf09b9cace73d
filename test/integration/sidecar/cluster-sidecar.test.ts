// `ambient cluster up --mode sidecar` smoke test (multi-process tier, from the built CLI; skipped
// without one): the bookinfo fixtures, istiod with sidecar configs, one `ambient sidecar` per pod
// and no ztunnel or waypoint; curl pod → productpage → details + reviews → ratings through the
// sidecars, and `cluster down` (SIGTERM) leaves nothing of it running.
import t from 'tap'
import { randomInt } from 'node:crypto'
import { existsSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { eventually } from '../../helpers/eventually.js'
import { alive, bookinfoDirs, CLI, DIST, startCluster, waitClusterUp } from '../../helpers/cluster-fixture.js'
import { httpGetViaSocks } from '../../../src/cluster/sample-apps/http-client.js'
import { L7_PROXY_ENV, L7_PROXY_NODE_FLAGS } from '../../../src/l7-proxy-process.js'

const built = existsSync(join(DIST, 'cli/commands/sidecar.js'))
// pods 127.X, pod-local 127.X+1, VIPs 127.X+2, nodes 127.X+3.0.k: X in 150..178 step 4 (even), away
// from the defaults and the cluster test's 196..236.
const X = 150 + randomInt(0, 8) * 4

t.test(
  'cluster up --mode sidecar on bookinfo',
  { timeout: 90_000, skip: built ? false : `${CLI} has no sidecar command: run npm run build` },
  async (t) => {
    const cluster = startCluster(t, await bookinfoDirs(t, 'ambient-sidecar-cluster-'), X, ['--mode', 'sidecar'])
    const { proc, state } = cluster
    await waitClusterUp(cluster, 40_000)

    const s = await eventually(
      () => {
        const v = state()
        return v !== undefined && v.processes.filter((p) => p.role === 'sidecar').length === 7 ? v : false
      },
      { timeoutMs: 10_000, intervalMs: 100 },
    )
    const roles = (role: string): number => s.processes.filter((p) => p.role === role && p.pid !== undefined && alive(p.pid)).length
    t.equal(roles('istiod'), 1, 'istiod runs')
    t.equal(roles('ztunnel'), 0, 'no ztunnel')
    t.equal(roles('waypoint'), 0, 'no waypoint')
    t.equal(roles('pod'), 7, 'a process per bookinfo pod')
    t.equal(roles('sidecar'), 7, 'a sidecar per pod')

    // The sidecar runs the waypoint's L7 engine, with the waypoint's process flags and environment.
    const sidecar = s.processes.find((p) => p.role === 'sidecar' && p.pid !== undefined)!
    const argv = readFileSync(`/proc/${sidecar.pid}/cmdline`, 'utf8').split('\0')
    const env = readFileSync(`/proc/${sidecar.pid}/environ`, 'utf8').split('\0')
    for (const flag of L7_PROXY_NODE_FLAGS) t.ok(argv.includes(flag), `sidecar runs with ${flag}`)
    for (const [k, v] of Object.entries(L7_PROXY_ENV)) t.ok(env.includes(`${k}=${v}`), `sidecar runs with ${k}=${v}`)

    const curl = s.pods.find((p) => p.workload === 'curl')!
    const page = await eventually(
      async () => {
        const r = await httpGetViaSocks({ host: curl.podIP, port: 15080 }, 'http://productpage:9080/productpage', { timeoutMs: 3_000 })
        const body = JSON.parse(r.body) as { details?: { author?: string }; reviews?: { podname?: string } }
        return r.status === 200 && body.reviews?.podname !== undefined && body.details?.author !== undefined ? body : false
      },
      { timeoutMs: 30_000, intervalMs: 200 },
    )
    t.match(page.reviews!.podname, /^reviews-v[123]-/, 'productpage reached reviews through the sidecars')

    proc.kill('SIGTERM')
    await eventually(() => proc.exitCode !== null, { timeoutMs: 20_000, intervalMs: 50 })
    t.equal(s.processes.filter((p) => p.pid !== undefined && alive(p.pid)).length, 0, 'nothing left running')
  },
)
