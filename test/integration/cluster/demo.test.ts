// `ambient demo` end to end (from the built CLI): cluster up on deploy/demo, traffic from the curl pod
// through productpage, details, the reviews waypoint (the 90/10 canary) and ratings, all mTLS, and
// the tour's DENY refusing productpage → details. Bounded: --duration 14s; the demo tears down.
import t from 'tap'
import { spawn } from 'node:child_process'
import { join, resolve } from 'node:path'
import { listeners } from '../../helpers/cluster-fixture.js'
import { needs, requires } from '../../helpers/requires.js'

const DIST = process.env.AMBIENT_TEST_DIST ?? resolve(import.meta.dirname, '../../../dist')
const CLI = join(DIST, 'cli/main.js')
const built = needs.file(join(DIST, 'cluster/demo.js'), 'run npm run build')

t.test('ambient demo carries bookinfo traffic and shows the tour\'s denial', { timeout: 45_000, skip: requires(t, built) }, async (t) => {
  const child = spawn(process.execPath, [CLI, 'demo', '--duration', '14s'], { stdio: ['ignore', 'pipe', 'pipe'] })
  t.teardown(() => { if (child.exitCode === null) child.kill('SIGTERM') })
  let out = ''
  child.stdout.on('data', (d: Buffer) => { out += d.toString() })
  child.stderr.on('data', (d: Buffer) => { out += d.toString() })
  const code = await new Promise<number | null>((res) => child.once('exit', (c) => res(c)))
  t.equal(code, 0, out)
  const lastRow = (edge: string): { connections: number; denied: number; mtls: string } => {
    const m = new RegExp(`${edge}\\s+(\\d+)\\s+(\\d+)\\s+(\\S+)`).exec(out.split('\n').filter((l) => l.includes(edge)).at(-1) ?? '')
    return { connections: Number(m?.[1]), denied: Number(m?.[2]), mtls: m?.[3] ?? '' }
  }
  const front = lastRow('curl → productpage-v1')
  t.ok(front.connections > 10, `curl → productpage carried traffic (${front.connections})`)
  t.equal(front.mtls, 'yes')
  t.ok(lastRow('productpage-v1 → details-v1').denied > 0, 'the tour\'s DENY refused productpage → details')
  t.match(out, /tour 1\/2: writing AuthorizationPolicy tour-deny-details/)
  t.match(out, /tour 2\/2: removing the policy file/)
  t.match(out, /reviews by version: .*v1 \d+/, 'the canary sends most reviews traffic to v1')
  t.match(out, /productpage-v1 → reviews → \S+ 200 +\d+/, 'reviews traffic went through the waypoint')
  t.match(out, /ztunnel node-1\s+admin http:\/\/127\.18\.0\.1:15000\/config_dump/)
  // The summary's L4 rows come from the ztunnels' istio_tcp_* metrics, the L7 rows from the
  // waypoint's istio_requests_total: both were asserted above. After the demo: nothing bound on the
  // demo's pod, pod-local, VIP or node addresses, nor on the dashboard's port.
  t.same(await listeners(['127.244.', '127.245.', '127.96.', '127.18.0.', '127.0.0.1:20001', '127.0.0.1:15012', '127.0.0.1:15014']), [], 'nothing left bound after the demo')
})
