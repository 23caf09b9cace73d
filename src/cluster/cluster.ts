// `ambient cluster up`: a whole local ambient cluster from a directory of Kubernetes YAML, as child
// processes on loopback (architecture.md, "Addressing"):
//
//   istiod (15012 xDS+CA, 15014 debug) → one ztunnel per node (node-k on 127.18.0.k, xDS mode)
//     → one process per pod (`ambient app`: the pod's images as sample apps on its pod-local
//       address, with POD_NAME, POD_NAMESPACE, SERVICE_ACCOUNT and ALL_PROXY=socks5h://<pod IP>:15080)
//     → one `ambient waypoint` per waypoint Gateway on its pod IP (`--xds`: config and certificate
//       from istiod; a CLI without it gets the translated config as a file, see reconcileWaypoints).
//
// Live changes: istiod watches the directory; the runner reconciles what runs with what istiod
// serves (/debug/config) every `reconcileIntervalMs` and whenever the directory changes: new pods
// start, deleted ones stop, a pod whose address or images changed restarts.
// Failures: the supervisor reports a crashed component and restarts it with backoff. A pod with an
// unknown image never starts: at `up` that fails the whole command (nothing is left running); on a
// live change the pod is reported and skipped.
// Shutdown (close, Ctrl-C, `cluster down`): pods, waypoints, ztunnels, istiod in that order, each
// awaited until its process is gone; then the run-state file is removed.
import { readFileSync } from 'node:fs'
import { mkdir, rename, writeFile } from 'node:fs/promises'
import net from 'node:net'
import { dirname, join } from 'node:path'
import { setTimeout as delay } from 'node:timers/promises'
import { AmbientError, errorMessage } from '../errors.js'
import { createDirectoryConfigSource, type DirectoryConfigSource } from '../istiod/config-source.js'
import type { PlacedPod } from '../istiod/translate/placement.js'
import { fetchIstiodView, podUid, type IstiodView } from './istiod-view.js'
import { formatContainerArg } from './pod-app.js'
import { configPods, planPods, unknownImages, type PodPlan } from './pod-plan.js'
import { isAlive, readRunState, removeRunState, writeRunState, type RunState } from './run-state.js'
import { createSupervisor, type ComponentSpec, type SupervisorEvent } from './supervisor.js'
import { INPOD_ADDRESS_PLAN, podHosts, startInpodTopology, type InpodTopology } from './inpod-topology.js'

export const ClusterErrorCode = {
  alreadyRunning: 'CLUSTER_ALREADY_RUNNING',
  unknownImage: 'CLUSTER_UNKNOWN_IMAGE',
  startFailed: 'CLUSTER_START_FAILED',
} as const

export interface ClusterOptions {
  readonly configDir: string
  /** Holds cluster.json, logs/ and istiod/ (istiod's state dir). */
  readonly stateDir: string
  readonly nodes: number
  /** The built CLI (dist/cli/main.js) the components run from. */
  readonly cliPath: string
  /** Node k gets `<prefix>.k`; default 127.18.0. */
  readonly nodeIpPrefix?: string
  /** istiod's `--address-plan` (pods,pod-local,VIPs /16 prefixes); default architecture.md's. */
  readonly addressPlan?: string
  /** istiod's ports on 127.0.0.1; 0 picks free ones. Default 15012 / 15014. */
  readonly istiodPorts?: { readonly grpc: number; readonly debug: number }
  readonly logLevel?: string
  /** The environment components inherit (pods get theirs on top). */
  readonly env: Readonly<Record<string, string | undefined>>
  readonly onEvent?: (event: ClusterEvent) => void
  readonly reconcileIntervalMs?: number
  readonly startTimeoutMs?: number
  /**
   * `ambient` (default): ztunnels and waypoints. `sidecar`: the same YAML with one `ambient sidecar`
   * per meshed pod (istiod with `--sidecars`), no ztunnel and no waypoint; apps are unchanged
   * (they still send through SOCKS on their pod IP, where the sidecar listens).
   */
  readonly mode?: 'ambient' | 'sidecar'
  /**
   * `socks` (default): apps on 127.x addresses, capture through SOCKS5. `inpod`: one network
   * namespace per pod with Istio's redirection rules, ztunnels opening their listeners inside them
   * (Linux, root, iptables, the addon: src/cluster/inpod-topology.ts). Ambient mode only.
   */
  readonly capture?: 'socks' | 'inpod'
  /** The runner's uid (in-pod capture needs 0). */
  readonly uid?: number
  /** In-pod namespaces' prefix; default `amb<hash of the state dir>-`. */
  readonly netnsPrefix?: string
}

export type ClusterEvent =
  | SupervisorEvent
  | { readonly kind: 'pod_rejected'; readonly pod: string; readonly message: string }
  | { readonly kind: 'reconcile_failed'; readonly message: string }
  | { readonly kind: 'waypoint_pending'; readonly waypoint: string; readonly reason: string }

export interface Cluster {
  readonly istiod: { readonly grpc: string; readonly debug: string }
  readonly nodes: readonly { readonly name: string; readonly ip: string }[]
  runState(): RunState
  /** Runs one reconcile now (tests and the demo use it after writing config). */
  reconcile(): Promise<void>
  close(): Promise<void>
}

/** Environment variables a pod must not inherit from the shell (its capture is ALL_PROXY). */
export const PROXY_ENV = ['http_proxy', 'HTTP_PROXY', 'https_proxy', 'HTTPS_PROXY', 'no_proxy', 'NO_PROXY', 'all_proxy', 'ALL_PROXY'] as const

/** The environment a pod's processes see (also what `ambient exec` gives a command). */
export function podEnv(base: Readonly<Record<string, string | undefined>>, pod: { namespace: string; name: string; serviceAccount: string; node: string; podIP: string; bindIP: string; captured: boolean }): Record<string, string | undefined> {
  const env: Record<string, string | undefined> = { ...base }
  for (const k of PROXY_ENV) delete env[k]
  Object.assign(env, {
    POD_NAME: pod.name, POD_NAMESPACE: pod.namespace, SERVICE_ACCOUNT: pod.serviceAccount, NODE_NAME: pod.node,
    INSTANCE_IP: pod.podIP, POD_IP: pod.podIP, POD_LOCAL_IP: pod.bindIP,
  })
  if (pod.captured) {
    // socks5h: names go to the proxy unresolved, so mesh hostnames (reviews, reviews.default) work.
    env.ALL_PROXY = `socks5h://${pod.podIP}:15080`
    env.all_proxy = env.ALL_PROXY
  }
  return env
}

/** Whether the built `ambient waypoint` can take its config from istiod (`--xds`). */
export function waypointSupportsXds(cliPath: string): boolean {
  try {
    return /\bxds:\s*\{\s*type:/.test(readFileSync(join(dirname(cliPath), 'commands', 'waypoint.js'), 'utf8'))
  } catch {
    return false
  }
}

export async function startCluster(options: ClusterOptions): Promise<Cluster> {
  const emit = options.onEvent ?? (() => undefined)
  const stateDir = options.stateDir
  const logsDir = join(stateDir, 'logs')
  const istiodState = join(stateDir, 'istiod')
  const previous = readRunState(stateDir)
  if (previous !== undefined && isAlive(previous.runnerPid) && previous.runnerPid !== process.pid) {
    throw new AmbientError(ClusterErrorCode.alreadyRunning, `a cluster is already running from ${stateDir} (runner pid ${previous.runnerPid}); stop it with \`ambient cluster down\``, { side: 'config' })
  }
  await mkdir(logsDir, { recursive: true })
  await mkdir(join(stateDir, 'waypoints'), { recursive: true })

  // Read the config once before starting anything: an unknown image fails `up` with nothing to undo.
  const source: DirectoryConfigSource = createDirectoryConfigSource({ dir: options.configDir })
  const first = await source.start()
  let placed: PlacedPod[] = configPods(first.snapshot, options.nodes)
  const bad = unknownImages(placed)
  if (bad.length > 0) {
    await source.close()
    throw new AmbientError(ClusterErrorCode.unknownImage, bad.map((b) => b.message).join('\n'), { side: 'config', details: { pods: bad.map((b) => b.pod) } })
  }

  const inpod = options.capture === 'inpod'
  if (inpod && options.mode === 'sidecar') {
    await source.close()
    throw new AmbientError(ClusterErrorCode.startFailed, '--capture inpod runs ambient mode only (sidecar mode with in-pod capture is not done)', { side: 'config' })
  }
  let topology: InpodTopology | undefined
  if (inpod) {
    try {
      topology = await startInpodTopology({ stateDir, nodes: options.nodes, uid: options.uid, ...(options.netnsPrefix === undefined ? {} : { prefix: options.netnsPrefix }) })
    } catch (err) {
      await source.close()
      throw err
    }
  }
  const addressPlan = options.addressPlan ?? (inpod ? INPOD_ADDRESS_PLAN : undefined)
  const nodeIpPrefix = options.nodeIpPrefix ?? '127.18.0'
  const nodes = Array.from({ length: options.nodes }, (_, i) => ({ name: `node-${i + 1}`, ip: `${nodeIpPrefix}.${i + 1}` }))
  const grpcPort = options.istiodPorts?.grpc ?? 15012
  const debugPort = options.istiodPorts?.debug ?? 15014
  // Fixed before the first start so that a restarted istiod comes back where the ztunnels look.
  const istiod = { grpc: `127.0.0.1:${grpcPort === 0 ? await freePort() : grpcPort}`, debug: `127.0.0.1:${debugPort === 0 ? await freePort() : debugPort}` }
  const logLevel = options.logLevel ?? 'info'
  const node = (args: string[]): { command: string; args: string[] } => ({ command: process.execPath, args: ['--enable-source-maps', options.cliPath, ...args] })
  const logFile = (name: string): string => join(logsDir, `${name.replaceAll('/', '_')}.log`)
  const baseEnv: Record<string, string | undefined> = { ...options.env, AMBIENT_LOG_LEVEL: logLevel }

  const sidecarMode = options.mode === 'sidecar'
  const sidecarKeys = new Map<string, string>()
  const supervisor = createSupervisor({ onEvent: (e) => { dirty = true; emit(e) } })
  const xdsWaypoints = waypointSupportsXds(options.cliPath)
  let view: IstiodView = { configVersion: 0, workloads: [], waypoints: [] }
  let pods: PodPlan[] = []
  const podKeys = new Map<string, string>()
  const waypointKeys = new Map<string, string>()
  const rejected = new Set<string>()
  const pendingReported = new Set<string>()
  let waypoints: RunState['waypoints'] = []
  let dirty = true
  let closed = false

  const runState = (): RunState => ({
    version: 1, mode: sidecarMode ? 'sidecar' : 'ambient', ...(topology === undefined ? {} : { capture: { kind: 'inpod' as const, netnsPrefix: topology.prefix } }), runnerPid: process.pid, startedAt, configDir: options.configDir, istiod, nodes,
    processes: supervisor.list(),
    pods: pods.map((p) => ({ namespace: p.namespace, name: p.name, workload: p.workload, node: p.node, podIP: p.podIP, podLocalIP: p.bindIP, serviceAccount: p.serviceAccount, images: p.containers.map((c) => c.image), captured: p.captured })),
    waypoints,
  })
  const startedAt = new Date().toISOString()
  let writing: Promise<void> = Promise.resolve()
  const saveState = (): Promise<void> => {
    if (!dirty || closed) return writing
    dirty = false
    const state = runState()
    writing = writing.then(() => writeRunState(stateDir, state)).catch((err: unknown) => emit({ kind: 'reconcile_failed', message: `cannot write the run state: ${errorMessage(err)}` }))
    return writing
  }

  const reconcilePods = async (): Promise<void> => {
    const { plans, problems } = planPods(placed, view)
    for (const p of problems) {
      if (!rejected.has(p.message)) emit({ kind: 'pod_rejected', pod: p.pod, message: p.message })
    }
    rejected.clear()
    for (const p of problems) rejected.add(p.message)
    const wanted = new Map(plans.map((p) => [`pod/${p.namespace}/${p.name}`, p]))
    const stops: Promise<void>[] = []
    for (const [name, key] of podKeys) {
      const plan = wanted.get(name)
      if (plan === undefined || podKey(plan) !== key) {
        podKeys.delete(name)
        const [, ns = '', pod = ''] = name.split('/')
        stops.push(supervisor.stop(name).then(() => topology?.removePod(ns, pod)))
      }
    }
    await Promise.all(stops)
    const starts: Promise<void>[] = []
    for (const [name, plan] of wanted) {
      if (podKeys.has(name)) {
        if (topology !== undefined) await updateHosts(plan)
        continue
      }
      podKeys.set(name, podKey(plan))
      const spec: ComponentSpec = {
        name, role: 'pod', ...node(['app', ...plan.containers.map((c) => `--container=${formatContainerArg(c)}`)]),
        env: podEnv(baseEnv, topology === undefined ? plan : { ...plan, bindIP: plan.podIP, captured: false }), logFile: logFile(name),
      }
      if (topology === undefined) supervisor.start(spec)
      else starts.push(startInpodPod(topology, name, plan, spec))
    }
    await Promise.all(starts)
    if (plans.length !== pods.length || plans.some((p, i) => podKey(p) !== podKey(pods[i]!))) dirty = true
    pods = plans
  }

  // In-pod capture: the pod's namespace (and rules) first, then its ztunnel's listeners, then the
  // app inside the namespace (src/cluster/inpod-topology.ts, the order).
  const hostsWritten = new Map<string, string>()
  const hostsFor = (namespace: string): string => podHosts(namespace, view.services ?? [])
  const updateHosts = async (plan: PodPlan): Promise<void> => {
    const key = `${plan.namespace}/${plan.name}`
    const hosts = hostsFor(plan.namespace)
    if (hostsWritten.get(key) === hosts) return
    hostsWritten.set(key, hosts)
    await topology?.updateHosts(plan.namespace, plan.name, hosts).catch(() => undefined)
  }
  const inNetns = (t: InpodTopology, namespace: string, name: string, spec: ComponentSpec): ComponentSpec =>
    ({ ...spec, command: 'ip', args: ['netns', 'exec', t.netnsName(namespace, name), spec.command, ...spec.args] })
  const startInpodPod = async (t: InpodTopology, name: string, plan: PodPlan, spec: ComponentSpec): Promise<void> => {
    try {
      const hosts = hostsFor(plan.namespace)
      hostsWritten.set(`${plan.namespace}/${plan.name}`, hosts)
      await t.addPod({ namespace: plan.namespace, name: plan.name, ip: plan.podIP, node: plan.node, captured: plan.captured }, hosts)
      if (plan.captured) {
        const ip = nodes.find((n) => n.name === plan.node)?.ip
        await waitFor(`ztunnel listeners for ${plan.namespace}/${plan.name}`, options.startTimeoutMs ?? 30_000, async () => {
          const dump = await (await fetch(`http://${ip}:15000/config_dump`, { signal: AbortSignal.timeout(1_000) })).json() as { pods?: { name: string; namespace: string; state: string }[] }
          return (dump.pods ?? []).some((p) => p.name === plan.name && p.namespace === plan.namespace && p.state === 'ready')
        })
      }
      if (closed || podKeys.get(name) !== podKey(plan)) return
      supervisor.start(inNetns(t, plan.namespace, plan.name, spec))
    } catch (err) {
      podKeys.delete(name)
      emit({ kind: 'pod_rejected', pod: `${plan.namespace}/${plan.name}`, message: `in-pod capture not ready: ${errorMessage(err)}` })
    }
  }

  // Sidecar mode: one `ambient sidecar` per captured pod, (re)started with its pod's plan. It takes
  // its config and certificate from istiod with the token of the pod's node.
  const reconcileSidecars = async (): Promise<void> => {
    const wanted = new Map(pods.filter((p) => p.captured).map((p) => [`sidecar/${p.namespace}/${p.name}`, p]))
    for (const [name, key] of sidecarKeys) {
      const plan = wanted.get(name)
      if (plan === undefined || podKey(plan) !== key) {
        sidecarKeys.delete(name)
        await supervisor.stop(name)
      }
    }
    for (const [name, plan] of wanted) {
      if (sidecarKeys.has(name)) continue
      sidecarKeys.set(name, podKey(plan))
      supervisor.start({
        name, role: 'sidecar',
        ...node(['sidecar', '--pod', `${plan.namespace}/${plan.name}`, '--xds', istiod.grpc, '--node', plan.node, '--istiod-state-dir', istiodState]),
        env: baseEnv, logFile: logFile(name),
      })
    }
  }

  const reconcileWaypoints = async (): Promise<void> => {
    if (sidecarMode) return reconcileSidecars()
    const byUid = new Map(view.workloads.map((w) => [w.uid, w]))
    const next: { namespace: string; name: string; ip: string; running: boolean }[] = []
    const wanted = new Map<string, { key: string; spec: () => Promise<ComponentSpec> }>()
    for (const wp of view.waypoints) {
      const w = byUid.get(podUid(wp.namespace, wp.name))
      const ip = w?.addresses[0]
      if (w === undefined || ip === undefined) continue
      next.push({ namespace: wp.namespace, name: wp.name, ip, running: true })
      const name = `waypoint/${wp.namespace}/${wp.name}`
      const common = ['waypoint', '--name', wp.name, '--namespace', wp.namespace, '--host', ip]
      if (xdsWaypoints) {
        wanted.set(name, { key: `${ip} ${w.node}`, spec: async () => ({ name, role: 'waypoint', ...node([...common, '--xds', istiod.grpc, '--node', w.node, '--istiod-state-dir', istiodState]), env: baseEnv, logFile: logFile(name) }) })
      } else {
        // Bridge until `ambient waypoint --xds` exists: the waypoint's translated config from
        // /debug/config as a file, and the mesh CA's directory (istiod's, on this machine). The
        // file source reads once, so a config change restarts the waypoint.
        const json = JSON.stringify(wp)
        const file = join(stateDir, 'waypoints', `${wp.namespace}.${wp.name}.json`)
        wanted.set(name, {
          key: `${ip} ${json}`,
          spec: async () => {
            await writeFile(`${file}.tmp`, json)
            await rename(`${file}.tmp`, file)
            return { name, role: 'waypoint', ...node([...common, '--config', file, '--ca-dir', join(istiodState, 'ca')]), env: baseEnv, logFile: logFile(name) }
          },
        })
      }
    }
    for (const [name, key] of waypointKeys) {
      if (wanted.get(name)?.key !== key) {
        waypointKeys.delete(name)
        await supervisor.stop(name)
        const [, ns = '', wp = ''] = name.split('/')
        await topology?.removePod(ns, wp)
      }
    }
    for (const [name, w] of wanted) {
      if (waypointKeys.has(name)) continue
      waypointKeys.set(name, w.key)
      const spec = await w.spec()
      if (topology === undefined) {
        supervisor.start(spec)
        continue
      }
      // In-pod: the waypoint runs in its own pod namespace (not captured), reaching istiod through
      // a relay on 127.0.0.1:<grpc port> inside it.
      const [, ns = '', wp = ''] = name.split('/')
      const at = byUid.get(podUid(ns, wp))
      try {
        await topology.addPod({ namespace: ns, name: wp, ip: at?.addresses[0] ?? '', node: at?.node ?? 'node-1', captured: false }, hostsFor(ns))
        await topology.relayIstiod(ns, wp, Number(istiod.grpc.split(':')[1]))
        supervisor.start(inNetns(topology, ns, wp, spec))
      } catch (err) {
        waypointKeys.delete(name)
        await topology.removePod(ns, wp)
        emit({ kind: 'waypoint_pending', waypoint: `${ns}/${wp}`, reason: `in-pod capture: ${errorMessage(err)}` })
      }
    }
    if (JSON.stringify(next) !== JSON.stringify(waypoints)) dirty = true
    waypoints = next
    for (const w of view.waypoints) pendingReported.delete(`${w.namespace}/${w.name}`)
  }

  let reconciling: Promise<void> | undefined
  let lastFailure: string | undefined
  const reconcile = (): Promise<void> => {
    reconciling ??= (async () => {
      try {
        if (closed) return
        const current = source.current
        if (current !== undefined) placed = configPods(current.snapshot, options.nodes)
        view = await fetchIstiodView(istiod.debug)
        if (closed) return
        await reconcilePods()
        await reconcileWaypoints()
        await saveState()
        lastFailure = undefined
      } catch (err) {
        // Reported once per distinct failure (istiod restarting fails every tick until it is back).
        const message = errorMessage(err)
        if (!closed && message !== lastFailure) emit({ kind: 'reconcile_failed', message })
        lastFailure = message
      } finally {
        reconciling = undefined
      }
    })()
    return reconciling
  }

  let loop: Promise<void> = Promise.resolve()
  const teardown = async (): Promise<void> => {
    closed = true
    await loop
    await reconciling
    await source.close()
    await supervisor.close()
    await topology?.close()
    await writing
    await removeRunState(stateDir)
  }

  try {
    supervisor.start({
      name: 'istiod', role: 'istiod',
      ...node(['istiod', '--config', options.configDir, '--state-dir', istiodState, '--nodes', String(options.nodes),
        '--grpc-port', istiod.grpc.split(':')[1]!, '--debug-port', istiod.debug.split(':')[1]!,
        ...(addressPlan === undefined ? [] : ['--address-plan', addressPlan]), ...(sidecarMode ? ['--sidecars'] : [])]),
      env: baseEnv, logFile: logFile('istiod'),
    })
    const timeoutMs = options.startTimeoutMs ?? 30_000
    await waitFor('istiod', timeoutMs, async () => (await fetchIstiodView(istiod.debug, 500)).configVersion > 0)
    for (const n of sidecarMode ? [] : nodes) {
      supervisor.start({
        name: `ztunnel/${n.name}`, role: 'ztunnel',
        ...node(['ztunnel', '--node', n.name, '--node-ip', n.ip, '--xds', istiod.grpc, '--istiod-state-dir', istiodState,
          // In-pod: ztunnel's DNS proxy answers the pods' resolver (upstream none: nothing leaves the cluster).
          ...(topology === undefined ? [] : ['--capture', 'inpod', '--netns-prefix', topology.prefix, '--dns', '--dns-upstream', 'none'])]),
        env: baseEnv, logFile: logFile(`ztunnel/${n.name}`),
      })
    }
    await Promise.all((sidecarMode ? [] : nodes).map((n) => waitFor(`ztunnel ${n.name}`, timeoutMs, async () => (await fetch(`http://${n.ip}:15021/healthz/ready`, { signal: AbortSignal.timeout(500) })).status === 200)))
    source.onUpdate(() => void reconcile())
    await reconcile()
    dirty = true
    await saveState()
  } catch (err) {
    await teardown()
    throw err instanceof AmbientError ? err : new AmbientError(ClusterErrorCode.startFailed, `cluster did not start: ${errorMessage(err)} (logs in ${logsDir})`, { cause: err })
  }

  const intervalMs = options.reconcileIntervalMs ?? 1_000
  loop = (async () => {
    while (!closed) {
      await delay(intervalMs)
      if (!closed) await reconcile()
    }
  })()

  let closing: Promise<void> | undefined
  return {
    istiod,
    nodes,
    runState,
    reconcile,
    close: () => (closing ??= teardown()),
  }
}

function podKey(p: PodPlan): string {
  return JSON.stringify([p.podIP, p.bindIP, p.captured, p.serviceAccount, p.node, p.containers])
}

async function waitFor(what: string, timeoutMs: number, check: () => Promise<boolean>): Promise<void> {
  const deadline = Date.now() + timeoutMs
  let last = 'not ready'
  for (;;) {
    try {
      if (await check()) return
    } catch (err) {
      last = errorMessage(err)
    }
    if (Date.now() > deadline) throw new Error(`${what} not ready after ${timeoutMs} ms (${last})`)
    await delay(100)
  }
}

/** A free port on 127.0.0.1 (bound and released: a small race, acceptable for a local cluster). */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer()
    s.once('error', reject)
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as net.AddressInfo).port
      s.close(() => resolve(port))
    })
  })
}
