// `npm run demo`: `cluster up` on the bundled scenario (deploy/demo: bookinfo in an ambient
// namespace, a waypoint for reviews, the seed's 90/10 reviews canary, STRICT mTLS, deny-all plus an
// allow list), a traffic generator (the curl pod → productpage; productpage → details and reviews,
// reviews v2/v3 → ratings happen inside the apps), a live one-screen summary from the mesh's own
// metrics, and a scripted tour: write a DENY policy into the (copied) config dir, watch the flow get
// denied, remove it. A runner: owns its temp dirs and the cluster, and leaves neither behind.
import { randomUUID } from 'node:crypto'
import { cp, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { setTimeout as delay } from 'node:timers/promises'
import { errorMessage } from '../errors.js'
import { httpGetInPod } from './inpod-topology.js'
import { startCluster, type ClusterEvent } from './cluster.js'
import { l4Edges, l7Rows, scrape } from './metrics-summary.js'
import { httpGetViaSocks, isPolicyDenial } from './sample-apps/http-client.js'
import { createUiServer, UI_DEFAULT_PORT, type UiServer } from '../ui/server.js'

export interface DemoOptions {
  readonly cliPath: string
  /** deploy/demo. */
  readonly scenarioDir: string
  readonly durationMs?: number
  readonly stop: Promise<unknown>
  readonly out: (line: string) => void
  /** Redraw the summary in place (a TTY). */
  readonly live: boolean
  readonly tour: boolean
  /** Requests per second from the curl pod to productpage. */
  readonly rate?: number
  readonly env: Readonly<Record<string, string | undefined>>
  readonly nodes?: number
  /** The dashboard's port on 127.0.0.1 (default 20001; 0 picks a free one). */
  readonly uiPort?: number
  /** `inpod`: pods in network namespaces with Istio's rules (root); namespaces `ambdemo-…`. */
  readonly capture?: 'socks' | 'inpod'
  readonly uid?: number
  /** Node IPs `<prefix>.k` (default 127.18.0): tests and trials beside a running demo. */
  readonly nodeIpPrefix?: string
}

const DENY_DETAILS = `# Written by the demo's tour: productpage may no longer call details.
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata:
  name: tour-deny-details
  namespace: default
spec:
  selector:
    matchLabels:
      app: details
  action: DENY
  rules:
    - from:
        - source:
            principals: ["cluster.local/ns/default/sa/bookinfo-productpage"]
`

interface Traffic { ok: number; failed: number; detailsDenied: number; reviews: Map<string, number>; last: string }

export async function runDemo(options: DemoOptions): Promise<void> {
  const out = options.out
  const dir = await mkdtemp(join(tmpdir(), 'ambient-demo-'))
  const configDir = join(dir, 'config')
  await cp(options.scenarioDir, configDir, { recursive: true })
  const events: string[] = []
  const onEvent = (e: ClusterEvent): void => {
    if (e.kind === 'crashed') events.push(`${e.name} exited (${e.signal ?? `code ${e.code}`}), restarting in ${e.restartInMs} ms`)
    if (e.kind === 'pod_rejected' || e.kind === 'reconcile_failed') events.push('pod' in e ? `${e.pod}: ${e.message}` : e.message)
  }
  let cluster: Awaited<ReturnType<typeof startCluster>> | undefined
  let ui: UiServer | undefined
  try {
    out('ambient demo: starting istiod, 2 ztunnels, the reviews waypoint and bookinfo from deploy/demo …')
    cluster = await startCluster({
      configDir, stateDir: join(dir, 'state'), nodes: options.nodes ?? 2, cliPath: options.cliPath,
      istiodPorts: { grpc: 0, debug: 0 }, env: options.env, logLevel: 'warn', onEvent,
      ...(options.nodeIpPrefix === undefined ? {} : { nodeIpPrefix: options.nodeIpPrefix }),
      ...(options.capture === 'inpod' ? { capture: 'inpod' as const, netnsPrefix: 'ambdemo-', ...(options.uid === undefined ? {} : { uid: options.uid }) } : {}),
    })
    const state = cluster.runState()
    const curl = state.pods.find((p) => p.workload === 'curl')
    if (curl === undefined) throw new Error('deploy/demo has no curl pod')
    out(`  istiod      debug http://${state.istiod.debug}/debug/config   analysis http://${state.istiod.debug}/debug/analysis?format=text`)
    for (const n of state.nodes) out(`  ztunnel ${n.name}  admin http://${n.ip}:15000/config_dump   metrics http://${n.ip}:15020/metrics`)
    for (const w of state.waypoints) out(`  waypoint ${w.namespace}/${w.name}  metrics http://${w.ip}:15020/metrics`)
    out(`  pods: ${state.pods.map((p) => `${p.name.replace(/-[a-z0-9]{10}-\d+$/, '')}@${p.podIP}(${p.node})`).join(' ')}`)
    out(`  config (edit live): ${configDir}`)
    ui = createUiServer({ stateDir: join(dir, 'state'), port: options.uiPort ?? UI_DEFAULT_PORT })
    const shown = await ui.start().then((a) => `http://${a.address}:${a.port}/`, (err: unknown) => { ui = undefined; return `not started (${errorMessage(err)})` })
    out(`  dashboard: ${shown}`)
    const inpodNetns = state.capture?.kind === 'inpod' ? `${state.capture.netnsPrefix}${curl.namespace}.${curl.name}` : undefined
    out(inpodNetns === undefined
      ? `  try: curl --socks5-hostname ${curl.podIP}:15080 http://productpage:9080/productpage   (as the curl pod)`
      : `  try: ambient exec curl -- curl -s http://productpage:9080/productpage   (in the curl pod's namespace, no proxy)`)
    out('')

    const traffic: Traffic = { ok: 0, failed: 0, detailsDenied: 0, reviews: new Map(), last: '' }
    const started = Date.now()
    const end = options.durationMs === undefined ? options.stop : Promise.race([options.stop, delay(options.durationMs)])
    let done = false
    void end.then(() => { done = true })
    const intervalMs = 1000 / (options.rate ?? 5)
    const generator = (async () => {
      while (!done) {
        const tick = delay(intervalMs)
        try {
          const get = { headers: { 'x-request-id': randomUUID() }, timeoutMs: 3_000 }
          const r = inpodNetns === undefined
            ? await httpGetViaSocks({ host: curl.podIP, port: 15080 }, 'http://productpage:9080/productpage', get)
            : await httpGetInPod(inpodNetns, 'http://productpage:9080/productpage', get)
          const page = JSON.parse(r.body) as { details?: { error?: string }; reviews?: { version?: string; error?: string } }
          traffic.ok++
          if (page.details?.error !== undefined) traffic.detailsDenied++
          const version = page.reviews?.version ?? 'unavailable'
          traffic.reviews.set(version, (traffic.reviews.get(version) ?? 0) + 1)
          traffic.last = page.details?.error ?? page.reviews?.error ?? `${r.status}, reviews ${version}`
        } catch (err) {
          traffic.failed++
          traffic.last = isPolicyDenial(err) ? 'denied by policy' : errorMessage(err)
        }
        await tick
      }
    })()

    const deny = join(configDir, 'tour-deny-details.yaml')
    const tour = options.tour ? [
      { at: 4_000, say: 'tour 1/2: writing AuthorizationPolicy tour-deny-details (DENY productpage → details) into the config dir → details\' ztunnel refuses productpage', act: () => writeFile(deny, DENY_DETAILS) },
      { at: 10_000, say: 'tour 2/2: removing the policy file → productpage → details flows again', act: () => rm(deny, { force: true }) },
    ] : []
    // In-pod: the waypoint's pod IP is only reachable inside the cluster's namespaces (see ui/collector.ts).
    const metricsUrls = [...state.nodes.map((n) => `http://${n.ip}:15020/metrics`), ...(inpodNetns === undefined ? state.waypoints.map((w) => `http://${w.ip}:15020/metrics`) : [])]
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
      const samples = await scrape(metricsUrls)
      const reviews = [...traffic.reviews].sort().map(([v, n]) => `${v} ${n}`).join(', ')
      const table = [
        `t=${Math.round(elapsed / 1000)}s  curl → productpage: ${traffic.ok} pages, ${traffic.failed} failed, ${traffic.detailsDenied} without details; reviews by version: ${reviews || '-'}`,
        `  last: ${traffic.last}`,
        '  L4 edges (destination ztunnels)                     connections  denied  mTLS',
        ...l4Edges(samples).map((e) => `  ${e.edge.padEnd(52)} ${String(e.connections).padStart(11)} ${String(e.denied).padStart(7)}  ${e.mtls ? 'yes' : 'NO'}`),
        '  L7 (reviews waypoint)                               requests',
        ...l7Rows(samples).map((r) => `  ${r.row.padEnd(52)} ${String(r.requests).padStart(8)}`),
        ...events.splice(0).map((e) => `  ! ${e}`),
      ]
      if (options.live && lines > 0) out(`\x1b[${lines}A\x1b[J${table.join('\n')}`)
      else out(table.join('\n'))
      lines = table.length
    }
    await generator
    out('stopping: pods, waypoint, ztunnels, istiod …')
  } finally {
    await ui?.close()
    await cluster?.close()
    await rm(dir, { recursive: true, force: true })
  }
}
