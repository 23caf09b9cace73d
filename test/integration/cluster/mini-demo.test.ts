// `ambient demo` end to end: real ztunnel processes, traffic through SOCKS capture and HBONE, and the
// scripted tour's policy denying one edge. Bounded: --duration 8s.
import t from 'tap'
import { spawn } from 'node:child_process'
import { fileURLToPath } from 'node:url'

const cli = fileURLToPath(new URL('../../../dist/cli/main.js', import.meta.url))

t.test('ambient demo carries traffic and shows the tour\'s denial', async (t) => {
  const child = spawn(process.execPath, [cli, 'demo', '--duration', '8s'], { stdio: ['ignore', 'pipe', 'pipe'] })
  t.teardown(() => { if (child.exitCode === null) child.kill('SIGKILL') })
  let out = ''
  child.stdout.on('data', (d: Buffer) => { out += d.toString() })
  child.stderr.on('data', (d: Buffer) => { out += d.toString() })
  const code = await new Promise<number | null>((resolve) => child.once('exit', (c) => resolve(c)))
  t.equal(code, 0, out)
  const last = (edge: string): { ok: number; denied: number; failed: number } => {
    const rows = out.split('\n').filter((l) => l.includes(edge))
    const m = /\s(\d+)\s+(\d+)\s+(\d+)\s/.exec(rows.at(-1) ?? '')
    return { ok: Number(m?.[1]), denied: Number(m?.[2]), failed: Number(m?.[3]) }
  }
  const productpage = last('sleep → http://productpage:9080/productpage')
  t.ok(productpage.ok > 10, `sleep → productpage carried traffic (${productpage.ok} ok)`)
  t.equal(productpage.failed, 0)
  const ratings = last('sleep → http://ratings:9080/ratings/0')
  t.ok(ratings.denied > 0, `the tour's DENY policy refused sleep → ratings (${ratings.denied} denied)`)
  t.match(out, /tour 1\/2: applying AuthorizationPolicy ratings-deny-sleep/)
  t.match(out, /127\.18\.0\.1:15000\/config_dump/)
})
