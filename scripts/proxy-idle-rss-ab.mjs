// Idle RSS of the proxies fed by istiod, A/B: `ambient cluster up` of deploy/demo (istiod, two
// ztunnels, the reviews waypoint, bookinfo) from build A, then from build B, then B, then A…
// (alternating, so both see the same machine load). Once both ztunnels and the waypoint answer
// /healthz/ready, the script waits IDLE_MS and keeps each proxy's lowest VmRSS of 5 samples 2 s
// apart (a transient allocation peak is not idle memory). Prints every round and the medians.
//
//   node scripts/proxy-idle-rss-ab.mjs OLD_ROOT NEW_ROOT [ROUNDS 3] [IDLE_MS 30000]
// where a ROOT is a built checkout (dist/cli/main.js and deploy/demo, node_modules beside them).
// Addresses: a random non-default plan 127.X.* and random istiod ports; the cluster is stopped with
// one SIGINT after each round and its state directory removed.
/* global fetch, AbortSignal */
import { spawn, execFileSync } from 'node:child_process'
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'

const [a, b, roundsArg, idleArg] = process.argv.slice(2)
if (a === undefined || b === undefined) {
  console.error('usage: node scripts/proxy-idle-rss-ab.mjs OLD_ROOT NEW_ROOT [ROUNDS 3] [IDLE_MS 30000]')
  process.exit(2)
}
const builds = { A: resolve(a), B: resolve(b) }
const rounds = Number(roundsArg ?? 3)
const idleMs = Number(idleArg ?? 30_000)
const x = 150 + Math.floor(Math.random() * 20) * 4 // 127.150-229: never the default 127.244/245/96/18 plan
const plan = `127.${x},127.${x + 1},127.${x + 2}`
const nodeIps = `127.${x + 3}.0`
const grpcPort = 20_000 + Math.floor(Math.random() * 5000) * 2
const uptime = () => execFileSync('uptime').toString().trim()

const rssMiB = (pid) => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))[1]) / 1024
function args(pid) {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0')
  } catch {
    return []
  }
}
/** The ztunnel and waypoint processes a build's cluster started. */
function proxies(root) {
  const out = []
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue
    const c = args(d)
    const i = c.indexOf(join(root, 'dist/cli/main.js'))
    const role = c[i + 1]
    if (i >= 0 && (role === 'ztunnel' || role === 'waypoint')) out.push({ pid: Number(d), role, args: c.slice(i + 1) })
  }
  return out
}
const flag = (p, name) => p.args[p.args.indexOf(name) + 1]
const readyAt = (p) => `http://${p.role === 'ztunnel' ? flag(p, '--node-ip') : flag(p, '--host')}:15021/healthz/ready`
async function ready(url) {
  try {
    return (await fetch(url, { signal: AbortSignal.timeout(1000) })).status === 200
  } catch {
    return false
  }
}

const results = { A: { ztunnel: [], waypoint: [] }, B: { ztunnel: [], waypoint: [] } }
console.log(`A ${builds.A}\nB ${builds.B}\nplan ${plan}, node IPs ${nodeIps}.*, istiod ${grpcPort}; idle ${idleMs} ms; ${uptime()}`)
for (let r = 0; r < rounds; r++) {
  for (const name of r % 2 === 0 ? ['A', 'B'] : ['B', 'A']) {
    const root = builds[name]
    const state = mkdtempSync(join(tmpdir(), 'proxy-idle-rss-'))
    const cluster = spawn(
      process.execPath,
      [
        join(root, 'dist/cli/main.js'),
        ...['cluster', 'up', '--config', join(root, 'deploy/demo'), '--state-dir', state, '--address-plan', plan],
        ...['--node-ips', nodeIps, '--grpc-port', String(grpcPort), '--debug-port', String(grpcPort + 1), '--log-level', 'warn'],
      ],
      { cwd: root, stdio: 'ignore' },
    )
    try {
      const deadline = Date.now() + 120_000
      let up = []
      while (Date.now() < deadline) {
        const ps = proxies(root)
        const checks = await Promise.all(ps.map((p) => ready(readyAt(p))))
        if (ps.filter((p) => p.role === 'ztunnel').length === 2 && ps.some((p) => p.role === 'waypoint') && checks.every(Boolean)) {
          up = ps
          break
        }
        await sleep(500)
      }
      if (up.length === 0) {
        console.log(`${name} round ${r + 1}: not ready within 120 s`)
        continue
      }
      await sleep(idleMs)
      const low = new Map(up.map((p) => [p.pid, Infinity]))
      for (let i = 0; i < 5; i++) {
        for (const p of up) low.set(p.pid, Math.min(low.get(p.pid), rssMiB(p.pid)))
        await sleep(2000)
      }
      for (const p of up) results[name][p.role].push(low.get(p.pid))
      console.log(`${name} round ${r + 1}: ${up.map((p) => `${p.role} ${low.get(p.pid).toFixed(1)} MiB`).join(', ')} | ${uptime()}`)
    } finally {
      cluster.kill('SIGINT')
      await new Promise((done) => (cluster.exitCode !== null ? done() : cluster.once('exit', done)))
      for (let i = 0; i < 40 && proxies(root).length > 0; i++) await sleep(250)
      rmSync(state, { recursive: true, force: true })
    }
  }
}
const median = (xs) => [...xs].sort((p, q) => p - q)[Math.floor(xs.length / 2)]
for (const role of ['ztunnel', 'waypoint']) {
  const [ra, rb] = [results.A[role], results.B[role]]
  if (ra.length === 0 || rb.length === 0) continue
  const range = (xs) => `${Math.min(...xs).toFixed(1)}–${Math.max(...xs).toFixed(1)}`
  console.log(
    `${role}: A median ${median(ra).toFixed(1)} MiB (${range(ra)}, n=${ra.length}); ` +
      `B median ${median(rb).toFixed(1)} MiB (${range(rb)}, n=${rb.length}); B − A ${(median(rb) - median(ra)).toFixed(1)} MiB`,
  )
}
