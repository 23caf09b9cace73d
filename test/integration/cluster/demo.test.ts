// `ambient demo` end to end (from the built CLI): cluster up on deploy/demo, traffic from the curl pod
// through productpage, details, the reviews waypoint (the 90/10 canary) and ratings, all mTLS, and
// the tour's DENY refusing productpage → details. Run from a temp directory as cwd: the demo keeps
// its state in ./.ambient there, so `cluster status`, `zc` and `exec` find it without flags (as
// README says) while it runs. Counting starts after a first whole page: no failure in the summary.
// Bounded: --duration 20s; the demo tears down.
import t, { type Test } from 'tap'
import { cliEntry as CLI, distDir as DIST } from '../../helpers/run-cli.js'
import { execFile, spawn, type ChildProcess } from 'node:child_process'
import { existsSync } from 'node:fs'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { promisify } from 'node:util'
import { eventually } from '../../helpers/eventually.js'
import { listeners } from '../../helpers/cluster-fixture.js'

const run = promisify(execFile)

const built = existsSync(join(DIST, 'cluster/demo.js')) && existsSync(resolve(DIST, '../deploy/demo'))

interface RunningDemo {
  readonly cwd: string
  readonly child: ChildProcess
  readonly exited: Promise<number | null>
  /** stdout and stderr so far. */
  readonly out: string
}

/** `ambient demo ARGS` from a fresh directory, resolved once the first whole page went through the mesh. */
async function startDemo(t: Test, args: readonly string[]): Promise<RunningDemo> {
  const cwd = await mkdtemp(join(tmpdir(), 'ambient-demo-cwd-'))
  t.teardown(() => rm(cwd, { recursive: true, force: true }))
  const child = spawn(process.execPath, [CLI, 'demo', ...args], { stdio: ['ignore', 'pipe', 'pipe'], cwd })
  t.teardown(() => {
    if (child.exitCode === null) child.kill('SIGTERM')
  })
  let out = ''
  for (const s of [child.stdout!, child.stderr!]) s.on('data', (d: Buffer) => (out += d.toString()))
  const exited = new Promise<number | null>((res) => child.once('exit', (c) => res(c)))
  await eventually(
    () => {
      if (child.exitCode !== null) throw new Error(out)
      return out.includes('up: a first whole page')
    },
    { timeoutMs: 80_000, intervalMs: 100 },
  )
  return {
    cwd,
    child,
    exited,
    get out() {
      return out
    },
  }
}

t.test(
  "ambient demo carries bookinfo traffic and shows the tour's denial",
  { timeout: 100_000, skip: built ? false : `${CLI} has no cluster demo: run npm run build` },
  async (t) => {
    const demo = await startDemo(t, ['--duration', '20s'])
    const { cwd, exited } = demo
    // While it runs: the inspection commands reach it from the same directory, without flags.
    t.match(
      demo.out,
      /state dir: \S+\/\.ambient — in another terminal, from this directory:\n {4}node \S+ cluster status {5}node \S+ zc workloads/,
    )
    const status = await run(process.execPath, [CLI, 'cluster', 'status'], { cwd })
    t.match(status.stdout, /^mode: ambient/)
    t.match(status.stdout, /waypoint default\/reviews-waypoint/)
    const zc = await run(process.execPath, [CLI, 'zc', 'workloads', '-o', 'json'], { cwd })
    t.ok((JSON.parse(zc.stdout) as unknown[]).length >= 7, "zc workloads lists the demo's pods")
    const env = await run(process.execPath, [CLI, 'exec', 'curl', '--', 'env'], { cwd })
    t.match(env.stdout, /ALL_PROXY=socks5h:\/\/127\.244\.\d+\.\d+:15080/)
    const code = await exited
    t.equal(code, 0, demo.out)
    const lastRow = (edge: string): { connections: number; denied: number; mtls: string } => {
      const m = new RegExp(`${edge}\\s+(\\d+)\\s+(\\d+)\\s+(\\S+)`).exec(
        demo.out
          .split('\n')
          .filter((l) => l.includes(edge))
          .at(-1) ?? '',
      )
      return { connections: Number(m?.[1]), denied: Number(m?.[2]), mtls: m?.[3] ?? '' }
    }
    const front = lastRow('curl → productpage-v1')
    t.ok(front.connections > 10, `curl → productpage carried traffic (${front.connections})`)
    t.equal(front.mtls, 'yes')
    t.ok(lastRow('productpage-v1 → details-v1').denied > 0, "the tour's DENY refused productpage → details")
    t.match(demo.out, /tour 1\/2: writing AuthorizationPolicy tour-deny-details/)
    t.match(demo.out, /tour 2\/2: removing the policy file/)
    t.match(demo.out, /reviews by version: .*v1 \d+/, 'the canary sends most reviews traffic to v1')
    t.match(demo.out, /productpage-v1 → reviews → \S+ 200 +\d+/, 'reviews traffic went through the waypoint')
    t.match(demo.out, /ztunnel node-1\s+admin http:\/\/127\.18\.0\.1:15000\/config_dump/)
    t.match(
      demo.out.split('\n').find((l) => /^t=\d+s {2}curl → productpage: /.test(l)),
      / \d+ pages, 0 failed,/,
      'the first summary has no failed page: counting starts from a ready mesh',
    )
    t.notOk(existsSync(join(cwd, '.ambient', 'cluster.json')), 'the run state is gone after the demo')
    // The summary's L4 rows come from the ztunnels' istio_tcp_* metrics, the L7 rows from the
    // waypoint's istio_requests_total: both were asserted above. After the demo: nothing bound on the
    // demo's pod, pod-local, VIP or node addresses, nor on the dashboard's port.
    t.same(
      await listeners(['127.244.', '127.245.', '127.96.', '127.18.0.', '127.0.0.1:20001', '127.0.0.1:15012', '127.0.0.1:15014']),
      [],
      'nothing left bound after the demo',
    )
  },
)

t.test(
  'Ctrl-C stops the demo and the process ends then, not at the end of --duration',
  { timeout: 100_000, skip: built ? false : `${CLI} has no cluster demo: run npm run build` },
  async (t) => {
    const demo = await startDemo(t, ['--duration', '10m', '--no-tour'])
    const { cwd, child, exited } = demo
    child.kill('SIGINT')
    // Bounded far below the 10 minutes the run asked for: the duration's timer must not hold the process.
    const code = await Promise.race([exited, new Promise<'still running'>((res) => setTimeout(() => res('still running'), 45_000).unref())])
    t.equal(code, 0, demo.out.slice(-2000))
    t.notOk(existsSync(join(cwd, '.ambient', 'cluster.json')), 'the run state is gone')
  },
)
