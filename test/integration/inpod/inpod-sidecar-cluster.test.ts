// `ambient cluster up --mode sidecar --capture inpod` end to end (netns test: root, ip netns,
// iptables, setpriv, the built addon and CLI; otherwise skipped with one line): bookinfo with every
// pod in its own network namespace behind istio-iptables' sidecar rules, each sidecar inside its
// pod's namespace as uid 1337. Plain curl (no proxy anywhere) reaches another pod's app through both
// sidecars with mutual TLS: the server's sidecar records the client's SPIFFE identity, and an
// AuthorizationPolicy DENY on that principal refuses the same plain curl. Connections to pod IPs
// keep their original destination; to a port no Service targets they pass through in plain TCP. `cluster down` leaves no namespace, rule, file or process.
import t from 'tap'
import { execFile } from 'node:child_process'
import { randomInt } from 'node:crypto'
import { existsSync, readFileSync } from 'node:fs'
import { readdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { listNetns, PROXY_FILES_ROOT, sweepTopology } from '../../../src/capture/inpod/netns.js'
import { SIDECAR_PROXY_UID } from '../../../src/capture/inpod/sidecar-rules.js'
import { httpGetInPod, inpodPrefix } from '../../../src/cluster/inpod-topology.js'
import type { RunState } from '../../../src/cluster/run-state.js'
import { eventually } from '../../helpers/eventually.js'
import { alive, bookinfoDirs, CLI, denyCurlPolicy, startCluster, waitClusterUp } from '../../helpers/cluster-fixture.js'
import { inpodSkipReason } from '../../helpers/inpod-harness.js'
import { needs, requires } from '../../helpers/requires.js'

const run = promisify(execFile)
const built = existsSync(CLI) ? undefined : `${CLI} is not built (npm run build)`
const X = 170 + randomInt(0, 20) * 4
const setpriv = needs.tool('setpriv', 'apt-get install util-linux')
const curl = needs.tool('curl', 'apt-get install curl')
const skip = requires(t, needs.root, needs.netns, needs.iptables, setpriv, curl) || built || (await inpodSkipReason()) || false

t.test(
  'cluster up --mode sidecar --capture inpod: plain curl through two sidecars with mTLS, then a clean down',
  { skip, timeout: 140_000 },
  async (t) => {
    const dirs = await bookinfoDirs(t, 'ambient-sc-inpod-')
    const prefix = inpodPrefix(dirs.stateDir)
    const hostNat = (await run('iptables-save', ['-t', 'nat'])).stdout.replace(/^#.*\n/gm, '')
    const cluster = startCluster(t, dirs, X, ['--mode', 'sidecar', '--capture', 'inpod'])
    t.teardown(() => sweepTopology(prefix))
    await waitClusterUp(cluster, 90_000)
    const s = cluster.state() as unknown as RunState
    t.equal(s.mode, 'sidecar')
    t.equal(s.capture?.netnsPrefix, prefix, "the run state names the namespaces' prefix")
    const pod = (app: string) => s.pods.find((p) => p.workload === app || p.workload.startsWith(`${app}-v`))!
    const netns = (workload: string) => `${prefix}default.${pod(workload).name}`
    t.equal(s.processes.filter((p) => p.role === 'sidecar').length, s.pods.filter((p) => p.captured).length, 'one sidecar per captured pod')
    t.equal(s.processes.filter((p) => p.role === 'ztunnel' || p.role === 'waypoint').length, 0, 'no ztunnel, no waypoint')

    const rules = (await run('ip', ['netns', 'exec', netns('curl'), 'iptables-save', '-t', 'nat'])).stdout
    t.match(rules, /-A ISTIO_REDIRECT -p tcp -j REDIRECT --to-ports 15001/, 'outbound: ISTIO_OUTPUT → ISTIO_REDIRECT → 15001')
    t.match(rules, /-A ISTIO_IN_REDIRECT -p tcp -j REDIRECT --to-ports 15006/, 'inbound: ISTIO_INBOUND → ISTIO_IN_REDIRECT → 15006')
    t.match(rules, /-m owner --uid-owner 1337 -j RETURN/, "the proxy's own sockets are exempt by owner")
    const sidecarPid = s.processes.find((p) => p.name === `sidecar/default/${pod('curl').name}`)?.pid
    t.ok(sidecarPid !== undefined, 'the curl pod has a sidecar')
    const status = readFileSync(`/proc/${sidecarPid}/status`, 'utf8')
    t.match(status, new RegExp(`^Uid:\\s+${SIDECAR_PROXY_UID}\\s`, 'm'), 'the sidecar runs as uid 1337')
    const [ownNs, podNs] = await Promise.all([
      run('readlink', [`/proc/${sidecarPid}/ns/net`]),
      run('ip', ['netns', 'identify', String(sidecarPid)]),
    ])
    t.equal(podNs.stdout.trim(), netns('curl'), `the sidecar lives in its pod's namespace (${ownNs.stdout.trim()})`)

    const exec = (cmd: string[]) =>
      run(process.execPath, [CLI, 'exec', '--state-dir', dirs.stateDir, 'curl', '--', ...cmd], { timeout: 15_000 })
    t.notMatch((await exec(['env'])).stdout, /ALL_PROXY|all_proxy|HTTP_PROXY|http_proxy/, 'no proxy setting in the pod')
    const page = await eventually(
      async () => {
        const r = await exec(['curl', '-s', '-m', '5', 'http://productpage:9080/productpage']).catch(() => ({ stdout: '' }))
        try {
          const body = JSON.parse(r.stdout) as { pod?: string; details?: { author?: string }; reviews?: { podname?: string } }
          return body.details?.author !== undefined && body.reviews?.podname !== undefined ? body : false
        } catch {
          return false
        }
      },
      { timeoutMs: 30_000, intervalMs: 250 },
    )
    t.equal(page.pod, pod('productpage').name, 'plain curl → curl sidecar → productpage sidecar → productpage (→ details, reviews)')

    // The server's sidecar saw the client's certificate: its inbound metrics name curl's principal.
    const metrics = async (workload: string): Promise<string> =>
      (await httpGetInPod(netns(workload), `http://${pod(workload).podIP}:15020/metrics`, { timeoutMs: 5_000 })).body
    const inbound = (await metrics('productpage'))
      .split('\n')
      .filter((l) => l.startsWith('istio_requests_total{') && l.includes('reporter="destination"'))
    t.ok(
      inbound.some(
        (l) =>
          l.includes('source_principal="spiffe://cluster.local/ns/default/sa/curl"') &&
          l.includes('connection_security_policy="mutual_tls"') &&
          l.includes('response_code="200"'),
      ),
      "productpage's sidecar: requests from curl's SPIFFE identity over mutual TLS",
    )

    // Original destination: a pod IP (not a Service) reaches that very pod, through both sidecars.
    for (const w of ['details', 'productpage']) {
      const r = await exec(['curl', '-s', '-m', '5', `http://${pod(w).podIP}:9080/${w === 'details' ? 'details/0' : 'productpage'}`])
      t.equal((JSON.parse(r.stdout) as { pod?: string }).pod, pod(w).name, `curl to ${w}'s pod IP answers from ${w}`)
    }

    // A port of a pod that no Service targets (its sidecar's readiness port, 15021, which the pod's
    // rules leave alone inbound): Istio's PassthroughCluster, plain TCP to the original destination,
    // so the plain HTTP server there answers (mutual TLS to it would be refused).
    // curl's exit status is not the point (mutual TLS to a plain server ends in an error): its code is.
    const readyUrl = `http://${pod('productpage').podIP}:15021/healthz/ready`
    const ready = await exec(['curl', '-s', '-o', '/dev/null', '-w', '%{http_code}', '-m', '5', readyUrl]).catch(
      (err: { stdout?: string }) => ({ stdout: `failed (${err.stdout ?? ''})` }),
    )
    t.equal(ready.stdout, '200', "curl to productpage's pod IP on 15021: passthrough (plain TCP), answered by its sidecar's readiness")

    // DENY on curl's principal at productpage: the same plain curl is refused by the server's sidecar.
    await writeFile(join(dirs.configDir, 'deny-curl.yaml'), denyCurlPolicy('productpage'))
    const code = (path: string) =>
      exec(['curl', '-s', '-o', '/dev/null', '-w', '%{http_code}', '-m', '5', `http://productpage:9080${path}`])
    await eventually(async () => (await code('/productpage')).stdout === '403', { timeoutMs: 30_000, intervalMs: 250 })
    t.pass('DENY on spiffe://cluster.local/ns/default/sa/curl: plain curl gets 403 from the server sidecar')
    t.equal(
      (await exec(['curl', '-s', '-m', '5', 'http://details:9080/details/0'])).stdout.includes('details'),
      true,
      'other callees still answer',
    )

    const pids = s.processes.map((p) => p.pid ?? 0)
    const down = await run(process.execPath, [CLI, 'cluster', 'down', '--state-dir', dirs.stateDir], { timeout: 60_000 })
    t.match(down.stdout, /cluster down/)
    t.same(
      (await listNetns()).filter((n) => n.startsWith(prefix)),
      [],
      'no namespace left',
    )
    t.same(
      ((await readdir(PROXY_FILES_ROOT).catch(() => [])) as string[]).filter((n) => n.startsWith(prefix)),
      [],
      "no sidecar's files left",
    )
    t.equal((await run('iptables-save', ['-t', 'nat'])).stdout.replace(/^#.*\n/gm, ''), hostNat, "the host's nat table is as before")
    await eventually(() => pids.every((p) => p === 0 || !alive(p)), { timeoutMs: 10_000, intervalMs: 100 })
    t.pass('no process left')
  },
)
