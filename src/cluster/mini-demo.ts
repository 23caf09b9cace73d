// `npm run demo` (first version): a two-node ambient mesh on loopback with real ztunnel processes,
// sample apps on pod-local addresses, a traffic generator through the pods' SOCKS5 capture, a live
// one-screen summary and a scripted tour (deny a flow with an AuthorizationPolicy, watch it fail,
// remove it). State comes from ztunnel's local config file; the istiod-driven cluster replaces this
// once istiod lands. A runner: it may read the environment and owns its child processes.
import { spawn, type ChildProcess } from 'node:child_process'
import { mkdtemp, rm, writeFile, rename } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { setTimeout as delay } from 'node:timers/promises'
import { stringify } from 'yaml'
import { openMeshCa } from '../identity/ca.js'
import { httpGetViaSocks, isPolicyDenial } from './sample-apps/http-client.js'
import { startHttpApp, type HttpApp } from './sample-apps/http-app.js'

export interface MiniDemoOptions {
  /** Path of the built CLI (dist/cli/main.js). */
  readonly cliPath: string
  /** Stop after this long; undefined = until `stop` resolves. */
  readonly durationMs?: number
  readonly stop: Promise<unknown>
  readonly out: (line: string) => void
  /** Redraw the summary in place (a TTY). */
  readonly live: boolean
  readonly tour: boolean
  /** Requests per second per edge. */
  readonly rate?: number
}

interface Pod { name: string; sa: string; node: 1 | 2; j: number; version?: string; ports?: number[]; services?: Record<string, Record<number, number>> }

const PODS: Pod[] = [
  { name: 'sleep', sa: 'sleep', node: 1, j: 1 },
  { name: 'productpage-v1', sa: 'bookinfo-productpage', node: 1, j: 2, ports: [9080], services: { 'default/productpage.default.svc.cluster.local': { 9080: 9080 } } },
  { name: 'reviews-v1', sa: 'bookinfo-reviews', node: 1, j: 3, version: 'v1', ports: [9080], services: { 'default/reviews.default.svc.cluster.local': { 9080: 9080 } } },
  { name: 'reviews-v2', sa: 'bookinfo-reviews', node: 2, j: 1, version: 'v2', ports: [9080], services: { 'default/reviews.default.svc.cluster.local': { 9080: 9080 } } },
  { name: 'ratings-v1', sa: 'bookinfo-ratings', node: 2, j: 2, ports: [9080], services: { 'default/ratings.default.svc.cluster.local': { 9080: 9080 } } },
]
const podIp = (p: Pod): string => `127.244.${p.node}.${p.j}`
const podLocal = (p: Pod): string => `127.245.${p.node}.${p.j}`
const pod = (name: string): Pod => PODS.find((p) => p.name === name)!

const EDGES = [
  { from: 'sleep', url: 'http://productpage:9080/productpage' },
  { from: 'productpage-v1', url: 'http://reviews:9080/reviews/0' },
  { from: 'sleep', url: 'http://ratings:9080/ratings/0' },
]

const DENY_SLEEP_TO_RATINGS = {
  name: 'ratings-deny-sleep', namespace: 'default', scope: 'WORKLOAD_SELECTOR', action: 'DENY',
  rules: [{ clauses: [{ matches: [{ principals: ['cluster.local/ns/default/sa/sleep'] }] }] }],
}

function config(denySleep: boolean): string {
  return stringify({
    workloads: PODS.map((p) => ({
      name: p.name, namespace: 'default', serviceAccount: p.sa, node: `node-${p.node}`, addresses: [podIp(p)], podLocalAddress: podLocal(p),
      canonicalName: p.name.replace(/-v\d+$/, ''), canonicalRevision: p.version ?? 'v1', workloadName: p.name,
      ...(p.services ? { services: p.services } : {}),
      ...(denySleep && p.name === 'ratings-v1' ? { authorizationPolicies: ['default/ratings-deny-sleep'] } : {}),
    })),
    services: [
      { name: 'productpage', namespace: 'default', addresses: ['127.96.0.1'], ports: { 9080: 9080 } },
      { name: 'reviews', namespace: 'default', addresses: ['127.96.0.2'], ports: { 9080: 9080 } },
      { name: 'ratings', namespace: 'default', addresses: ['127.96.0.3'], ports: { 9080: 9080 } },
    ],
    policies: denySleep ? [DENY_SLEEP_TO_RATINGS] : [],
  })
}

interface EdgeStats { ok: number; denied: number; failed: number; last: string }

export async function runMiniDemo(options: MiniDemoOptions): Promise<void> {
  const out = options.out
  const dir = await mkdtemp(join(tmpdir(), 'ambient-demo-'))
  const configFile = join(dir, 'ztunnel.yaml')
  const children: ChildProcess[] = []
  const apps: HttpApp[] = []
  let stopping = false
  const writeConfig = async (deny: boolean): Promise<void> => {
    // Write-then-rename: ztunnel never reads a half-written file.
    await writeFile(`${configFile}.tmp`, config(deny))
    await rename(`${configFile}.tmp`, configFile)
  }
  try {
    await openMeshCa({ dir: join(dir, 'ca') })
    await writeConfig(false)
    for (const node of [1, 2]) {
      const child = spawn(process.execPath, ['--enable-source-maps', options.cliPath, 'ztunnel', '--node', `node-${node}`, '--node-ip', `127.18.0.${node}`, '--config', configFile, '--ca-dir', join(dir, 'ca'), '--log-level', 'warn'], { stdio: ['ignore', 'ignore', 'pipe'] })
      child.stderr?.on('data', (d: Buffer) => { if (!stopping) out(`[ztunnel node-${node}] ${d.toString().trimEnd()}`) })
      children.push(child)
    }
    for (const node of [1, 2]) await waitReady(`http://127.18.0.${node}:15021/healthz/ready`, children)
    for (const p of PODS) {
      for (const port of p.ports ?? []) {
        apps.push(await startHttpApp({ host: podLocal(p), port, pod: p.name, ...(p.version ? { version: p.version } : {}), proxy: { host: podIp(p), port: 15080 } }))
      }
    }
    out('ambient demo: a two-node mesh on loopback')
    out('  node-1 ztunnel: admin http://127.18.0.1:15000/config_dump  metrics http://127.18.0.1:15020/metrics  ready http://127.18.0.1:15021/healthz/ready')
    out('  node-2 ztunnel: admin http://127.18.0.2:15000/config_dump  metrics http://127.18.0.2:15020/metrics  ready http://127.18.0.2:15021/healthz/ready')
    out(`  pods: ${PODS.map((p) => `${p.name}@${podIp(p)}(node-${p.node})`).join(' ')}`)
    out('  try: curl --socks5-hostname 127.244.1.1:15080 http://reviews:9080/reviews/0   (as the sleep pod)')
    out('')

    const stats = new Map(EDGES.map((e) => [`${e.from} → ${e.url}`, { ok: 0, denied: 0, failed: 0, last: '' } as EdgeStats]))
    const started = Date.now()
    const end = options.durationMs === undefined ? options.stop : Promise.race([options.stop, delay(options.durationMs)])
    let done = false
    void end.then(() => { done = true })
    const interval = 1000 / (options.rate ?? 5)
    const generator = (async () => {
      while (!done) {
        await Promise.all(EDGES.map(async (e) => {
          const s = stats.get(`${e.from} → ${e.url}`)!
          try {
            const r = await httpGetViaSocks({ host: podIp(pod(e.from)), port: 15080 }, e.url, { timeoutMs: 2_000 })
            s.ok++
            s.last = `${r.status} ${(JSON.parse(r.body) as { pod?: string }).pod ?? ''}`
          } catch (err) {
            if (isPolicyDenial(err)) { s.denied++; s.last = 'denied (RBAC at the destination ztunnel)' } else { s.failed++; s.last = (err as Error).message }
          }
        }))
        await delay(interval)
      }
    })()

    const tour = options.tour ? [
      { at: 4_000, say: 'tour 1/2: applying AuthorizationPolicy ratings-deny-sleep (DENY from sa/sleep) → the sleep → ratings edge is refused by node-2\'s ztunnel', act: () => writeConfig(true) },
      { at: 9_000, say: 'tour 2/2: removing the policy → traffic flows again', act: () => writeConfig(false) },
    ] : []
    let lines = 0
    while (!done) {
      await Promise.race([delay(1000), end])
      const elapsed = Date.now() - started
      for (const step of tour.filter((s) => s.at <= elapsed)) {
        tour.splice(tour.indexOf(step), 1)
        out(step.say)
        lines = 0
        await step.act()
      }
      const table = [
        `t=${Math.round(elapsed / 1000)}s   edge (all via HBONE, mutual TLS)                       ok  denied  failed  last`,
        ...[...stats].map(([edge, s]) => `  ${edge.padEnd(58)} ${String(s.ok).padStart(5)} ${String(s.denied).padStart(7)} ${String(s.failed).padStart(7)}  ${s.last}`),
      ]
      if (options.live && lines > 0) out(`\x1b[${lines}A\x1b[J` + table.join('\n'))
      else out(table.join('\n'))
      lines = table.length
    }
    await generator
    out('stopping: draining ztunnels…')
  } finally {
    stopping = true
    await Promise.all(children.map((c) => stopChild(c)))
    await Promise.all(apps.map((a) => a.close()))
    await rm(dir, { recursive: true, force: true })
  }
}

async function waitReady(url: string, children: ChildProcess[]): Promise<void> {
  const deadline = Date.now() + 20_000
  for (;;) {
    if (children.some((c) => c.exitCode !== null)) throw new Error('a ztunnel exited during start (see its log above)')
    try {
      const res = await fetch(url)
      if (res.status === 200) return
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) throw new Error(`${url} not ready after 20 s`)
    await delay(50)
  }
}

function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve()
  return new Promise((resolve) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), 8_000)
    child.once('exit', () => {
      clearTimeout(timer)
      resolve()
    })
    child.kill('SIGTERM')
  })
}
