// `npm run demo`: `cluster up` on the bundled scenario (deploy/demo: bookinfo in an ambient
// namespace, a waypoint for reviews, the seed's 90/10 reviews canary, STRICT mTLS, deny-all plus an
// allow list), a traffic generator (the curl pod → productpage; productpage → details and reviews,
// reviews v2/v3 → ratings happen inside the apps), a live one-screen summary from the mesh's own
// metrics, and a scripted tour: write a DENY policy into the (copied) config dir, watch the flow get
// denied, remove it. A runner: owns the cluster and its copy of the config, and leaves neither
// behind. Its state directory (default ./.ambient) is the one `ambient cluster status`, `zc`,
// `exec`, `explain` and `ui` read by default, so a second terminal inspects the demo as printed.
import { randomUUID } from 'node:crypto'
import { cp, mkdir, rm, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { setTimeout as delay } from 'node:timers/promises'
import { errorMessage, isAmbientError } from '../errors.js'
import { ClusterErrorCode, startCluster, type ClusterEvent, type ClusterPlanOptions } from './cluster.js'
import { httpGetInPod } from './inpod-topology.js'
import { waypointMetricsAccess } from './run-state.js'
import { l4Edges, l7Rows, scrape } from './metrics-summary.js'
import { httpGetViaSocks, isPolicyDenial } from './sample-apps/http-client.js'

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
  /** The cluster's state directory (run state, logs, istiod's CA) and the demo's config copy (`demo-config/`). */
  readonly stateDir: string
  /** How the inspection commands reach this state dir (`` or ` --state-dir D`), for the printed hints. */
  readonly stateDirFlag?: string
  /** How the printed hints spell the CLI (default `./ambient`, the repository's launcher). */
  readonly cliHint?: string
  /** Where the cluster runs (nodes, addresses, ports); default: 2 nodes on the default address plan. */
  readonly plan?: ClusterPlanOptions
  /**
   * Starts the dashboard on this state dir (the CLI passes src/ui's server: the runner does not
   * import the dashboard, which sits above it). Absent: no dashboard.
   */
  readonly dashboard?: (stateDir: string) => DemoDashboard
  /** How long to wait for the first whole page through the mesh before counting (default 60 s). */
  readonly firstPageTimeoutMs?: number
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

/** The slice of the dashboard server the demo starts and stops. */
export interface DemoDashboard {
  start(): Promise<{ readonly address: string; readonly port: number }>
  close(): Promise<void>
}

interface Traffic {
  ok: number
  failed: number
  detailsDenied: number
  reviews: Map<string, number>
  last: string
}

export async function runDemo(options: DemoOptions): Promise<void> {
  const out = options.out
  const stateDir = options.stateDir
  const configDir = join(stateDir, 'demo-config')
  const events: string[] = []
  const onEvent = (e: ClusterEvent): void => {
    if (e.kind === 'crashed') events.push(`${e.name} exited (${e.signal ?? `code ${e.code}`}), restarting in ${e.restartInMs} ms`)
    if (e.kind === 'pod_rejected' || e.kind === 'reconcile_failed') events.push('pod' in e ? `${e.pod}: ${e.message}` : e.message)
    if (e.kind === 'analysis')
      events.push(
        `config error: ${e.message.file ?? '(no file)'}${e.message.line === undefined ? '' : `:${e.message.line}`} ` +
          `[${e.message.code}] ${e.message.message} — fix: ${e.message.fix}`,
      )
  }
  let cluster: Awaited<ReturnType<typeof startCluster>> | undefined
  let ui: DemoDashboard | undefined
  try {
    await mkdir(stateDir, { recursive: true })
    await rm(configDir, { recursive: true, force: true })
    await cp(options.scenarioDir, configDir, { recursive: true })
    const nodes = options.plan?.nodes ?? 2
    out(`ambient demo: starting istiod, ${nodes} ztunnels, the reviews waypoint and bookinfo from deploy/demo …`)
    cluster = await startCluster({
      nodes,
      ...options.plan,
      configDir,
      stateDir,
      cliPath: options.cliPath,
      env: options.env,
      logLevel: options.plan?.logLevel ?? 'warn',
      onEvent,
      cancel: options.stop,
    }).catch((err: unknown) => {
      if (isAmbientError(err, ClusterErrorCode.startCancelled)) return undefined
      throw err
    })
    if (cluster === undefined) {
      out('stopped before the cluster was up')
      return
    }
    const state = cluster.runState()
    const curl = state.pods.find((p) => p.workload === 'curl')
    if (curl === undefined) throw new Error('deploy/demo has no curl pod')
    out(`  istiod      debug http://${state.istiod.debug}/debug/config   analysis http://${state.istiod.debug}/debug/analysis?format=text`)
    for (const n of state.nodes) out(`  ztunnel ${n.name}  admin http://${n.ip}:15000/config_dump   metrics http://${n.ip}:15020/metrics`)
    for (const w of state.waypoints)
      out(
        `  waypoint ${w.namespace}/${w.name}  metrics ${waypointMetricsAccess(state, w, options.cliHint ?? './ambient', options.stateDirFlag ?? '')}`,
      )
    out(`  pods: ${state.pods.map((p) => `${p.name.replace(/-[a-z0-9]{10}-\d+$/, '')}@${p.podIP}(${p.node})`).join(' ')}`)
    out(`  config (edit live): ${configDir}`)
    ui = options.dashboard?.(stateDir)
    const shown =
      ui === undefined
        ? 'not started'
        : await ui.start().then(
            (a) => `http://${a.address}:${a.port}/`,
            (err: unknown) => {
              ui = undefined
              return `not started (${errorMessage(err)})`
            },
          )
    out(`  dashboard: ${shown}`)
    const flag = options.stateDirFlag ?? ''
    out(`  state dir: ${stateDir} — in another terminal, from this directory:`)
    const cli = options.cliHint ?? './ambient'
    out(`    ${cli} cluster status${flag}     ${cli} zc workloads${flag}     ${cli} ui --port 0${flag}`)
    out(`    ${cli} exec${flag} curl -- curl -s http://productpage:9080/productpage`)
    out(`    ${cli} explain${flag} --from curl --to reviews:9080 --method GET --path /reviews/0`)
    const inpodNetns = state.capture?.kind === 'inpod' ? `${state.capture.netnsPrefix}${curl.namespace}.${curl.name}` : undefined
    out(
      inpodNetns === undefined
        ? `  try: curl --socks5-hostname ${curl.podIP}:15080 http://productpage:9080/productpage   (as the curl pod)`
        : `  try: ${cli} exec${flag} curl -- curl -s http://productpage:9080/productpage   (in the curl pod's namespace, no proxy)`,
    )
    const getPage = (get: { headers?: Record<string, string>; timeoutMs: number }): Promise<{ status: number; body: string }> =>
      inpodNetns === undefined
        ? httpGetViaSocks({ host: curl.podIP, port: 15080 }, 'http://productpage:9080/productpage', get)
        : httpGetInPod(inpodNetns, 'http://productpage:9080/productpage', get)

    // Ready means a whole page through the mesh (productpage, details, reviews via the waypoint),
    // so the counters below start from a mesh that answers, not from its warm-up.
    const firstPage = await waitFirstPage(getPage, options.firstPageTimeoutMs ?? 60_000, options.stop)
    if (firstPage === 'stopped') return
    out(`  up: a first whole page through the mesh (${firstPage}); counting from here`)
    out('')

    const traffic: Traffic = { ok: 0, failed: 0, detailsDenied: 0, reviews: new Map(), last: '' }
    const started = Date.now()
    // The duration's timer goes when the demo ends either way: a Ctrl-C must not leave the process
    // waiting out the rest of --duration with nothing else running.
    const duration = new AbortController()
    const end =
      options.durationMs === undefined
        ? options.stop
        : Promise.race([options.stop, delay(options.durationMs, undefined, { signal: duration.signal }).catch(() => undefined)])
    let done = false
    void end.then(() => {
      done = true
      duration.abort()
    })
    const intervalMs = 1000 / (options.rate ?? 5)
    const generator = (async () => {
      while (!done) {
        const tick = delay(intervalMs)
        try {
          const get = { headers: { 'x-request-id': randomUUID() }, timeoutMs: 3_000 }
          const r = await getPage(get)
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
    const tour = options.tour
      ? [
          {
            at: 4_000,
            say:
              'tour 1/2: writing AuthorizationPolicy tour-deny-details (DENY productpage → details) into the ' +
              "config dir → details' ztunnel refuses productpage",
            act: () => writeFile(deny, DENY_DETAILS),
          },
          {
            at: 10_000,
            say: 'tour 2/2: removing the policy file → productpage → details flows again',
            act: () => rm(deny, { force: true }),
          },
        ]
      : []
    // In-pod: the waypoint's pod IP is only reachable inside the cluster's namespaces (see ui/collector.ts).
    const metricsUrls = [
      ...state.nodes.map((n) => `http://${n.ip}:15020/metrics`),
      ...(inpodNetns === undefined ? state.waypoints.map((w) => `http://${w.ip}:15020/metrics`) : []),
    ]
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
      const reviews = [...traffic.reviews]
        .sort()
        .map(([v, n]) => `${v} ${n}`)
        .join(', ')
      const table = [
        `t=${Math.round(elapsed / 1000)}s  curl → productpage: ${traffic.ok} pages, ${traffic.failed} ` +
          `failed, ${traffic.detailsDenied} without details; reviews by version: ${reviews || '-'}`,
        `  last: ${traffic.last}`,
        '  L4 edges (destination ztunnels)                     connections  denied  mTLS',
        ...l4Edges(samples).map(
          (e) => `  ${e.edge.padEnd(52)} ${String(e.connections).padStart(11)} ${String(e.denied).padStart(7)}  ${e.mtls ? 'yes' : 'NO'}`,
        ),
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
    await rm(configDir, { recursive: true, force: true })
  }
}

/** Polls productpage from the curl pod until a page carries details and a reviews version. */
async function waitFirstPage(
  getPage: (get: { timeoutMs: number }) => Promise<{ status: number; body: string }>,
  timeoutMs: number,
  stop: Promise<unknown>,
): Promise<string | 'stopped'> {
  const deadline = Date.now() + timeoutMs
  let stopped = false
  void stop.then(() => {
    stopped = true
  })
  while (!stopped) {
    let last: string
    try {
      const r = await getPage({ timeoutMs: 3_000 })
      const page = JSON.parse(r.body) as { details?: { error?: string }; reviews?: { version?: string; error?: string } }
      if (r.status === 200 && page.details !== undefined && page.details.error === undefined && page.reviews?.version !== undefined)
        return `reviews ${page.reviews.version}`
      last = page.details?.error ?? page.reviews?.error ?? `HTTP ${r.status}`
    } catch (err) {
      last = errorMessage(err)
    }
    if (Date.now() > deadline) throw new Error(`no whole page through the mesh within ${timeoutMs} ms (last: ${last})`)
    await Promise.race([delay(200), stop])
  }
  return 'stopped'
}
