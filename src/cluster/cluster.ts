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
import { existsSync } from 'node:fs'
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises'
import net from 'node:net'
import { dirname, join } from 'node:path'
import { setTimeout as delay } from 'node:timers/promises'
import { AmbientError, errorMessage } from '../errors.js'
import { createDirectoryConfigSource, type DirectoryConfigSource } from '../istiod/config-source.js'
import type { PlacedPod } from '../istiod/translate/placement.js'
import { fetchIstiodView, podUid, type IstiodView } from './istiod-view.js'
import { formatContainerArg, servedPorts } from './pod-app.js'
import { configPods, planPods, unknownImages, type PodPlan } from './pod-plan.js'
import { takenAddresses, type PlannedAddress } from './preflight.js'
import { isAlive, readRunState, removeRunState, writeRunState, type RunState, type RunStateAnalysis } from './run-state.js'
import { createSupervisor, type ComponentSpec, type SupervisorEvent } from './supervisor.js'
import { INPOD_ADDRESS_PLAN, podHosts, startInpodTopology, type InpodTopology } from './inpod-topology.js'
import { writeProxyFiles } from '../capture/inpod/netns.js'
import { SIDECAR_PROXY_GID, SIDECAR_PROXY_UID } from '../capture/inpod/sidecar-rules.js'
import { connectProbe } from './connect-probe.js'
import { HBONE_PROCESS_NODE_FLAGS } from '../hbone/settings.js'
import { L7_PROXY_ENV, L7_PROXY_NODE_FLAGS } from '../l7-proxy-process.js'
import { presentFields } from '../optional.js'

export const ClusterErrorCode = {
  alreadyRunning: 'CLUSTER_ALREADY_RUNNING',
  addressInUse: 'CLUSTER_ADDRESS_IN_USE',
  startCancelled: 'CLUSTER_START_CANCELLED',
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
  /** Resolves when startup should give up (Ctrl-C while waiting): everything started is stopped, CLUSTER_START_CANCELLED. */
  readonly cancel?: Promise<unknown>
  /** How long startup waits for every pod, capture, certificate and waypoint to be ready (default 60 s). */
  readonly readyTimeoutMs?: number
  /**
   * `ambient` (default): ztunnels and waypoints. `sidecar`: the same YAML with one `ambient sidecar`
   * per meshed pod (istiod with `--sidecars`), no ztunnel and no waypoint; apps are unchanged
   * (they still send through SOCKS on their pod IP, where the sidecar listens; in-pod, plain TCP).
   */
  readonly mode?: 'ambient' | 'sidecar'
  /**
   * `socks` (default): apps on 127.x addresses, capture through SOCKS5. `inpod`: one network
   * namespace per pod with Istio's redirection rules, ztunnels opening their listeners inside them
   * (Linux, root, iptables, the addon: src/cluster/inpod-topology.ts). Sidecar mode: each sidecar
   * runs inside its pod's namespace as uid 1337 behind deploy/capture/sidecar-inpod.rules.
   */
  readonly capture?: 'socks' | 'inpod'
  /** The runner's uid (in-pod capture needs 0). */
  readonly uid?: number
  /** In-pod namespaces' prefix; default `amb<hash of the state dir>-`. */
  readonly netnsPrefix?: string
  /** Extra Node flags for ztunnels, waypoints and sidecars (after HBONE_PROCESS_NODE_FLAGS / L7_PROXY_NODE_FLAGS), e.g. `--cpu-prof`. */
  readonly proxyNodeFlags?: readonly string[]
}

/** The options that say where a cluster runs (what `cluster up` and `demo` take from the command line). */
export type ClusterPlanOptions = Pick<
  ClusterOptions,
  'nodes' | 'nodeIpPrefix' | 'addressPlan' | 'istiodPorts' | 'logLevel' | 'capture' | 'uid'
>

/** The default address plan (pods, pod-local, VIPs), as istiod's `--address-plan` spells it. */
export const DEFAULT_ADDRESS_PLAN = '127.244,127.245,127.96'

/** The flags that move a second cluster off the default addresses (named in "address in use" errors). */
export const OTHER_PLAN_EXAMPLE =
  '--node-ips 127.19.0 --address-plan 127.240,127.241,127.97 --grpc-port 0 --debug-port 0 --state-dir .ambient-2'

export type ClusterEvent =
  | SupervisorEvent
  | { readonly kind: 'pod_rejected'; readonly pod: string; readonly message: string }
  | { readonly kind: 'reconcile_failed'; readonly message: string }
  | { readonly kind: 'waypoint_pending'; readonly waypoint: string; readonly reason: string }
  /** A new Error-level analysis message for the watched directory (a malformed file, a bad reference), or one that went away. */
  | { readonly kind: 'analysis' | 'analysis_fixed'; readonly message: RunStateAnalysis }
  /** Startup: what is still not ready (reported while waiting). */
  | { readonly kind: 'waiting'; readonly pending: readonly string[] }

export interface Cluster {
  readonly istiod: { readonly grpc: string; readonly debug: string }
  readonly nodes: readonly { readonly name: string; readonly ip: string }[]
  runState(): RunState
  /** Runs one reconcile now (tests and the demo use it after writing config). */
  reconcile(): Promise<void>
  close(): Promise<void>
}

/** Environment variables a pod must not inherit from the shell (its capture is ALL_PROXY). */
export const PROXY_ENV = [
  'http_proxy',
  'HTTP_PROXY',
  'https_proxy',
  'HTTPS_PROXY',
  'no_proxy',
  'NO_PROXY',
  'all_proxy',
  'ALL_PROXY',
] as const

/** The environment a pod's processes see (also what `ambient exec` gives a command). */
export function podEnv(
  base: Readonly<Record<string, string | undefined>>,
  pod: { namespace: string; name: string; serviceAccount: string; node: string; podIP: string; bindIP: string; captured: boolean },
): Record<string, string | undefined> {
  const env: Record<string, string | undefined> = { ...base }
  for (const k of PROXY_ENV) delete env[k]
  Object.assign(env, {
    POD_NAME: pod.name,
    POD_NAMESPACE: pod.namespace,
    SERVICE_ACCOUNT: pod.serviceAccount,
    NODE_NAME: pod.node,
    INSTANCE_IP: pod.podIP,
    POD_IP: pod.podIP,
    POD_LOCAL_IP: pod.bindIP,
  })
  if (pod.captured) {
    // socks5h: names go to the proxy unresolved, so mesh hostnames (reviews, reviews.default) work.
    env.ALL_PROXY = `socks5h://${pod.podIP}:15080`
    env.all_proxy = env.ALL_PROXY
  }
  return env
}

/**
 * Whether the built `ambient waypoint` can take its config from istiod (`--xds`): the build next to
 * the CLI has the xDS waypoint. (Reading the option spec out of the command's source stopped
 * matching once the istiod client options moved to their own module, and every cluster's waypoint
 * fell back to the file bridge.)
 */
export function waypointSupportsXds(cliPath: string): boolean {
  return existsSync(join(dirname(cliPath), '..', 'waypoint', 'xds-waypoint.js'))
}

export async function startCluster(options: ClusterOptions): Promise<Cluster> {
  const emit = options.onEvent ?? (() => undefined)
  let cancelRequested = false
  void options.cancel?.then(() => {
    cancelRequested = true
  })
  const isCancelled = (): boolean => cancelRequested
  const stateDir = options.stateDir
  const logsDir = join(stateDir, 'logs')
  const istiodState = join(stateDir, 'istiod')
  const previous = readRunState(stateDir)
  if (previous !== undefined && isAlive(previous.runnerPid) && previous.runnerPid !== process.pid) {
    throw new AmbientError(
      ClusterErrorCode.alreadyRunning,
      `a cluster is already running from ${stateDir} (runner pid ${previous.runnerPid}); stop it with \`ambient cluster down\``,
      { side: 'config' },
    )
  }
  const nodeIpPrefix = options.nodeIpPrefix ?? '127.18.0'
  const nodes = Array.from({ length: options.nodes }, (_, i) => ({ name: `node-${i + 1}`, ip: `${nodeIpPrefix}.${i + 1}` }))
  const grpcPort = options.istiodPorts?.grpc ?? 15012
  const debugPort = options.istiodPorts?.debug ?? 15014
  const sidecarMode = options.mode === 'sidecar'
  const inpod = options.capture === 'inpod'
  // In-pod pods live in namespaces the cluster makes: their addresses are never probed from the host
  // (10.244/16 is not ours out here, and a probe there would leave the machine).
  await refuseTakenAddresses(
    plannedAddresses({
      nodes,
      grpcPort,
      debugPort,
      sidecarMode,
      ...(inpod ? {} : { podPrefix: (options.addressPlan ?? DEFAULT_ADDRESS_PLAN).split(',')[0]!.trim() }),
    }),
  )
  await mkdir(logsDir, { recursive: true })
  await mkdir(join(stateDir, 'waypoints'), { recursive: true })

  // Read the config once before starting anything: an unknown image fails `up` with nothing to undo.
  const source: DirectoryConfigSource = createDirectoryConfigSource({ dir: options.configDir })
  const first = await source.start()
  let placed: PlacedPod[] = configPods(first.snapshot, options.nodes)
  const bad = unknownImages(placed)
  if (bad.length > 0) {
    await source.close()
    throw new AmbientError(ClusterErrorCode.unknownImage, bad.map((b) => b.message).join('\n'), {
      side: 'config',
      details: { pods: bad.map((b) => b.pod) },
    })
  }

  let topology: InpodTopology | undefined
  if (inpod) {
    try {
      topology = await startInpodTopology({
        stateDir,
        nodes: options.nodes,
        uid: options.uid,
        ...(options.netnsPrefix === undefined ? {} : { prefix: options.netnsPrefix }),
        needs: { setpriv: sidecarMode },
      })
    } catch (err) {
      await source.close()
      throw err
    }
  }
  const addressPlan = options.addressPlan ?? (inpod ? INPOD_ADDRESS_PLAN : undefined)
  // Fixed before the first start so that a restarted istiod comes back where the ztunnels look.
  const istiod = {
    grpc: `127.0.0.1:${grpcPort === 0 ? await freePort() : grpcPort}`,
    debug: `127.0.0.1:${debugPort === 0 ? await freePort() : debugPort}`,
  }
  const logLevel = options.logLevel ?? 'info'
  const node = (args: string[], flags: readonly string[] = []): { command: string; args: string[] } => ({
    command: process.execPath,
    args: ['--enable-source-maps', ...flags, options.cliPath, ...args],
  })
  // The data plane's processes (ztunnels, waypoints, sidecars) get the V8 flags measured for proxies.
  const proxyFlags = [...HBONE_PROCESS_NODE_FLAGS, ...(options.proxyNodeFlags ?? [])]
  // Waypoints and sidecars: the same L7 engine, run with the same process flags and environment.
  const l7ProxyFlags = [...L7_PROXY_NODE_FLAGS, ...(options.proxyNodeFlags ?? [])]
  const logFile = (name: string): string => join(logsDir, `${name.replaceAll('/', '_')}.log`)
  // AMBIENT_SUPERVISED: a component stops by itself when this runner is gone (src/cli/main.ts).
  const baseEnv: Record<string, string | undefined> = { ...options.env, AMBIENT_LOG_LEVEL: logLevel, AMBIENT_SUPERVISED: '1' }
  const l7ProxyEnv: Record<string, string | undefined> = { ...L7_PROXY_ENV, ...baseEnv }

  const sidecarKeys = new Map<string, string>()
  const supervisor = createSupervisor({
    onEvent: (e) => {
      dirty = true
      emit(e)
    },
  })
  const xdsWaypoints = waypointSupportsXds(options.cliPath)
  let view: IstiodView = { configVersion: 0, workloads: [], waypoints: [] }
  let pods: PodPlan[] = []
  const podKeys = new Map<string, string>()
  const waypointKeys = new Map<string, string>()
  const rejected = new Set<string>()
  const pendingReported = new Set<string>()
  let waypoints: RunState['waypoints'] = []
  let analysis: RunStateAnalysis[] = []
  let dirty = true
  let closed = false

  const runState = (): RunState => ({
    version: 1,
    mode: sidecarMode ? 'sidecar' : 'ambient',
    ...(topology === undefined ? {} : { capture: { kind: 'inpod' as const, netnsPrefix: topology.prefix } }),
    runnerPid: process.pid,
    startedAt,
    configDir: options.configDir,
    istiod,
    nodes,
    processes: supervisor.list(),
    pods: pods.map((p) => ({
      namespace: p.namespace,
      name: p.name,
      workload: p.workload,
      node: p.node,
      podIP: p.podIP,
      podLocalIP: p.bindIP,
      serviceAccount: p.serviceAccount,
      images: p.containers.map((c) => c.image),
      captured: p.captured,
    })),
    waypoints,
    analysis,
  })
  const startedAt = new Date().toISOString()
  let writing: Promise<void> = Promise.resolve()
  const saveState = (): Promise<void> => {
    if (!dirty || closed) return writing
    dirty = false
    const state = runState()
    writing = writing
      .then(() => writeRunState(stateDir, state))
      .catch((err: unknown) => emit({ kind: 'reconcile_failed', message: `cannot write the run state: ${errorMessage(err)}` }))
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
        // In-pod sidecar mode: the pod's sidecar lives in its namespace and goes with it.
        const sidecar = `sidecar/${ns}/${pod}`
        const inpodSidecar = topology !== undefined && sidecarKeys.delete(sidecar)
        stops.push(
          supervisor
            .stop(name)
            .then(() => (inpodSidecar ? supervisor.stop(sidecar) : undefined))
            .then(() => topology?.removePod(ns, pod)),
        )
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
        name,
        role: 'pod',
        ...node(['app', ...plan.containers.map((c) => `--container=${formatContainerArg(c)}`)]),
        env: podEnv(baseEnv, topology === undefined ? plan : { ...plan, bindIP: plan.podIP, captured: false }),
        logFile: logFile(name),
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
  // Service names in /etc/hosts stand in for kube-dns, which the cluster does not run: for pods whose
  // DNS is not captured (sidecar mode, pods out of the mesh, waypoints). An ambient pod's queries go
  // to ztunnel's DNS proxy instead (its rules redirect them), so its hosts file has localhost only.
  const hostsFor = (namespace: string, dnsCaptured = false): string => podHosts(namespace, dnsCaptured ? [] : (view.services ?? []))
  const dnsCaptured = (plan: PodPlan): boolean => plan.captured && !sidecarMode
  const updateHosts = async (plan: PodPlan): Promise<void> => {
    const key = `${plan.namespace}/${plan.name}`
    const hosts = hostsFor(plan.namespace, dnsCaptured(plan))
    if (hostsWritten.get(key) === hosts) return
    hostsWritten.set(key, hosts)
    await topology?.updateHosts(plan.namespace, plan.name, hosts).catch(() => undefined)
  }
  const inNetns = (t: InpodTopology, namespace: string, name: string, spec: ComponentSpec): ComponentSpec => ({
    ...spec,
    command: 'ip',
    args: ['netns', 'exec', t.netnsName(namespace, name), spec.command, ...spec.args],
  })
  const startInpodPod = async (t: InpodTopology, name: string, plan: PodPlan, spec: ComponentSpec): Promise<void> => {
    try {
      const hosts = hostsFor(plan.namespace, dnsCaptured(plan))
      hostsWritten.set(`${plan.namespace}/${plan.name}`, hosts)
      await t.addPod(
        {
          namespace: plan.namespace,
          name: plan.name,
          ip: plan.podIP,
          node: plan.node,
          captured: plan.captured,
          ruleset: sidecarMode ? 'sidecar' : 'ambient',
        },
        hosts,
      )
      if (plan.captured && sidecarMode) await startInpodSidecar(t, plan)
      else if (plan.captured) {
        const ip = nodes.find((n) => n.name === plan.node)?.ip
        await waitFor(
          `ztunnel listeners for ${plan.namespace}/${plan.name}`,
          options.startTimeoutMs ?? 30_000,
          () => closed || isCancelled(),
          async () => {
            const dump = (await (await fetch(`http://${ip}:15000/config_dump`, { signal: AbortSignal.timeout(1_000) })).json()) as {
              pods?: { name: string; namespace: string; state: string }[]
            }
            return (dump.pods ?? []).some((p) => p.name === plan.name && p.namespace === plan.namespace && p.state === 'ready')
          },
        )
      }
      if (closed || podKeys.get(name) !== podKey(plan)) return
      supervisor.start(inNetns(t, plan.namespace, plan.name, spec))
    } catch (err) {
      podKeys.delete(name)
      // Undone so that the next reconcile starts the pod afresh (its namespace included).
      const sidecar = `sidecar/${plan.namespace}/${plan.name}`
      if (sidecarKeys.delete(sidecar)) await supervisor.stop(sidecar)
      await t.removePod(plan.namespace, plan.name)
      emit({ kind: 'pod_rejected', pod: `${plan.namespace}/${plan.name}`, message: `in-pod capture not ready: ${errorMessage(err)}` })
    }
  }

  // In-pod sidecar mode: the pod's sidecar runs inside its namespace as uid/gid 1337 (the rules'
  // exemption, as istio-proxy), reaching istiod through a relay on 127.0.0.1:<grpc port> there, with
  // copies of the root certificate and its node's token it can read (istiod's state is root's). The
  // app starts once the sidecar is ready: no uncaptured window, as in ambient.
  const sidecarArgs = (plan: PodPlan): string[] => [
    'sidecar',
    '--pod',
    `${plan.namespace}/${plan.name}`,
    '--xds',
    istiod.grpc,
    '--node',
    plan.node,
  ]
  const startInpodSidecar = async (t: InpodTopology, plan: PodPlan): Promise<void> => {
    const name = `sidecar/${plan.namespace}/${plan.name}`
    const netns = t.netnsName(plan.namespace, plan.name)
    await t.relayIstiod(plan.namespace, plan.name, Number(istiod.grpc.split(':')[1]))
    const dir = await writeProxyFiles(netns, SIDECAR_PROXY_UID, {
      'root-cert.pem': await readFile(join(istiodState, 'ca', 'root-cert.pem'), 'utf8'),
      'node.token': await readFile(join(istiodState, 'tokens', `${plan.node}.token`), 'utf8'),
    })
    const cli = node([...sidecarArgs(plan), '--capture', 'inpod'], l7ProxyFlags)
    sidecarKeys.set(name, podKey(plan))
    supervisor.start({
      name,
      role: 'sidecar',
      command: 'ip',
      args: [
        'netns',
        'exec',
        netns,
        'setpriv',
        `--reuid=${SIDECAR_PROXY_UID}`,
        `--regid=${SIDECAR_PROXY_GID}`,
        '--clear-groups',
        cli.command,
        ...cli.args,
        '--token-file',
        join(dir, 'node.token'),
        '--root-cert',
        join(dir, 'root-cert.pem'),
      ],
      env: l7ProxyEnv,
      logFile: logFile(name),
    })
    const url = `http://${plan.podIP}:15021/healthz/ready`
    await waitFor(
      `sidecar of ${plan.namespace}/${plan.name}`,
      options.startTimeoutMs ?? 30_000,
      () => closed || isCancelled(),
      () => t.isReady(plan.namespace, plan.name, url),
    )
  }

  // Sidecar mode: one `ambient sidecar` per captured pod, (re)started with its pod's plan. It takes
  // its config and certificate from istiod with the token of the pod's node. (In-pod: started with
  // the pod, above.)
  const reconcileSidecars = async (): Promise<void> => {
    if (topology !== undefined) return
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
        name,
        role: 'sidecar',
        ...node([...sidecarArgs(plan), '--istiod-state-dir', istiodState], l7ProxyFlags),
        env: l7ProxyEnv,
        logFile: logFile(name),
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
        wanted.set(name, {
          key: `${ip} ${w.node}`,
          spec: async () => ({
            name,
            role: 'waypoint',
            ...node([...common, '--xds', istiod.grpc, '--node', w.node, '--istiod-state-dir', istiodState], l7ProxyFlags),
            env: l7ProxyEnv,
            logFile: logFile(name),
          }),
        })
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
            return {
              name,
              role: 'waypoint',
              ...node([...common, '--config', file, '--ca-dir', join(istiodState, 'ca')], l7ProxyFlags),
              env: l7ProxyEnv,
              logFile: logFile(name),
            }
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
        await topology.addPod(
          { namespace: ns, name: wp, ip: at?.addresses[0] ?? '', node: at?.node ?? 'node-1', captured: false },
          hostsFor(ns),
        )
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

  // istiod's analysis of the watched directory: each new Error is reported once (file:line, code,
  // fix) and kept in the run state for `cluster status`; one that goes away is reported as fixed.
  const reconcileAnalysis = async (): Promise<void> => {
    const next = await fetchAnalysisErrors(istiod.debug)
    const key = (m: RunStateAnalysis): string => JSON.stringify([m.code, m.file, m.line, m.object, m.message])
    const before = new Set(analysis.map(key))
    const after = new Set(next.map(key))
    for (const m of next) if (!before.has(key(m))) emit({ kind: 'analysis', message: m })
    for (const m of analysis) if (!after.has(key(m))) emit({ kind: 'analysis_fixed', message: m })
    if (before.size !== after.size || next.some((m) => !before.has(key(m)))) dirty = true
    analysis = next
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
        await reconcileAnalysis()
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
      name: 'istiod',
      role: 'istiod',
      ...node([
        'istiod',
        '--config',
        options.configDir,
        '--state-dir',
        istiodState,
        '--nodes',
        String(options.nodes),
        '--grpc-port',
        istiod.grpc.split(':')[1]!,
        '--debug-port',
        istiod.debug.split(':')[1]!,
        ...(addressPlan === undefined ? [] : ['--address-plan', addressPlan]),
        ...(sidecarMode ? ['--sidecars'] : []),
      ]),
      env: baseEnv,
      logFile: logFile('istiod'),
    })
    const timeoutMs = options.startTimeoutMs ?? 30_000
    await waitFor('istiod', timeoutMs, isCancelled, async () => (await fetchIstiodView(istiod.debug, 500)).configVersion > 0)
    for (const n of sidecarMode ? [] : nodes) {
      supervisor.start({
        name: `ztunnel/${n.name}`,
        role: 'ztunnel',
        ...node(
          [
            'ztunnel',
            '--node',
            n.name,
            '--node-ip',
            n.ip,
            '--xds',
            istiod.grpc,
            '--istiod-state-dir',
            istiodState,
            // In-pod: ztunnel's DNS proxy answers the pods' resolver (upstream none: nothing leaves the cluster).
            ...(topology === undefined ? [] : ['--capture', 'inpod', '--netns-prefix', topology.prefix, '--dns', '--dns-upstream', 'none']),
          ],
          proxyFlags,
        ),
        env: baseEnv,
        logFile: logFile(`ztunnel/${n.name}`),
      })
    }
    await Promise.all(
      (sidecarMode ? [] : nodes).map((n) =>
        waitFor(
          `ztunnel ${n.name}`,
          timeoutMs,
          isCancelled,
          async () => (await fetch(`http://${n.ip}:15021/healthz/ready`, { signal: AbortSignal.timeout(500) })).status === 200,
        ),
      ),
    )
    source.onUpdate(() => void reconcile())
    await reconcile()
    dirty = true
    await saveState()
    // "Up" means ready for traffic: every pod's app listens, every captured pod has its capture and
    // certificate (ztunnel's readiness covers both), every waypoint (or sidecar) is ready.
    await waitReady(
      () => readiness(),
      options.readyTimeoutMs ?? 60_000,
      isCancelled,
      (pending) => emit({ kind: 'waiting', pending }),
      reconcile,
    )
  } catch (err) {
    await teardown()
    throw err instanceof AmbientError
      ? err
      : new AmbientError(ClusterErrorCode.startFailed, `cluster did not start: ${errorMessage(err)} (logs in ${logsDir})`, { cause: err })
  }

  async function readiness(): Promise<string[]> {
    const checks: Promise<string | undefined>[] = []
    // In-pod, pod and waypoint addresses are probed from inside their own namespaces, never from
    // the host (where the cluster's ranges are not the cluster's).
    const inPod = topology
    const reach = (p: { namespace: string; name: string }, host: string, port: number): Promise<boolean> =>
      inPod === undefined ? canConnect(host, port) : inPod.canConnect(p.namespace, p.name, host, port)
    const ready = (p: { namespace: string; name: string }, url: string): Promise<boolean> =>
      inPod === undefined ? isReady(url) : inPod.isReady(p.namespace, p.name, url)
    for (const p of pods) {
      // A pod that crashed is not ready again until its new process has stayed up a while: its
      // address may answer for someone else (the port it failed to bind), and a crash loop would
      // otherwise read as ready in each short life (Kubernetes: not Ready in CrashLoopBackOff).
      const run = supervisor.current(`pod/${p.namespace}/${p.name}`)
      if (run !== undefined && run.restarts > 0 && (run.upMs === undefined || run.upMs < RESTARTED_POD_SETTLE_MS)) {
        checks.push(Promise.resolve(`pod ${p.namespace}/${p.name}: restarting (${run.restarts} restarts)`))
        continue
      }
      const appIP = inPod === undefined ? p.bindIP : p.podIP
      for (const port of p.containers.flatMap((c) => servedPorts(c)))
        checks.push(
          reach(p, appIP, port).then((ok) => (ok ? undefined : `pod ${p.namespace}/${p.name}: app not listening on ${appIP}:${port}`)),
        )
      if (p.captured) {
        const url = sidecarMode ? `http://${p.podIP}:15021/healthz/ready` : undefined
        if (url !== undefined)
          checks.push(ready(p, url).then((ok) => (ok ? undefined : `sidecar of ${p.namespace}/${p.name}: not ready (${url})`)))
        else
          checks.push(
            reach(p, p.podIP, 15008).then((ok) =>
              ok ? undefined : `pod ${p.namespace}/${p.name}: ztunnel capture not listening on ${p.podIP}:15008`,
            ),
          )
      }
    }
    if (!sidecarMode) {
      for (const n of nodes)
        checks.push(
          isReady(`http://${n.ip}:15021/healthz/ready`).then((ok) =>
            ok ? undefined : `ztunnel ${n.name}: not ready (pod listeners or certificates pending)`,
          ),
        )
    }
    if (pods.length === 0 && placed.length > 0) checks.push(Promise.resolve('pods: not yet translated by istiod'))
    for (const w of waypoints)
      checks.push(
        ready(w, `http://${w.ip}:15021/healthz/ready`).then((ok) => (ok ? undefined : `waypoint ${w.namespace}/${w.name}: not ready`)),
      )
    if (!sidecarMode && view.waypoints.length > waypoints.length) checks.push(Promise.resolve('waypoints: not all placed yet'))
    return (await Promise.all(checks)).filter((x): x is string => x !== undefined)
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

async function waitFor(what: string, timeoutMs: number, isCancelled: () => boolean, check: () => Promise<boolean>): Promise<void> {
  const deadline = Date.now() + timeoutMs
  let last = 'not ready'
  for (;;) {
    if (isCancelled()) throw cancelled()
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

/** The addresses a cluster is about to bind, for the preflight check. */
function plannedAddresses(o: {
  nodes: readonly { name: string; ip: string }[]
  grpcPort: number
  debugPort: number
  sidecarMode: boolean
  podPrefix?: string
}): PlannedAddress[] {
  const out: PlannedAddress[] = []
  if (o.grpcPort !== 0) out.push({ host: '127.0.0.1', port: o.grpcPort, what: 'istiod xDS+CA (--grpc-port)' })
  if (o.debugPort !== 0) out.push({ host: '127.0.0.1', port: o.debugPort, what: 'istiod debug (--debug-port)' })
  o.nodes.forEach((n, i) => {
    if (!o.sidecarMode) {
      out.push({ host: n.ip, port: 15000, what: `ztunnel ${n.name} admin (--node-ips)` })
      out.push({ host: n.ip, port: 15020, what: `ztunnel ${n.name} metrics (--node-ips)` })
      out.push({ host: n.ip, port: 15021, what: `ztunnel ${n.name} readiness (--node-ips)` })
    }
    // The first pod of each node: its capture listens there (--address-plan's pod prefix).
    if (o.podPrefix !== undefined)
      out.push({ host: `${o.podPrefix}.${i + 1}.1`, port: 15080, what: `the first pod on ${n.name}: capture (--address-plan)` })
  })
  return out
}

async function refuseTakenAddresses(planned: readonly PlannedAddress[]): Promise<void> {
  const taken = await takenAddresses(planned)
  if (taken.length === 0) return
  throw new AmbientError(
    ClusterErrorCode.addressInUse,
    [
      `cannot start: ${taken.length} ` +
        `address${taken.length === 1 ? ' this cluster needs is' : 'es this cluster needs are'} taken (is ` +
        `another \`cluster up\` or \`demo\` running?):`,
      ...taken.map((a) => `  ${a.host}:${a.port}  ${a.what}: ${a.reason}`),
      `stop the other cluster (\`./ambient cluster down --state-dir DIR\`), or run this one on another address plan, e.g. ${OTHER_PLAN_EXAMPLE}`,
    ].join('\n'),
    { side: 'config', details: { taken: taken.map((a) => `${a.host}:${a.port}`) } },
  )
}

/** istiod's Error-level analysis messages (/debug/analysis). */
async function fetchAnalysisErrors(debugAddress: string): Promise<RunStateAnalysis[]> {
  const res = await fetch(`http://${debugAddress}/debug/analysis`, { signal: AbortSignal.timeout(2_000) })
  if (res.status !== 200) throw new Error(`istiod /debug/analysis answered ${res.status}`)
  const body = (await res.json()) as {
    level: string
    code: string
    object: string | null
    file: string | null
    line: number | null
    message: string
    fix: string
  }[]
  return body
    .filter((m) => m.level === 'Error')
    .map((m) => ({
      level: m.level,
      code: m.code,
      message: m.message,
      fix: m.fix,
      ...presentFields({ object: m.object, file: m.file, line: m.line }),
    }))
}

/** Polls `pending` (what is not ready yet) until it is empty; reports what is pending when it changes. */
/** How long a restarted pod's process must stay up before the pod counts as ready again. */
const RESTARTED_POD_SETTLE_MS = 5_000

async function waitReady(
  pending: () => Promise<string[]>,
  timeoutMs: number,
  isCancelled: () => boolean,
  report: (pending: readonly string[]) => void,
  reconcile: () => Promise<void>,
): Promise<void> {
  const deadline = Date.now() + timeoutMs
  let last = ''
  for (;;) {
    if (isCancelled()) throw cancelled()
    const now = await pending()
    if (now.length === 0) return
    if (Date.now() > deadline) throw new Error(`not ready after ${timeoutMs} ms: ${now.join('; ')}`)
    const text = now.join('\n')
    if (text !== last) report(now)
    last = text
    await delay(200)
    await reconcile()
  }
}

function cancelled(): AmbientError {
  return new AmbientError(ClusterErrorCode.startCancelled, 'stopped before the cluster was up (everything it had started is stopped)', {
    side: 'internal',
  })
}

function canConnect(host: string, port: number): Promise<boolean> {
  return connectProbe(new net.Socket(), host, port)
}

async function isReady(url: string): Promise<boolean> {
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(1_000) })
    await res.text()
    return res.status === 200
  } catch {
    return false
  }
}
