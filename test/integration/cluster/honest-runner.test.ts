// `ambient cluster up` (built CLI) as a new user meets it: "up" means ready (the first requests
// after it all succeed), a second cluster on the same addresses is refused before it starts
// anything, a malformed file in the watched directory is printed by the runner and shown by
// `cluster status`, `zc connections` counts bytes on a live connection, a crashed process is shown with its restarts and last exit, and a runner that
// dies (SIGKILL, a second Ctrl-C) leaves no component running; a crash-looping pod shows its last
// error, and Ctrl-C while `cluster up` waits stops all. Its own address plans (127.100-139).
import t from 'tap'
import { execFile } from 'node:child_process'
import { randomInt } from 'node:crypto'
import { existsSync } from 'node:fs'
import { rm, writeFile } from 'node:fs/promises'
import { createServer, type Server } from 'node:net'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { eventually } from '../../helpers/eventually.js'
import { alive, bookinfoDirs, CLI, DIST, listeners, startCluster, waitClusterUp } from '../../helpers/cluster-fixture.js'
import { httpGetViaSocks } from '../../../src/cluster/sample-apps/http-client.js'
import { connect as socksConnect } from '../../../src/capture/socks5-client.js'

const built = existsSync(join(DIST, 'cluster/preflight.js'))
const run = promisify(execFile)
const X = 100 + randomInt(0, 5) * 4

interface Status {
  processes: { name: string; pid?: number; restarts: number; lastExit?: { signal: string | null; logTail: string } }[]
  analysis?: { file?: string; line?: number; code: string; fix: string }[]
}

t.test(
  'cluster up: ready when up, one at a time, edits and crashes speak up, nothing outlives the runner',
  { timeout: 130_000, skip: built ? false : 'run npm run build' },
  async (t) => {
    const dirs = await bookinfoDirs(t, 'ambient-honest-')
    const cluster = startCluster(t, dirs, X)
    await waitClusterUp(cluster, 60_000)
    t.match(cluster.output(), /cluster up: ready/)
    const state = cluster.state()!
    const curl = state.pods.find((p) => p.workload === 'curl')!

    // Up means up: the first 20 requests through the mesh (curl → productpage → details, reviews via
    // the waypoint → ratings) all succeed, with no retry or wait before them.
    const pages: string[] = []
    for (let i = 0; i < 20; i++) {
      const r = await httpGetViaSocks({ host: curl.podIP, port: 15080 }, 'http://productpage:9080/productpage', { timeoutMs: 5_000 })
      const body = JSON.parse(r.body) as { details?: { author?: string; error?: string }; reviews?: { podname?: string; error?: string } }
      pages.push(
        r.status === 200 && body.details?.author !== undefined && body.reviews?.podname !== undefined
          ? 'ok'
          : `${r.status} ${body.details?.error ?? ''} ${body.reviews?.error ?? ''}`,
      )
    }
    t.same(
      pages.filter((p) => p !== 'ok'),
      [],
      'every one of the first 20 requests after "up" got a whole page',
    )

    // A second cluster on the same addresses (another state dir) is refused before it starts anything.
    const second = await run(
      process.execPath,
      [
        CLI,
        'cluster',
        'up',
        '--config',
        dirs.configDir,
        '--state-dir',
        join(dirs.dir, 'second'),
        '--address-plan',
        `127.${X},127.${X + 1},127.${X + 2}`,
        '--node-ips',
        `127.${X + 3}.0`,
        '--grpc-port',
        '0',
        '--debug-port',
        '0',
      ],
      { timeout: 60_000 },
    ).then(
      () => ({ code: 0, stderr: '' }),
      (e: { code: number; stderr: string }) => e,
    )
    t.equal(second.code, 2, 'refused with a usage-class exit code')
    t.match(second.stderr, /\[CLUSTER_ADDRESS_IN_USE\] cannot start: \d+ addresses this cluster needs are taken/)
    t.match(second.stderr, new RegExp(`127\\.${X + 3}\\.0\\.1:15021 +ztunnel node-1 readiness \\(--node-ips\\): in use`))
    t.match(second.stderr, new RegExp(`127\\.${X}\\.1\\.1:15080 +the first pod on node-1: capture \\(--address-plan\\): in use`))
    t.match(second.stderr, /--node-ips 127\.19\.0 --address-plan/, 'names the flags that pick another plan')
    t.notOk(existsSync(join(dirs.dir, 'second', 'cluster.json')), 'the refused cluster wrote no run state')

    // A malformed file in the watched directory: the runner prints it (file:line, code, fix), and
    // `cluster status` shows it, until it is fixed.
    await writeFile(join(dirs.configDir, 'broken.yaml'), 'apiVersion: v1\nkind: Service\nmetadata:\n  name: [oops\n')
    await eventually(() => /cluster: config error: \S*broken\.yaml:\d+ Error \[\w+\].* — fix: /.test(cluster.output()), {
      timeoutMs: 20_000,
      intervalMs: 100,
    })
    t.pass('the runner printed the new analysis error with file:line, code and fix')
    const status = await eventually(
      async () => {
        const r = await run(process.execPath, [CLI, 'cluster', 'status', '--state-dir', dirs.stateDir])
        return /config analysis .*: \d+ errors?\n {2}\S*broken\.yaml:\d+ Error \[/.test(r.stdout) ? r.stdout : false
      },
      { timeoutMs: 15_000, intervalMs: 200 },
    )
    t.match(status, /broken\.yaml:\d+ Error \[\w+\]/)
    const json = JSON.parse(
      (await run(process.execPath, [CLI, 'cluster', 'status', '--state-dir', dirs.stateDir, '-o', 'json'])).stdout,
    ) as Status
    t.match(json.analysis, [{ file: /broken\.yaml$/, line: Number, code: String, fix: String }])
    const yaml = (await run(process.execPath, [CLI, 'cluster', 'status', '--state-dir', dirs.stateDir, '-o', 'yaml'])).stdout
    t.match(yaml, /^analysis:\n {2}- level: Error/m)
    await rm(join(dirs.configDir, 'broken.yaml'))
    await eventually(() => /cluster: config error fixed: \S*broken\.yaml/.test(cluster.output()), { timeoutMs: 20_000, intervalMs: 100 })
    t.pass('its fix is reported too')

    // A crashed process: restarted, and `cluster status` shows its restarts and last exit.
    const details = cluster.state()!.processes.find((p) => p.name.startsWith('pod/default/details'))!
    process.kill(details.pid!, 'SIGKILL')
    const crashed = await eventually(
      async () => {
        const s = JSON.parse(
          (await run(process.execPath, [CLI, 'cluster', 'status', '--state-dir', dirs.stateDir, '-o', 'json'])).stdout,
        ) as Status
        const p = s.processes.find((x) => x.name === details.name)
        return p !== undefined && p.restarts >= 1 && p.lastExit !== undefined ? p : false
      },
      { timeoutMs: 20_000, intervalMs: 200 },
    )
    t.equal(crashed.lastExit!.signal, 'SIGKILL')
    const text = (await run(process.execPath, [CLI, 'cluster', 'status', '--state-dir', dirs.stateDir])).stdout
    t.match(text, new RegExp(`${details.name.replaceAll('/', '\\/')} +pid \\S+ +restarts [1-9]`))
    t.match(text, /last exit .*: SIGKILL; log \S+:/)

    // zc connections shows bytes on a connection that is still open (a request held half-written).
    const held = await socksConnect(
      curl.podIP,
      15080,
      { host: 'productpage', port: 9080 },
      { earlyData: `GET /productpage HTTP/1.1\r\nhost: productpage\r\nx-pad: ${'a'.repeat(5000)}` },
    )
    t.teardown(() => held.destroy())
    const busy = await eventually(
      async () => {
        const flows = JSON.parse(
          (await run(process.execPath, [CLI, 'zc', 'connections', '--pod', 'curl', '--state-dir', dirs.stateDir, '-o', 'json'])).stdout,
        ) as { direction: string; bytesReceived: number }[]
        return flows.find((f) => f.direction === 'outbound' && f.bytesReceived >= 5000) ?? false
      },
      { timeoutMs: 20_000, intervalMs: 300 },
    )
    t.ok(busy.bytesReceived >= 5000, `a live flow shows its bytes before it closes (${busy.bytesReceived})`)
    held.destroy()

    // The runner dies without cleaning up (SIGKILL, or a second Ctrl-C): every component notices and stops.
    const pids = cluster
      .state()!
      .processes.map((p) => p.pid)
      .filter((p): p is number => p !== undefined)
    t.ok(pids.length >= 10, `${pids.length} component processes`)
    cluster.proc.kill('SIGKILL')
    await eventually(() => pids.every((p) => !alive(p)), { timeoutMs: 30_000, intervalMs: 200 })
    t.pass('no component outlived its runner')
    t.same(
      await listeners([`127.${X}.`, `127.${X + 1}.`, `127.${X + 2}.`, `127.${X + 3}.0.`]),
      [],
      "nothing left bound on the plan's addresses",
    )
  },
)

t.test(
  'a pod that cannot bind crash-loops: status shows its restarts and last error; Ctrl-C while waiting stops everything',
  { timeout: 110_000, skip: built ? false : 'run npm run build' },
  async (t) => {
    const dirs = await bookinfoDirs(t, 'ambient-crashloop-')
    const Y = X + 20
    // Every pod-local address of node 1 already has 9080 taken: the apps there exit on EADDRINUSE.
    const blockers = await Promise.all(
      Array.from(
        { length: 8 },
        (_, i) =>
          new Promise<Server>((resolve, reject) => {
            const s = createServer()
            s.once('error', reject)
            s.listen(9080, `127.${Y + 1}.1.${i + 1}`, () => resolve(s))
          }),
      ),
    )
    t.teardown(() => Promise.all(blockers.map((s) => new Promise((r) => s.close(r)))))
    const cluster = startCluster(t, dirs, Y)
    const waiting = await eventually(
      () => /cluster: waiting for \d+ things? to be ready: .*(app not listening|restarting \(\d+ restarts?\))/.test(cluster.output()),
      {
        timeoutMs: 60_000,
        intervalMs: 100,
      },
    )
    t.ok(waiting, 'cluster up says what it waits for instead of "up"')
    t.notMatch(cluster.output(), /cluster up: ready/)
    const looping = await eventually(
      async () => {
        const r = await run(process.execPath, [CLI, 'cluster', 'status', '--state-dir', dirs.stateDir]).catch(() => ({ stdout: '' }))
        const restarted = new RegExp(
          String.raw`restarts [1-9]\d*.*\n {4}last exit .*: code [1-9]\d*; log \S+:\n(?: {6}.*\n)*? {6}.*` +
            '(EADDRINUSE|address already in use|NET_ADDRESS_IN_USE)',
        )
        return restarted.test(r.stdout) ? r.stdout : false
      },
      { timeoutMs: 40_000, intervalMs: 300 },
    )
    t.match(looping, /CRASH-LOOPING|restarts [1-9]/, 'the crash-looping pod with its restarts and last error')
    const pids = cluster
      .state()!
      .processes.map((p) => p.pid)
      .filter((p): p is number => p !== undefined)
    cluster.proc.kill('SIGINT')
    const code = await new Promise<number | null>((resolve) =>
      cluster.proc.exitCode !== null ? resolve(cluster.proc.exitCode) : cluster.proc.once('exit', (c) => resolve(c)),
    )
    t.equal(code, 130, 'Ctrl-C before "up": exit 130')
    t.match(cluster.output(), /cluster: stopped before it was up/)
    t.ok(
      pids.every((p) => !alive(p)),
      'every process the runner started is gone when it exits',
    )
    t.notOk(existsSync(join(dirs.stateDir, 'cluster.json')), 'no run state left')
  },
)
