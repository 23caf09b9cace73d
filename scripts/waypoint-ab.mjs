// Waypoint CPU per request, A/B in the same run: two builds' waypoints (`ambient waypoint`, local
// config and CA, each its own process) side by side behind one HBONE client and one destination pod
// (HBONE server + 1 KiB app, in this process). Each client worker sends to A, then B, then A…, so
// both see the same machine load at the same moment (on a busy shared machine, runs seconds apart
// differ by ±20 %). Closed loop, CONCURRENCY keep-alive tunnels per waypoint; after 2000 warm-up
// requests, the waypoints' CPU (utime + stime from /proc) over REQUESTS requests each, their RSS (at the
// end, and the mean of readings every 250 ms over the measured requests), and
// the client's round-trip p50/p99 per waypoint (through the whole HBONE path: a stall shows there).
//
//   npx tsc -p tsconfig.build.json   # the client side uses this tree's dist
//   node scripts/waypoint-ab.mjs OLD_DIST NEW_DIST [REQUESTS 4000] [CONCURRENCY 8]
// where a DIST is a built dist/ directory with node_modules beside it (e.g. a copy of main's).
// Addresses: 127.X.* with a random X; the waypoints' metrics and readiness ports are 0. A run that
// has no result after 10 minutes stops; the waypoints and the temporary directory go in any case.
// WP_STRACE=1: instead of CPU, count each waypoint's syscalls over the measured requests
// (`strace -f -c`, which slows the waypoints: their CPU figures are then meaningless) and print
// them per request, by syscall. WP_FLAGS="…": Node flags for both waypoints; WP_FLAGS_B="…": for B
// only (A/B of a flag: the same DIST twice). WP_PIN=N: both waypoints pinned to CPU N. WP_H2_DEBUG=1: the waypoints run with NODE_DEBUG_NATIVE=HTTP2SESSION
// (their stderr to files) and the script prints, per request, how often each kind of line (numbers
// as N) appeared over the measured requests: DATA frames sent and received, flushes, frames by type.
// WP_ENV_B="K=V K2=V2": environment for B only (A/B of a malloc setting, e.g. GLIBC_TUNABLES=…);
// the production L7 settings are not applied here: pass them (WP_FLAGS="--single-threaded-gc
// --no-concurrent-recompilation", MALLOC_ARENA_MAX=1 in this script's environment) to measure what
// clusters run.
// WP_MEM=1: the waypoints load scripts/mem-probe.mjs; the script prints each one's resident memory by
// kind (/proc/PID/smaps: node binary, other files, brk heap, V8, thread arenas, other anonymous) and
// V8's heap spaces, once idle (tunnels open, before the warm-up) and at the last of the once-a-second
// samples taken during the measured requests.
// WP_ALLOC=1 (not with WP_MEM): the waypoints load scripts/alloc-probe.mjs, which samples what they
// allocate over the measured requests; the script prints each one's bytes allocated per request, the
// functions that allocate most (WP_ALLOC_TOP=N of them, default 25), its GCs per 1000 requests with
// their pauses, and its event loop's delay (a 1 ms timer's lateness: GC, long callbacks, waiting for a CPU).
import http from 'node:http'
import { Buffer } from 'node:buffer'
import { performance } from 'node:perf_hooks'
import { setTimeout, setImmediate, setInterval, clearInterval } from 'node:timers'
import { setTimeout as sleep } from 'node:timers/promises'
import { URL, fileURLToPath } from 'node:url'
import { spawn, spawnSync } from 'node:child_process'
import { mkdtempSync, writeFileSync, readFileSync, rmSync, openSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
const D = fileURLToPath(new URL('../dist', import.meta.url))
const { openMeshCa } = await import(`${D}/identity/ca.js`)
const { SpiffeId } = await import(`${D}/identity/spiffe-id.js`)
const { createHboneServer, acceptPiped } = await import(`${D}/hbone/server.js`)
const { createHbonePool } = await import(`${D}/hbone/pool.js`)
const { connectTcp, listen } = await import(`${D}/net/listen.js`)
const { createLogger } = await import(`${D}/observability/logger.js`)
const { StreamSocket } = await import(`${D}/l7/stream-socket.js`)
const { WAYPOINT_CONFIG_API_VERSION } = await import(`${D}/mesh/waypoint-config.js`)
const { DEFAULT_RETRIES } = await import(`${D}/istiod/translate/route-parts.js`)
const { smapsBreakdown, summarizeHeapSpaces, formatSmaps, formatHeapSpaces } = await import(`${D}/bench/process-memory.js`)
/**
 * Whether a 'free' on a keep-alive socket hands it back after a finished exchange: node:http in Node 20
 * sometimes releases a socket twice (nodejs/node#60001, fixed upstream by nodejs/node#61710), the
 * second time with no finished request on it; taking that one would give a busy socket out again.
 */
function isFinishedRelease(socket) {
  return socket?._httpMessage?.res?.complete === true
}
/** The client's keep-alive agent over one tunnel (node:http's duplicate release dropped, see isFinishedRelease). */
class OneSocketAgent extends http.Agent {
  constructor(socket) {
    super({ keepAlive: true, maxSockets: 1, maxFreeSockets: 1 })
    this.socket = socket
  }
  emit(event, ...args) {
    if (event === 'free' && !isFinishedRelease(args[0])) return false
    return super.emit(event, ...args)
  }
  createConnection(_options, callback) {
    const s = this.socket
    this.socket = null
    setImmediate(() => (s === null ? callback(new Error('tunnel closed')) : callback(null, s)))
  }
}
if (process.argv.length < 4) {
  console.error('usage: node scripts/waypoint-ab.mjs OLD_DIST NEW_DIST [REQUESTS 4000] [CONCURRENCY 8]')
  process.exit(2)
}
const [dists, total, conc] = [[process.argv[2], process.argv[3]], Number(process.argv[4] ?? 4000), Number(process.argv[5] ?? 8)]
const base = 100 + Math.floor(Math.random() * 150)
const TD = 'cluster.local'
const dir = mkdtempSync(join(tmpdir(), 'wpb-'))
const wps = []
const tracers = [] // WP_STRACE's strace processes
// Whatever ends this run (a result, a failed connect, an exception, the hang guard): no waypoint
// process and no temporary directory is left behind.
process.on('exit', () => {
  for (const w of wps) if (w.child.exitCode === null && w.child.signalCode === null) w.child.kill('SIGKILL')
  for (const st of tracers) if (st.exitCode === null && st.signalCode === null) st.kill('SIGKILL')
  rmSync(dir, { recursive: true, force: true })
})
const HANG_GUARD_S = 600
setTimeout(() => {
  console.error(`waypoint-ab: no result after ${HANG_GUARD_S} s (a hung request?): stopped`)
  process.exit(1)
}, HANG_GUARD_S * 1000).unref()
const ca = await openMeshCa({ dir: join(dir, 'ca'), trustDomain: TD })
const log = createLogger({ component: 'b', level: 'error' })
const podIp = `127.${base}.2.1`,
  vip = `127.${base}.96.1`
const body = Buffer.alloc(1024, 'x')
const app = http.createServer((req, res) => {
  req.resume()
  req.on('end', () => {
    res.writeHead(200, { 'content-type': 'text/plain' })
    res.end(body)
  })
})
const appAddr = await listen(app, { host: `127.${base}.3.1`, port: 0 })
const podId = `spiffe://${TD}/ns/default/sa/server`
const hb = createHboneServer({
  certificate: await ca.issue(SpiffeId.parse(podId)),
  host: podIp,
  port: 15008,
  logger: log,
  async onConnect() {
    return acceptPiped(await connectTcp({ host: appAddr.address, port: appAddr.port }))
  },
})
await hb.start()
const NO_OPS = { request: { set: [], add: [], remove: [] }, response: { set: [], add: [], remove: [] } }
const big = 2 ** 32 - 1
// A route without a VirtualService: matches everything, Istio's default retries, no timeout, no fault.
const DEFAULT_ROUTE = { name: 'default', matches: [], headers: NO_OPS, retries: DEFAULT_RETRIES }
Object.assign(DEFAULT_ROUTE, { timeoutMs: null, fault: null, mirrors: [], rewrite: null })
const ep = {
  uid: 'Kubernetes//Pod/default/server',
  name: 'server',
  namespace: 'default',
  address: podIp,
  targetPort: appAddr.port,
  identity: podId,
  hbonePort: 15008,
  tunnelProtocol: 'HBONE',
  healthy: true,
  weight: 1,
  node: 'n1',
}
const host = 'server.default.svc.cluster.local'
const config = {
  apiVersion: WAYPOINT_CONFIG_API_VERSION,
  name: 'waypoint',
  namespace: 'default',
  identity: `spiffe://${TD}/ns/default/sa/waypoint`,
  trustDomain: TD,
  waypointFor: 'service',
  hbonePort: 15008,
  // What istiod sends a waypoint: Istio's default retries.
  defaults: { retries: DEFAULT_RETRIES, connectTimeoutMs: 2000 },
  services: [
    {
      name: 'server',
      namespace: 'default',
      hostname: host,
      addresses: [vip],
      authorization: [],
      ports: [
        {
          port: 80,
          protocol: 'HTTP',
          tcpCluster: '',
          routeSource: ['default'],
          routes: [
            {
              ...DEFAULT_ROUTE,
              action: {
                kind: 'forward',
                destinations: [{ cluster: 'c', hostname: host, port: 80, subset: null, weight: 100, headers: NO_OPS }],
              },
            },
          ],
        },
      ],
    },
  ],
  workloads: [],
  authorization: [],
  clusters: [
    {
      name: 'c',
      hostname: host,
      namespace: 'default',
      port: 80,
      subset: null,
      subsetLabels: {},
      destinationRule: null,
      endpoints: [ep],
      trafficPolicy: {
        loadBalancer: 'ROUND_ROBIN',
        outlierDetection: null,
        connectionPool: {
          maxConnections: big,
          connectTimeoutMs: 2000,
          http1MaxPendingRequests: big,
          http2MaxRequests: big,
          maxRequestsPerConnection: 0,
          maxRetries: big,
          idleTimeoutMs: null,
        },
      },
    },
  ],
}
writeFileSync(join(dir, 'wp.json'), JSON.stringify(config))
for (const [k, wpDist] of dists.entries()) {
  const wpIp = `127.${base}.1.${200 + k}`
  const child = spawn(
    process.execPath,
    [
      ...['--max-semi-space-size=2', '--no-deprecation', ...(process.env.WP_FLAGS ? process.env.WP_FLAGS.split(' ') : [])],
      ...(k === 1 && process.env.WP_FLAGS_B ? process.env.WP_FLAGS_B.split(' ') : []),
      ...(process.env.WP_MEM ? [`--import=${fileURLToPath(new URL('./mem-probe.mjs', import.meta.url))}`] : []),
      ...(process.env.WP_ALLOC ? [`--import=${fileURLToPath(new URL('./alloc-probe.mjs', import.meta.url))}`] : []),
      `${wpDist}/cli/main.js`,
      ...'waypoint --name waypoint --namespace default --log-level error --metrics-port 0 --readiness-port 0'.split(' '),
      ...['--config', join(dir, 'wp.json'), '--ca-dir', join(dir, 'ca'), '--host', wpIp],
    ],
    {
      stdio: ['ignore', 'inherit', process.env.WP_H2_DEBUG ? openSync(join(dir, `wp-${k}.err`), 'w') : 'inherit'],
      env: {
        ...process.env,
        ...(process.env.WP_H2_DEBUG ? { NODE_DEBUG_NATIVE: 'HTTP2SESSION' } : {}),
        ...(process.env.WP_MEM ? { MEM_PROBE_DIR: dir } : {}),
        ...(process.env.WP_ALLOC ? { ALLOC_PROBE_DIR: dir } : {}),
        ...(k === 1 && process.env.WP_ENV_B
          ? Object.fromEntries(process.env.WP_ENV_B.split(' ').map((kv) => kv.split(/=(.*)/s).slice(0, 2)))
          : {}),
      },
    },
  )
  // WP_PIN=N: both waypoints on CPU N (as bench:waypoint pins the proxies), the client left free.
  if (process.env.WP_PIN) spawnSync('taskset', ['-a', '-p', '-c', process.env.WP_PIN, String(child.pid)], { stdio: 'ignore' })
  wps.push({ child, wpIp, agents: [] })
}
const stat = (child) => {
  const f = readFileSync(`/proc/${child.pid}/stat`, 'utf8').split(') ')[1].split(' ')
  return (Number(f[11]) + Number(f[12])) * 10
}
const rss = (child) => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${child.pid}/status`, 'utf8'))[1]) / 1000
const pool = createHbonePool({ certificates: [await ca.issue(SpiffeId.parse(`spiffe://${TD}/ns/default/sa/client`))], logger: log })
for (const wp of wps)
  for (let i = 0; ; i++) {
    try {
      wp.agents = []
      for (let c = 0; c < conc; c++) {
        const t = await pool.open({
          source: SpiffeId.parse(`spiffe://${TD}/ns/default/sa/client`),
          destination: { host: wp.wpIp, port: 15008 },
          expectedIdentities: [SpiffeId.parse(config.identity)],
          authority: { ip: vip, port: 80 },
          baggage: { 'k8s.namespace.name': 'default', 'k8s.deployment.name': 'client', 'service.name': 'client', 'service.version': 'v1' },
        })
        wp.agents.push(new OneSocketAgent(new StreamSocket(t.stream)))
      }
      break
    } catch (e) {
      if (i > 100) throw e
      await sleep(100)
    }
  }
// WP_BODY=N: each request is a POST with an N-byte body (default a GET).
const reqBody = process.env.WP_BODY ? Buffer.alloc(Number(process.env.WP_BODY), 'y') : null
const reqOptions = reqBody ? { method: 'POST', headers: { host, 'content-length': String(reqBody.length) } } : { headers: { host } }
const get = (agent) =>
  new Promise((resolve, reject) => {
    const r = http.request({ agent, host: vip, port: 80, path: '/x', ...reqOptions }, (res) => {
      res.resume()
      res.on('end', () => resolve(res.statusCode))
    })
    r.on('error', reject)
    r.end(reqBody ?? undefined)
  })
// `strace -f -c -p PID` until stop(): resolves once it is attached (its first line on stderr).
async function startStrace(pid) {
  const out = join(dir, `strace-${pid}.txt`)
  const st = spawn('strace', ['-f', '-c', '-o', out, '-p', String(pid)], { stdio: ['ignore', 'ignore', 'pipe'] })
  tracers.push(st)
  await new Promise((resolve, reject) => {
    st.once('error', reject)
    st.stderr.once('data', resolve)
  })
  await sleep(200)
  return {
    async stop(requests) {
      st.kill('SIGINT')
      await new Promise((r) => st.once('exit', r))
      const rows = readFileSync(out, 'utf8')
        .split('\n')
        .map((l) => l.trim().split(/\s+/))
        .filter((f) => f.length >= 5 && /^\d/.test(f[0]) && /^[a-z_0-9]+$/.test(f.at(-1)) && f.at(-1) !== 'total')
        .map((f) => [f.at(-1), Number(f[3])])
      const all = rows.reduce((n, [, c]) => n + c, 0)
      return `${(all / requests).toFixed(2)} (${rows.map(([name, c]) => `${name} ${(c / requests).toFixed(2)}`).join(', ')})`
    },
  }
}
// Both waypoints under the same load at the same time: each worker alternates A, B.
// Each request's round trip (ms) per waypoint, for the p50/p99 printed next to the CPU figures.
const latencies = wps.map(() => [])
const run = async (n) => {
  let bad = 0
  for (const l of latencies) l.length = 0
  await Promise.all(
    wps[0].agents.map(async (_, c) => {
      for (let i = 0; i < n / conc; i++)
        for (const [k, wp] of wps.entries()) {
          const sent = performance.now()
          if ((await get(wp.agents[c])) !== 200) bad++
          latencies[k].push(performance.now() - sent)
        }
    }),
  )
  return bad
}
const percentile = (values, p) => [...values].sort((a, b) => a - b)[Math.min(values.length - 1, Math.floor(values.length * p))] ?? NaN
// WP_MEM: each waypoint's smaps by kind and (from its probe, on SIGUSR2) its V8 heap spaces.
const memSample = async () => {
  for (const w of wps) w.child.kill('SIGUSR2')
  const maps = wps.map((w) => smapsBreakdown(readFileSync(`/proc/${w.child.pid}/smaps`, 'utf8'), process.execPath))
  await sleep(100)
  return maps.map((m, k) => {
    try {
      return { m, h: summarizeHeapSpaces(JSON.parse(readFileSync(join(dir, `mem-${wps[k].child.pid}.json`), 'utf8'))) }
    } catch {
      return { m, h: null }
    }
  })
}
const printMem = (when, samples) => {
  for (const [k, { m, h }] of samples.entries())
    console.log(`${dists[k].split('/').slice(-2)[0]}${k} ${when}: ${formatSmaps(m)}${h ? `; ${formatHeapSpaces(h)}` : ''}`)
}
// WP_ALLOC: what one waypoint's probe found over the measured requests, per request.
function printAlloc(name, file) {
  const { bytes, gcs, pauses, delay } = JSON.parse(readFileSync(file, 'utf8'))
  const all = Object.values(bytes).reduce((a, b) => a + b, 0)
  const top = Object.entries(bytes)
    .sort((a, b) => b[1] - a[1])
    .slice(0, Number(process.env.WP_ALLOC_TOP ?? 25))
  const ms = pauses.map((p) => p.ms).sort((a, b) => a - b)
  console.log(
    `${name}: ${(all / total).toFixed(0)} bytes allocated per request; GCs per 1000 requests: ` +
      Object.entries(gcs)
        .map(([kind, g]) => `${kind} ${((g.count * 1000) / total).toFixed(2)} (${(g.ms / g.count).toFixed(2)} ms each)`)
        .join(', ') +
      `; pauses p50/p99/max ${[0.5, 0.99, 1].map((p) => (ms[Math.min(ms.length - 1, Math.floor(p * ms.length))] ?? 0).toFixed(2)).join('/')} ms` +
      `; event loop delay p50/p99/max ${[delay.p50, delay.p99, delay.max].map((v) => v.toFixed(2)).join('/')} ms`,
  )
  for (const [fn, b] of top)
    console.log(`  ${(b / total).toFixed(0).padStart(6)} B/req  ${((b * 100) / all).toFixed(1).padStart(5)} %  ${fn}`)
}
let memTimer = null,
  memLast = null
if (process.env.WP_MEM) printMem('idle', await memSample())
await run(Math.min(2000, total)) // warm-up
if (process.env.WP_MEM)
  memTimer = setInterval(() => {
    memSample().then(
      (m) => (memLast = m),
      () => {},
    )
  }, 1000)
const straces = process.env.WP_STRACE ? await Promise.all(wps.map((w) => startStrace(w.child.pid))) : []
const h2From = process.env.WP_H2_DEBUG ? wps.map((_, k) => readFileSync(join(dir, `wp-${k}.err`)).length) : []
if (process.env.WP_ALLOC) for (const w of wps) w.child.kill('SIGUSR2')
const c0 = wps.map((w) => stat(w.child)),
  t0 = performance.now()
// RSS of each waypoint every 250 ms over the measured requests: the printed mean (old space fills
// between mark-compacts, so one reading at the end lands anywhere on that saw).
const rssSamples = wps.map(() => [])
const rssTimer = setInterval(() => {
  for (const [k, w] of wps.entries()) rssSamples[k].push(rss(w.child))
}, 250)
const bad = await run(total)
clearInterval(rssTimer)
if (memTimer !== null) {
  clearInterval(memTimer)
  if (memLast !== null) printMem('under load', memLast)
}
for (const [k, s] of straces.entries()) console.log(`${dists[k].split('/').slice(-2)[0]} syscalls per request: ${await s.stop(total)}`)
const wall = performance.now() - t0
for (const [k, from] of h2From.entries()) {
  const kinds = new Map()
  for (const line of readFileSync(join(dir, `wp-${k}.err`))
    .subarray(from)
    .toString('latin1')
    .split('\n')) {
    const kind = line.replace(/^Http2Session (server|client) \(\d+\) /, '$1: ').replace(/\d+/g, 'N')
    if (kind !== '') kinds.set(kind, (kinds.get(kind) ?? 0) + 1)
  }
  console.log(`${dists[k].split('/').slice(-2)[0]} HTTP/2 session events per request:`)
  for (const [kind, n] of [...kinds].sort((a, b) => b[1] - a[1])) if (n / total >= 0.02) console.log(`  ${(n / total).toFixed(2)}  ${kind}`)
}
const load = readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ')
const us = wps.map((w, k) => ((stat(w.child) - c0[k]) * 1000) / total)
console.log(
  `${total} req each, ${bad} non-200, ${((total / wall) * 1000).toFixed(0)} pairs/s; ` +
    wps
      .map((w, k) => {
        const [p50, p99] = [0.5, 0.99].map((p) => percentile(latencies[k], p).toFixed(2))
        const mean = (rssSamples[k].reduce((a, b) => a + b, 0) / rssSamples[k].length).toFixed(1)
        const name = dists[k].split('/').slice(-2)[0]
        return `${name} ${us[k].toFixed(1)} us/req RSS ${rss(w.child).toFixed(1)} MB (mean ${mean}) p50/p99 ${p50}/${p99} ms`
      })
      .join('; ') +
    `; B/A ${(us[1] / us[0]).toFixed(3)}; load ${load}`,
)
for (const w of wps) {
  w.child.kill('SIGTERM')
  await new Promise((r) => w.child.once('exit', r))
}
if (process.env.WP_ALLOC)
  for (const [k, w] of wps.entries()) printAlloc(dists[k].split('/').slice(-2)[0] + k, join(dir, `alloc-${w.child.pid}.json`))
await pool.close()
await hb.close()
app.closeAllConnections()
app.close()
rmSync(dir, { recursive: true, force: true })
process.exit(0)
