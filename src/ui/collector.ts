// What the dashboard knows about a running cluster, refreshed by `poll()` (the server calls it every
// second): the run state `ambient cluster up` writes (<state dir>/cluster.json), every proxy's
// /metrics (the graph, from deltas between polls), the ztunnels' /config_dump (live connections,
// certificates), their access logs (recent flows) and istiod's /debug/config and /debug/analysis
// (policies, waypoints, analysis messages). Each source may be down for a poll; what failed is
// listed under `errors` and the last good value of everything else is kept.
// Sidecar mode (the run state's `mode`): no ztunnel and no waypoint run, so the metrics are every
// sidecar's (`<pod IP>:15020/metrics`), flows come from their metric deltas, and there is no
// config_dump to read (no live connection table, no certificate list): the APIs say so.
import { errorMessage } from '../errors.js'
import { scrape, type Sample } from '../cluster/metrics-summary.js'
import { readRunState, runStateMode, runStateSidecars, type ClusterMode, type RunState } from '../cluster/run-state.js'
import { FlowRing, LogTail, accessLogRow, metricRows, type FlowRow } from './flows.js'
import { GraphHistory, edgeCounters, principalKey, type Graph, type GraphContext } from './graph.js'

export interface CollectorOptions {
  readonly stateDir: string
  /** Rates are computed over this window. */
  readonly windowMs?: number
  /** Edges whose counters stay still this long leave the graph (default: 3 windows). */
  readonly idleMs?: number
  readonly now?: () => number
}

interface IstiodWaypoint {
  readonly name: string
  readonly namespace: string
  readonly identity?: string
  readonly services?: readonly {
    readonly name: string
    readonly namespace: string
    readonly hostname?: string
    readonly authorization?: readonly unknown[]
  }[]
  readonly authorization?: readonly unknown[]
}

interface IstiodConfig {
  readonly configVersion?: number
  readonly policies?: readonly Record<string, unknown>[]
  readonly waypoints?: readonly IstiodWaypoint[]
  readonly workloads?: readonly {
    readonly name: string
    readonly namespace: string
    readonly workloadName?: string
    readonly authorizationPolicies?: readonly string[]
  }[]
}

interface ConfigDump {
  readonly certificates?: readonly Record<string, unknown>[]
  readonly connections?: readonly Record<string, unknown>[]
}

export interface ClusterStatus {
  readonly running: boolean
  readonly stateDir: string
  readonly message?: string
  readonly polledAt?: string
  readonly mode?: ClusterMode
  /** Sidecar mode: each sidecar's pod and admin URLs. */
  readonly sidecars?: readonly { readonly pod: string; readonly metrics: string; readonly ready: string }[]
  readonly istiod?: RunState['istiod']
  readonly nodes?: RunState['nodes']
  readonly waypoints?: RunState['waypoints']
  readonly pods?: readonly {
    readonly namespace: string
    readonly name: string
    readonly workload: string
    readonly node: string
    readonly podIP: string
  }[]
  readonly errors: readonly string[]
}

export interface FlowsView {
  /** Where the finished flows come from. */
  readonly source: 'access-log' | 'metrics'
  readonly note: string
  /** Why `live` is empty when it cannot be otherwise (sidecar mode). */
  readonly liveNote?: string
  readonly live: readonly (Record<string, unknown> & { readonly node: string })[]
  /** Newest first. */
  readonly recent: readonly FlowRow[]
}

export interface Collector {
  poll(): Promise<void>
  status(): ClusterStatus
  graph(): Graph
  flows(): FlowsView
  policies(): unknown
  certificates(): unknown
}

async function getJson<T>(url: string): Promise<T> {
  const res = await fetch(url, { signal: AbortSignal.timeout(1_500) })
  if (res.status !== 200) throw new Error(`${url} answered ${res.status}`)
  return (await res.json()) as T
}

export function createCollector(options: CollectorOptions): Collector {
  const now = options.now ?? Date.now
  const history = new GraphHistory({
    windowMs: options.windowMs ?? 10_000,
    ...(options.idleMs === undefined ? {} : { idleMs: options.idleMs }),
  })
  const ring = new FlowRing()
  const tail = new LogTail()
  let state: RunState | undefined
  let errors: string[] = []
  let polledAt: string | undefined
  let previous: Sample[] | undefined
  let istiod: IstiodConfig = {}
  let analysis: unknown = null
  let dumps = new Map<string, ConfigDump>()
  let accessLog = false

  const pollInto = async (problems: string[]): Promise<void> => {
    try {
      state = readRunState(options.stateDir)
    } catch (err) {
      state = undefined
      problems.push(`run state unreadable: ${errorMessage(err)}`)
    }
    polledAt = new Date(now()).toISOString()
    if (state === undefined) {
      errors = problems
      return
    }
    const s = state
    const sidecarMode = runStateMode(s) === 'sidecar'
    const ztunnels = sidecarMode ? [] : s.nodes
    const metricsUrls = sidecarMode
      ? runStateSidecars(s).map((x) => x.metrics)
      : // In-pod capture: a waypoint's pod IP exists only inside the cluster's namespaces (from the
        // host it would route to the uplink), so its metrics are not scraped from here.
        [
          ...s.nodes.map((n) => `http://${n.ip}:15020/metrics`),
          ...(s.capture?.kind === 'inpod' ? [] : s.waypoints.map((w) => `http://${w.ip}:15020/metrics`)),
        ]
    const [samples, config, report, nodeDumps] = await Promise.all([
      scrape(metricsUrls),
      getJson<IstiodConfig>(`http://${s.istiod.debug}/debug/config`).catch((err: unknown) => {
        problems.push(`istiod: ${errorMessage(err)}`)
        return undefined
      }),
      getJson<unknown>(`http://${s.istiod.debug}/debug/analysis`).catch(() => undefined),
      Promise.all(
        ztunnels.map(
          async (n) =>
            [
              n.name,
              await getJson<ConfigDump>(`http://${n.ip}:15000/config_dump`).catch((err: unknown) => {
                problems.push(`ztunnel ${n.name}: ${errorMessage(err)}`)
                return undefined
              }),
            ] as const,
        ),
      ),
    ])
    if (config !== undefined) istiod = config
    if (report !== undefined) analysis = report
    const fresh = new Map<string, ConfigDump>()
    for (const [name, d] of nodeDumps) {
      const kept = d ?? dumps.get(name)
      if (kept !== undefined) fresh.set(name, kept)
    }
    dumps = fresh

    // Sidecar mode: istiod still translates waypoint Gateways, but none runs; callers are known to
    // their destination by certificate, so principals map to the workloads running as them.
    const principals = new Map<string, { namespace: string; name: string }[]>()
    if (sidecarMode) {
      for (const p of s.pods) {
        const key = `${p.namespace}/${p.serviceAccount}`
        const list = principals.get(key) ?? []
        if (!list.some((w) => w.namespace === p.namespace && w.name === p.workload)) list.push({ namespace: p.namespace, name: p.workload })
        principals.set(key, list)
      }
    }
    const ctx: GraphContext = {
      workloads: uniq(s.pods.map((p) => ({ namespace: p.namespace, name: p.workload }))),
      podWorkloads: new Map(s.pods.map((p) => [p.name, p.workload])),
      waypoints: sidecarMode
        ? []
        : (istiod.waypoints ?? []).map((w) => ({
            namespace: w.namespace,
            name: w.name,
            identity: w.identity ?? `cluster.local/ns/${w.namespace}/sa/${w.name}`,
            services: (w.services ?? []).map((x) => ({ namespace: x.namespace, name: x.name })),
          })),
      ...(sidecarMode ? { principals } : {}),
    }
    history.add(now(), edgeCounters(samples, ctx))

    // Recent flows: the ztunnels' access logs where readable, metric deltas otherwise (always in
    // sidecar mode).
    let readable = 0
    for (const p of s.processes.filter((x) => x.role === 'ztunnel')) {
      try {
        for (const line of await tail.read(p.logFile)) {
          const row = accessLogRow(line, p.name.replace('/', ' '))
          if (row !== undefined) ring.push(row)
        }
        readable++
      } catch {
        // not readable (another machine, rotated away): the metrics fallback covers it
      }
    }
    accessLog = readable > 0
    const workloadOfPrincipal = (principal: string): string | undefined => {
      const ws = principals.get(principalKey(principal) ?? '')
      return ws?.length === 1 ? `${ws[0]!.name} (${ws[0]!.namespace})` : undefined
    }
    for (const row of metricRows(previous, samples, {
      l4: !accessLog,
      at: polledAt,
      workloadOfPod: (pod) => ctx.podWorkloads.get(pod),
      ...(sidecarMode ? { proxy: 'sidecar' as const, workloadOfPrincipal } : {}),
    }))
      ring.push(row)
    previous = samples
    errors = problems
  }
  // A poll never throws (the server polls on a timer): whatever broke is one more listed problem.
  const poll = async (): Promise<void> => {
    const problems: string[] = []
    try {
      await pollInto(problems)
    } catch (err) {
      // Most likely a run state of the right shape with broken entries: not used until it reads well.
      state = undefined
      problems.push(`poll failed: ${errorMessage(err)}`)
      errors = problems
    }
  }

  return {
    poll,
    status() {
      if (state === undefined)
        return {
          running: false,
          stateDir: options.stateDir,
          message: `no cluster is running from ${options.stateDir} (start one with \`ambient cluster up --config DIR --state-dir ${options.stateDir}\`)`,
          ...(polledAt === undefined ? {} : { polledAt }),
          errors,
        }
      const mode = runStateMode(state)
      return {
        running: true,
        stateDir: options.stateDir,
        ...(polledAt === undefined ? {} : { polledAt }),
        mode,
        ...(mode === 'sidecar'
          ? {
              sidecars: runStateSidecars(state).map((x) => ({
                pod: `${x.pod.namespace}/${x.pod.name}`,
                metrics: x.metrics,
                ready: x.ready,
              })),
            }
          : {}),
        istiod: state.istiod,
        nodes: state.nodes,
        waypoints: state.waypoints,
        pods: state.pods.map((p) => ({ namespace: p.namespace, name: p.name, workload: p.workload, node: p.node, podIP: p.podIP })),
        errors,
      }
    },
    graph: () => history.graph(),
    flows() {
      const live = [...dumps].flatMap(([node, d]) => (d.connections ?? []).map((c) => ({ node, ...c })))
      if (state !== undefined && runStateMode(state) === 'sidecar') {
        return {
          source: 'metrics',
          note:
            "sidecar mode: flows are aggregated from the sidecars' metric deltas between polls (one row per " +
            "edge and poll): requests as the caller's sidecar reported them, denials as the callee's sidecar did",
          liveNote: 'sidecar mode: no ztunnel, so no live connection table (sidecars serve metrics only)',
          live: [],
          recent: [...ring.list()].sort((a, b) => b.time.localeCompare(a.time)),
        }
      }
      return {
        source: accessLog ? 'access-log' : 'metrics',
        note: accessLog
          ? "L4 flows from the ztunnels' access logs (at log level warn or above only failed flows are logged); " +
            "the waypoints' L7 verdicts from their metrics, aggregated per poll"
          : "the ztunnels' access logs are not readable from here: flows are aggregated from metric deltas between polls (one row per edge and poll)",
        live,
        recent: [...ring.list()].sort((a, b) => b.time.localeCompare(a.time)),
      }
    },
    policies() {
      const applied = new Map<string, string[]>()
      for (const w of istiod.workloads ?? []) {
        for (const p of w.authorizationPolicies ?? []) applied.set(p, [...(applied.get(p) ?? []), w.name])
      }
      // Sidecar mode: the destination's sidecar enforces all of them (L4 and L7).
      const sidecarMode = state !== undefined && runStateMode(state) === 'sidecar'
      const ztunnel = (istiod.policies ?? []).map((p) => ({
        ...p,
        enforcedBy: sidecarMode ? 'sidecar of each workload it applies to' : 'ztunnel (L4)',
        appliesTo:
          p.scope === 'NAMESPACE'
            ? [`every workload in ${String(p.namespace)}`]
            : p.scope === 'GLOBAL'
              ? ['every workload']
              : (applied.get(`${String(p.namespace)}/${String(p.name)}`) ?? []),
      }))
      // At a waypoint: policies on the Gateway (all its traffic) and on each Service it serves.
      const waypoint = (istiod.waypoints ?? []).flatMap((w) => [
        // In sidecar mode a waypoint's own policies bind the sidecars of the pods behind its Services.
        ...(w.authorization ?? []).map((p) => ({
          ...(p as Record<string, unknown>),
          ...(sidecarMode
            ? {
                enforcedBy: `sidecars of the pods behind ${w.name}'s services (L7)`,
                appliesTo: (w.services ?? []).map((svc) => `service ${svc.hostname ?? svc.name}`),
              }
            : { enforcedBy: `waypoint ${w.namespace}/${w.name} (L7)`, appliesTo: [`all traffic of ${w.name}`] }),
        })),
        ...(w.services ?? []).flatMap((svc) =>
          (svc.authorization ?? []).map((p) => ({
            ...(p as Record<string, unknown>),
            enforcedBy: sidecarMode ? `sidecars of ${svc.name}'s pods (L7)` : `waypoint ${w.namespace}/${w.name} (L7)`,
            appliesTo: [`service ${svc.hostname ?? svc.name}`],
          })),
        ),
      ])
      return { policies: [...ztunnel, ...waypoint], analysis, configVersion: istiod.configVersion ?? null }
    },
    certificates() {
      if (state !== undefined && runStateMode(state) === 'sidecar') {
        return {
          certificates: [],
          note: "sidecar mode: each sidecar holds its own pod's certificate and serves no config_dump; no ztunnel lists them",
        }
      }
      return {
        certificates: [...dumps].flatMap(([node, d]) => (d.certificates ?? []).map((c) => ({ node, ...c }))),
      }
    },
  }
}

function uniq<T extends { namespace: string; name: string }>(xs: readonly T[]): T[] {
  const seen = new Map<string, T>()
  for (const x of xs) seen.set(`${x.namespace}/${x.name}`, x)
  return [...seen.values()]
}
