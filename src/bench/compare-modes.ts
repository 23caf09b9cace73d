// The modes of `ambient compare` and the clusters that carry them. Every mode is a route for the load
// generator plus the mesh proxies on that route (sampled for CPU and memory):
//
//   nomesh      load generator → the server pod's app on its pod-local address (no proxy)
//   ambient-l4  → SOCKS5 at the client pod (node-1 ztunnel) → HBONE → node-2 ztunnel → app
//   ambient-l7  → the same, to a Service enrolled with istio.io/use-waypoint: ztunnel → waypoint → ztunnel → app
//   sidecar     → the client pod's sidecar → the server pod's sidecar → app (`cluster up --mode sidecar`)
//
// A "topology" is one real cluster (`startCluster`: istiod, a ztunnel per node, waypoints, one
// process per pod) generated from Kubernetes YAML on its own random 127.X ranges, so that runs never
// collide with a running demo or with each other. The simple scenario serves nomesh, ambient-l4 and
// ambient-l7 from one cluster (two Services over the same pods, one enrolled in a waypoint); sidecar
// from a second cluster of the same YAML (minus the waypoint) started with `mode: 'sidecar'` (one
// `ambient sidecar` per pod, no ztunnel, no waypoint). The server pods' app is one bench process
// bound on every server pod's pod-local address (in both clusters).
import { existsSync } from 'node:fs'
import { cp, mkdir, readFile, readdir, writeFile } from 'node:fs/promises'
import path from 'node:path'
import { randomInt } from 'node:crypto'
import { stringify } from 'yaml'
import { startCluster } from '../cluster/cluster.js'
import type { Cluster, ClusterOptions } from '../cluster/cluster.js'
import { startWorker } from './workers/ipc.js'
import type { WorkerHandle } from './workers/ipc.js'
import type { CompareAppsConfig } from './workers/compare-apps.js'
import { RESPONSE_BODY_BYTES } from './ztunnel-http.js'
import type { Route } from './ztunnel-http.js'

export const MODES = ['nomesh', 'ambient-l4', 'ambient-l7', 'sidecar'] as const
export type Mode = (typeof MODES)[number]
export const SCENARIOS = ['simple', 'bookinfo'] as const
export type Scenario = (typeof SCENARIOS)[number]

export const MODE_LABEL: Record<Mode, string> = {
  nomesh: 'no mesh',
  'ambient-l4': 'ambient L4',
  'ambient-l7': 'ambient L7',
  sidecar: 'sidecar',
}

export function parseModes(text: string): Mode[] {
  const out: Mode[] = []
  for (const m of text
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '')) {
    if (!(MODES as readonly string[]).includes(m)) throw new Error(`--modes: "${m}" is not one of ${MODES.join(', ')}`)
    if (!out.includes(m as Mode)) out.push(m as Mode)
  }
  if (out.length === 0) throw new Error('--modes: no mode given')
  return out
}

export const APP_PORT = 8080
const NS = 'bench'
const WAYPOINT = 'bench-waypoint'

/** A process of the mesh data plane: what a mode costs. */
export interface ProxyProc {
  role: 'ztunnel' | 'waypoint' | 'sidecar'
  name: string
  pid: number
}

export interface Topology {
  readonly description: string
  readonly modes: readonly Mode[]
  /** The HTTP path the load generator asks for. */
  readonly path: string
  route(mode: Mode): Route
  /** The proxies on `mode`'s path (ambient: one ztunnel per node, + the waypoint for L7). */
  proxies(mode: Mode): ProxyProc[]
  /** Every mesh process (proxies and istiod): pinned to the mesh core. */
  meshPids(): number[]
  /** Application processes (pods, the bench app): pinned with the load generator. */
  appPids(): number[]
  close(): Promise<void>
}

/** Whether sidecar mode exists in this build: `ambient sidecar` and `cluster up --mode sidecar`. */
export function sidecarAvailable(cliPath: string): { ok: boolean; reason: string } {
  const dist = path.dirname(path.dirname(cliPath))
  const sidecarDir = path.join(dist, 'sidecar')
  if (!existsSync(sidecarDir) || !existsSync(path.join(dist, 'cli', 'commands', 'sidecar.js'))) {
    return { ok: false, reason: '`ambient sidecar` is not built yet (no dist/sidecar, no `sidecar` command): sidecar mode is not wired' }
  }
  return { ok: true, reason: '' }
}

/** 127.X octets never picked: 127.0/127.1, the cluster runner's defaults (pods 244, pod-local 245, VIPs 96, nodes 18). */
const RESERVED_OCTETS: ReadonlySet<number> = new Set([0, 1, 18, 96, 244, 245])
/**
 * Octets this process already handed out. A compare run keeps its ambient and sidecar clusters up
 * side by side, so one cluster's ranges must not be another's (two picks at random met in ~7 % of
 * runs: an app could not bind its pod address). Cleared only when too few are left for a cluster.
 */
const pickedOctets = new Set<number>()

/** Random 127.X prefixes for pods, pod-local addresses, VIPs and nodes, distinct from every other cluster's of this process. */
export function pickRanges(): { pods: number; podLocal: number; vips: number; nodes: number } {
  if (240 - 20 - RESERVED_OCTETS.size - pickedOctets.size < 4) pickedOctets.clear()
  const pick = (): number => {
    for (let i = 0; i < 10_000; i++) {
      const x = randomInt(20, 240)
      if (!RESERVED_OCTETS.has(x) && !pickedOctets.has(x)) {
        pickedOctets.add(x)
        return x
      }
    }
    throw new Error('no free 127.X range')
  }
  return { pods: pick(), podLocal: pick(), vips: pick(), nodes: pick() }
}

/** Pods of test/fixtures/bookinfo (curl, productpage, details, reviews v1-v3, ratings). */
const BOOKINFO_PODS = 7

/** Which data plane a simple-scenario cluster runs: ztunnels + a waypoint, or one sidecar per pod. */
export type SimpleKind = 'ambient' | 'sidecar'

export interface SimplePods {
  /** Server pods per node; with `everyNode` false and 1, a single server pod on the last node. */
  perNode: number
  /** The memory sweep: `perNode` server pods on every node, also for 1. */
  everyNode: boolean
}

function simpleYaml(pods: SimplePods, nodes: number, kind: SimpleKind): string {
  const docs: unknown[] = [
    { apiVersion: 'v1', kind: 'Namespace', metadata: { name: NS, labels: { 'istio.io/dataplane-mode': 'ambient' } } },
    { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: 'bench-client', namespace: NS } },
    { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: 'bench-server', namespace: NS } },
    {
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name: 'bench-l4', namespace: NS, labels: { app: 'bench-server' } },
      spec: { selector: { app: 'bench-server' }, ports: [{ name: 'http', port: APP_PORT, targetPort: APP_PORT }] },
    },
    // The waypoint and its Service exist in the ambient cluster only (sidecars do L7 themselves).
    ...(kind === 'ambient'
      ? [
          {
            apiVersion: 'v1',
            kind: 'Service',
            metadata: { name: 'bench-l7', namespace: NS, labels: { app: 'bench-server', 'istio.io/use-waypoint': WAYPOINT } },
            spec: { selector: { app: 'bench-server' }, ports: [{ name: 'http', port: APP_PORT, targetPort: APP_PORT }] },
          },
          {
            apiVersion: 'gateway.networking.k8s.io/v1',
            kind: 'Gateway',
            metadata: { name: WAYPOINT, namespace: NS, labels: { 'istio.io/waypoint-for': 'service' } },
            spec: { gatewayClassName: 'istio-waypoint', listeners: [{ name: 'mesh', port: 15008, protocol: 'HBONE' }] },
          },
        ]
      : []),
    deployment('bench-client', 'bench-client', 'bench-client', 1, 'node-1', []),
  ]
  // The server pods: on the last node (the client calls across nodes); for the sweep, on every node.
  if (!pods.everyNode && pods.perNode <= 1)
    docs.push(deployment('bench-server', 'bench-server', 'bench-server', 1, `node-${nodes}`, [APP_PORT]))
  else
    for (let k = 1; k <= nodes; k++)
      docs.push(deployment(`bench-server-n${k}`, 'bench-server', 'bench-server', pods.perNode, `node-${k}`, [APP_PORT]))
  return docs.map((d) => stringify(d)).join('---\n')
}

function deployment(name: string, app: string, sa: string, replicas: number, node: string, ports: number[]): unknown {
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name, namespace: NS },
    spec: {
      replicas,
      selector: { matchLabels: { app, deploy: name } },
      template: {
        metadata: { labels: { app, deploy: name } },
        spec: {
          serviceAccountName: sa,
          nodeName: node,
          // An idle image: the pod's process serves nothing; the bench app binds its pod-local address.
          containers: [
            { name: 'main', image: 'curlimages/curl', ...(ports.length > 0 ? { ports: ports.map((p) => ({ containerPort: p })) } : {}) },
          ],
        },
      },
    },
  }
}

interface DebugConfig {
  services?: { name: string; namespace: string; addresses: string[] }[]
}

async function serviceVip(debug: string, namespace: string, name: string): Promise<string> {
  const res = await fetch(`http://${debug}/debug/config`, { signal: AbortSignal.timeout(3000) })
  const body = (await res.json()) as DebugConfig
  const s = body.services?.find((x) => x.namespace === namespace && x.name === name)
  const vip = s?.addresses[0]
  if (vip === undefined) throw new Error(`istiod serves no VIP for ${namespace}/${name}`)
  return vip
}

export interface TopologyOptions {
  cliPath: string
  stateDir: string
  nodes: number
  log: (line: string) => void
  startTimeoutMs: number
  /**
   * `inpod` (root): the clusters run with in-pod capture (`cluster up --capture inpod`; sidecar mode:
   * each sidecar in its pod's namespace behind istio-iptables' rules); the load generator connects
   * from a socket made in the client pod's namespace, the app listens in the server pods' namespaces.
   */
  capture?: 'socks' | 'inpod'
  /** Extra Node flags for the cluster's proxies (ClusterOptions.proxyNodeFlags). */
  proxyNodeFlags?: readonly string[]
}

async function bootCluster(
  o: TopologyOptions,
  configDir: string,
  kind: SimpleKind = 'ambient',
): Promise<{ cluster: Cluster; ranges: ReturnType<typeof pickRanges> }> {
  const ranges = pickRanges()
  const options: ClusterOptions = {
    configDir,
    mode: kind,
    stateDir: o.stateDir,
    nodes: o.nodes,
    cliPath: o.cliPath,
    nodeIpPrefix: `127.${ranges.nodes}.0`,
    // In-pod: the runner's own plan (10.244/10.245/10.96), inside this cluster's namespaces only.
    ...(o.capture === 'inpod'
      ? { capture: 'inpod' as const, uid: process.getuid?.() ?? -1 }
      : { addressPlan: `127.${ranges.pods},127.${ranges.podLocal},127.${ranges.vips}` }),
    istiodPorts: { grpc: 0, debug: 0 },
    logLevel: 'warn',
    env: { ...process.env },
    startTimeoutMs: o.startTimeoutMs,
    ...(o.proxyNodeFlags === undefined ? {} : { proxyNodeFlags: o.proxyNodeFlags }),
    reconcileIntervalMs: 1000,
    onEvent: (e) => {
      if (e.kind === 'pod_rejected' || e.kind === 'reconcile_failed') o.log(`cluster: ${e.kind}: ${'message' in e ? e.message : ''}`)
    },
  }
  const cluster = await startCluster(options)
  return { cluster, ranges }
}

/** Waits (bounded) until every pod, every waypoint and every sidecar of the cluster has a running process. */
async function waitRunning(cluster: Cluster, wantPods: number, wantWaypoints: number, timeoutMs: number, wantSidecars = 0): Promise<void> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const s = cluster.runState()
    const running = (role: string): number => s.processes.filter((p) => p.role === role && p.pid !== undefined).length
    if (
      s.pods.length >= wantPods &&
      running('pod') >= wantPods &&
      running('waypoint') >= wantWaypoints &&
      running('sidecar') >= wantSidecars
    )
      return
    if (Date.now() > deadline)
      throw new Error(
        `cluster: ${running('pod')}/${wantPods} pods, ${running('waypoint')}/${wantWaypoints} waypoints and ` +
          `${running('sidecar')}/${wantSidecars} sidecars running after ${timeoutMs} ms`,
      )
    await cluster.reconcile()
    await new Promise((r) => setTimeout(r, 200))
  }
}

function proxiesOf(cluster: Cluster, roles: readonly ProxyProc['role'][]): ProxyProc[] {
  return cluster
    .runState()
    .processes.filter((p): p is typeof p & { pid: number } => p.pid !== undefined && (roles as readonly string[]).includes(p.role))
    .map((p) => ({ role: p.role as ProxyProc['role'], name: p.name, pid: p.pid }))
    .sort((a, b) => a.name.localeCompare(b.name))
}

async function waitHttp(route: Route, pathName: string, timeoutMs: number): Promise<void> {
  // One real request along the route (bounded): the mesh has the config, certificates and the app is up.
  const { HttpPool } = await import('./ztunnel-http.js')
  const deadline = Date.now() + timeoutMs
  let last: string
  for (;;) {
    try {
      const pool = await HttpPool.open(route, 1, pathName)
      try {
        await Promise.race([pool.request(), new Promise((_, reject) => setTimeout(() => reject(new Error('request timed out')), 3000))])
        return
      } finally {
        pool.close()
      }
    } catch (err) {
      last = err instanceof Error ? err.message : String(err)
    }
    if (Date.now() > deadline) throw new Error(`no answer along ${JSON.stringify(route)} after ${timeoutMs} ms: ${last}`)
    await new Promise((r) => setTimeout(r, 250))
  }
}

/**
 * The simple scenario: a client pod on node-1 calling a 1 KiB service; its pods on the last node
 * (or, for the memory sweep, `perNode` on every node). `kind` 'ambient' serves nomesh, ambient-l4
 * and ambient-l7; 'sidecar' (`cluster up --mode sidecar`: a sidecar per pod) serves sidecar: client
 * pod's sidecar (SOCKS5 on its pod IP) → Service VIP → mTLS → the server pod's sidecar → app.
 */
export async function startSimpleTopology(
  o: TopologyOptions,
  pods: SimplePods,
  appFile: string,
  kind: SimpleKind = 'ambient',
): Promise<Topology> {
  const configDir = path.join(o.stateDir, 'config')
  await mkdir(configDir, { recursive: true })
  await writeFile(path.join(configDir, 'bench.yaml'), simpleYaml(pods, o.nodes, kind))
  const { cluster, ranges } = await bootCluster(o, configDir, kind)
  let app: WorkerHandle | undefined
  try {
    const single = !pods.everyNode && pods.perNode <= 1
    const serverCount = single ? 1 : pods.perNode * o.nodes
    await waitRunning(cluster, serverCount + 1, kind === 'ambient' ? 1 : 0, o.startTimeoutMs, kind === 'sidecar' ? serverCount + 1 : 0)
    const podList = cluster.runState().pods
    const client = podList.find((p) => p.workload === 'bench-client')
    const servers = podList.filter((p) => p.workload.startsWith('bench-server'))
    if (client === undefined || servers.length !== serverCount)
      throw new Error(`cluster: expected 1 client and ${serverCount} server pods, got ${podList.map((p) => p.name).join(', ')}`)
    // In-pod: the app listens on each server's pod IP inside its namespace; the client's connections
    // start in its namespace (captured by its rules); no mesh = the last server's own namespace to its
    // pod IP over lo (the rules pass it), as the socks plan's no mesh is a loopback connect too.
    const prefix = o.capture === 'inpod' ? cluster.runState().capture?.netnsPrefix : undefined
    const inPod = (p: { name: string }): string => `${prefix}${NS}.${p.name}`
    app = await startWorker<CompareAppsConfig>('app', appFile, {
      hosts: servers.map((s) => (prefix === undefined ? s.podLocalIP : s.podIP)),
      ...(prefix === undefined ? {} : { netns: servers.map(inPod) }),
      port: APP_PORT,
      bodyBytes: RESPONSE_BODY_BYTES,
    })
    const debug = cluster.istiod.debug
    const last = servers[servers.length - 1]!
    const socks = (ip: string): Route =>
      prefix === undefined
        ? { kind: 'socks', proxyHost: client.podIP, proxyPort: 15080, ip, port: APP_PORT }
        : { kind: 'netns', netns: inPod(client), ip, port: APP_PORT }
    const routes: Partial<Record<Mode, Route>> =
      kind === 'ambient'
        ? {
            nomesh:
              prefix === undefined
                ? { kind: 'direct', host: last.podLocalIP, port: APP_PORT }
                : { kind: 'netns', netns: inPod(last), ip: last.podIP, port: APP_PORT },
            'ambient-l4': socks(await serviceVip(debug, NS, 'bench-l4')),
            'ambient-l7': socks(await serviceVip(debug, NS, 'bench-l7')),
          }
        : { sidecar: socks(await serviceVip(debug, NS, 'bench-l4')) }
    for (const r of Object.values(routes)) await waitHttp(r, '/1k', o.startTimeoutMs)
    const appHandle = app
    const meshRoles: ProxyProc['role'][] = kind === 'ambient' ? ['ztunnel', 'waypoint'] : ['sidecar']
    o.log(
      `${kind} cluster on 127.${ranges.nodes}.0.* (nodes), ` +
        `${prefix === undefined ? `127.${ranges.pods}/16 (pods), 127.${ranges.vips}/16 (VIPs)` : `in-pod namespaces ${prefix}*`}: ` +
        `${servers.length} server pod(s), ` +
        `${kind === 'ambient' ? `waypoint ${WAYPOINT}` : `${proxiesOf(cluster, ['sidecar']).length} sidecars`}`,
    )
    return {
      description:
        `simple${kind === 'sidecar' ? ' (sidecars)' : ''}: client pod on node-1 → 1 KiB HTTP service ` +
        `(${servers.length} pod${servers.length === 1 ? '' : 's'}${single ? ` on node-${o.nodes}` : `, ${pods.perNode} per node`})`,
      modes: Object.keys(routes) as Mode[],
      path: '/1k',
      route(mode) {
        const r = routes[mode]
        if (r === undefined) throw new Error(`this ${kind} cluster does not serve ${mode}`)
        return r
      },
      proxies(mode) {
        if (routes[mode] === undefined || mode === 'nomesh') return []
        if (mode === 'sidecar') return proxiesOf(cluster, ['sidecar'])
        return proxiesOf(cluster, mode === 'ambient-l7' ? ['ztunnel', 'waypoint'] : ['ztunnel'])
      },
      meshPids: () =>
        proxiesOf(cluster, meshRoles)
          .map((p) => p.pid)
          .concat(
            cluster
              .runState()
              .processes.filter((p) => p.role === 'istiod' && p.pid !== undefined)
              .map((p) => p.pid!),
          ),
      appPids: () => [
        appHandle.pid,
        ...cluster
          .runState()
          .processes.filter((p) => p.role === 'pod' && p.pid !== undefined)
          .map((p) => p.pid!),
      ],
      async close() {
        await appHandle.stop()
        await cluster.close()
      },
    }
  } catch (err) {
    await app?.stop()
    await cluster.close()
    throw err
  }
}

/**
 * The bookinfo scenario (test/fixtures/bookinfo): the client calls productpage, which calls details
 * and reviews (→ ratings). ambient-l4: the fixture without the reviews waypoint; ambient-l7: with
 * it; sidecar: without it, as `cluster up --mode sidecar` (a sidecar per pod). One cluster per mode,
 * side by side. No nomesh: the sample apps reach each other only through the mesh.
 */
export async function startBookinfoTopology(
  o: TopologyOptions,
  fixtureDir: string,
  mode: 'ambient-l4' | 'ambient-l7' | 'sidecar',
): Promise<Topology> {
  const withWaypoint = mode === 'ambient-l7'
  const configDir = path.join(o.stateDir, 'config')
  await mkdir(configDir, { recursive: true })
  for (const f of await readdir(fixtureDir)) {
    if (!f.endsWith('.yaml')) continue
    if (f === 'reviews-waypoint.yaml') {
      if (withWaypoint) await cp(path.join(fixtureDir, f), path.join(configDir, f))
      continue
    }
    let text = await readFile(path.join(fixtureDir, f), 'utf8')
    if (!withWaypoint)
      text = text
        .split('\n')
        .filter((l) => !l.includes('istio.io/use-waypoint'))
        .join('\n')
    await writeFile(path.join(configDir, f), text)
  }
  const kind: SimpleKind = mode === 'sidecar' ? 'sidecar' : 'ambient'
  const { cluster } = await bootCluster(o, configDir, kind)
  try {
    await waitRunning(cluster, BOOKINFO_PODS, withWaypoint ? 1 : 0, o.startTimeoutMs, kind === 'sidecar' ? BOOKINFO_PODS : 0)
    const pods = cluster.runState().pods
    const client = pods.find((p) => p.workload === 'curl')
    if (client === undefined) throw new Error('bookinfo: no curl pod')
    const vip = await serviceVip(cluster.istiod.debug, 'default', 'productpage')
    // In-pod: from a socket made in the curl pod's namespace (its rules capture it), as with simple.
    const prefix = o.capture === 'inpod' ? cluster.runState().capture?.netnsPrefix : undefined
    const route: Route =
      prefix === undefined
        ? { kind: 'socks', proxyHost: client.podIP, proxyPort: 15080, ip: vip, port: 9080 }
        : { kind: 'netns', netns: `${prefix}${client.namespace}.${client.name}`, ip: vip, port: 9080 }
    await waitHttp(route, '/productpage', o.startTimeoutMs)
    const roles: ProxyProc['role'][] = mode === 'sidecar' ? ['sidecar'] : withWaypoint ? ['ztunnel', 'waypoint'] : ['ztunnel']
    return {
      description:
        `bookinfo ${mode === 'sidecar' ? 'with a sidecar per pod' : withWaypoint ? 'with the reviews waypoint' : 'without the reviews waypoint'}: ` +
        `curl pod → productpage → details, reviews → ratings`,
      modes: [mode],
      path: '/productpage',
      route: () => route,
      proxies: (m) => (m === mode ? proxiesOf(cluster, roles) : []),
      meshPids: () =>
        cluster
          .runState()
          .processes.filter((p) => p.role !== 'pod' && p.pid !== undefined)
          .map((p) => p.pid!),
      appPids: () =>
        cluster
          .runState()
          .processes.filter((p) => p.role === 'pod' && p.pid !== undefined)
          .map((p) => p.pid!),
      close: () => cluster.close(),
    }
  } catch (err) {
    await cluster.close()
    throw err
  }
}
