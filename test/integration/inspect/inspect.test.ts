// `ambient zc` and `ambient explain` against a real `ambient cluster up` (multi-process tier, from
// the built CLI; skipped without one): bookinfo from test/fixtures on two nodes, its own address
// plan, node IPs and state dir. zc workloads lists the pods; zc --pod productpage reports its node,
// ztunnel, workload, policies, certificate and connections; explain curl → productpage:9080 is
// allowed, and --live agrees with the prediction.
import t from 'tap'
import { execFile } from 'node:child_process'
import { randomInt } from 'node:crypto'
import { existsSync } from 'node:fs'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { bookinfoDirs, CLI, DIST, startCluster, waitClusterUp } from '../../helpers/cluster-fixture.js'

const built = existsSync(join(DIST, 'cli/commands/explain.js')) && existsSync(join(DIST, 'cli/commands/cluster.js'))
const run = promisify(execFile)
// pods 127.X, pod-local 127.X+1, VIPs 127.X+2, nodes 127.X+3.0.k: 184..195, away from the defaults
// and from the cluster test's 196..239.
const X = 184 + randomInt(0, 3) * 4

t.test(
  'zc and explain on a running cluster',
  { timeout: 110_000, skip: built ? false : `${CLI} has no explain command: run npm run build` },
  async (t) => {
    const dirs = await bookinfoDirs(t, 'ambient-inspect-')
    const { dir, stateDir } = dirs
    await waitClusterUp(startCluster(t, dirs, X), 40_000)
    const ambient = async (...args: string[]) => {
      try {
        const r = await run(process.execPath, [CLI, ...args, '--state-dir', stateDir], { timeout: 20_000 })
        return { code: 0, stdout: r.stdout, stderr: r.stderr }
      } catch (err) {
        const e = err as { code?: number; stdout?: string; stderr?: string }
        return { code: e.code ?? -1, stdout: e.stdout ?? '', stderr: e.stderr ?? '' }
      }
    }

    const workloads = await ambient('zc', 'workloads')
    t.equal(workloads.code, 0, workloads.stderr)
    t.match(workloads.stdout, /^NAMESPACE\s+POD NAME\s+ADDRESS\s+NODE\s+WAYPOINT\s+PROTOCOL/)
    for (const app of ['curl', 'productpage-v1', 'details-v1', 'reviews-v1', 'ratings-v1'])
      t.match(workloads.stdout, new RegExp(`default\\s+${app}-\\S+\\s+127\\.${X}\\.`), app)
    const json = JSON.parse((await ambient('zc', 'services', '-o', 'json')).stdout) as { name: string; endpoints: string }[]
    t.ok(
      json.some((s) => s.name === 'reviews' && s.endpoints === '3/3'),
      'services as JSON with endpoint counts',
    )

    // Some traffic first, so the pod has a certificate on its node's ztunnel.
    const first = await ambient(
      'explain',
      '--from',
      'curl',
      '--to',
      'productpage:9080',
      '--method',
      'GET',
      '--path',
      '/productpage',
      '--live',
    )
    t.equal(first.code, 0, `${first.stdout}${first.stderr}`)
    t.match(first.stdout, /^ALLOW/)
    t.match(first.stdout, /AGREES with the prediction/)
    t.match(first.stdout, /observed: {2}HTTP 200/)
    t.match(
      first.stdout,
      /ztunnel node-\d inbound: default\/curl .*→ default\/productpage-v1 .* ok/,
      "the destination ztunnel's access record",
    )

    const predicted = await ambient('explain', '--from', 'curl', '--to', 'productpage:9080')
    t.equal(predicted.code, 0, predicted.stderr)
    t.match(predicted.stdout, /1\. capture: pod default\/curl-/)
    t.match(predicted.stdout, /3\. destination ztunnel: ztunnel node-\d/)
    t.match(predicted.stdout, /sees: {5}spiffe:\/\/cluster\.local\/ns\/default\/sa\/curl/)

    const pod = await ambient('zc', '--pod', 'productpage')
    t.equal(pod.code, 0, pod.stderr)
    for (const re of [
      /^POD\s+default\/productpage-v1-/m,
      /^NODE\s+node-\d/m,
      /^ZTUNNEL\s+ztunnel\/node-\d .*pod state ready/m,
      /^IDENTITY\s+spiffe:\/\/cluster\.local\/ns\/default\/sa\/bookinfo-productpage/m,
      /^WAYPOINT\s+None/m,
      /^WORKLOAD\nNAMESPACE\s+POD NAME/m,
      /^POLICIES \(applied by ztunnel\)\n/m,
      /^CERTIFICATE\n(CERTIFICATE NAME.*\n.*bookinfo-productpage\s+Leaf\s+available\s+true|none yet)/m,
      /^CONNECTIONS\n/m,
    ]) {
      t.match(pod.stdout, re)
    }

    const notRunning = await run(process.execPath, [CLI, 'zc', 'workloads', '--state-dir', join(dir, 'nothing')]).then(
      () => 0,
      (e: { code?: number; stderr?: string }) => {
        t.match(e.stderr, /CLUSTER_NOT_RUNNING/)
        return e.code
      },
    )
    t.equal(notRunning, 3, 'no cluster: exit 3 (CLUSTER_NOT_RUNNING), as cluster status, exec and explain')
  },
)
