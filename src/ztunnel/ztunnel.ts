// One node's ztunnel: the composition root of the L4 proxy. It owns the HBONE pool, the flow
// registry and the policy watcher, and keeps one set of listeners per local pod in step with mesh
// state (pods added → certificate then listeners; pods removed → listeners closed, certificate
// forgotten). Everything it uses is passed in (no hidden singletons): mesh state, certificates, logger.
import { AmbientError, errorCode, errorMessage } from '../errors.js'
import type { CapturedConnection } from '../capture/capture.js'
import { createHbonePool, type HbonePool } from '../hbone/pool.js'
import type { CertificateManager } from '../identity/cert-manager.js'
import type { MeshDelta } from '../mesh/change.js'
import type { MeshState } from '../mesh/state.js'
import type { Workload } from '../mesh/types.js'
import { childLogger, type Logger } from '../observability/logger.js'
import { createMetrics, type Metrics } from '../observability/metrics.js'
import { createFlowRegistry, flowTermination, type FlowRegistry } from '../observability/flow-registry.js'
import type { InboundContext } from './inbound.js'
import { handleOutbound, type OutboundContext } from './outbound.js'
import { awaitingPodNetns, prefixedPodNetns, startInpodListeners, type InpodCaptureOptions } from './inpod-listeners.js'
import type { PodNetnsSource } from './workload-manager.js'
import { startPodListeners, type PodListeners } from './pod-listeners.js'
import { createPolicyWatcher, type PolicyWatcher } from './policy-watcher.js'
import { HBONE_PORT } from '../net/ports.js'
import { createDnsProxy, DNS_PROXY_PORT, type DnsProxy } from './dns/proxy.js'
import type { DnsUpstream } from './dns/upstream.js'
import { workloadIdentity } from './workload-identity.js'
import { podRetryDelayMs } from './pod-retry.js'

export const ZtunnelErrorCode = {
  podListenersFailed: 'ZTUNNEL_POD_LISTENERS_FAILED',
} as const

export interface ZtunnelOptions {
  readonly node: string
  readonly mesh: MeshState
  readonly certificates: CertificateManager
  readonly logger: Logger
  readonly metrics?: Metrics
  /** Pod listener ports; Istio's numbers by default (15008, 15080). */
  readonly ports?: { readonly hbone?: number; readonly socks?: number }
  readonly connectTimeoutMs?: number
  readonly clusterDomain?: string
  /**
   * How pods are captured: socks (default: listeners on each pod IP, apps use SOCKS5) or in-pod
   * (listeners inside each pod's network namespace, Istio's redirection rules; Linux, root), with
   * the namespaces named by the runner (`netnsPrefix`) or handed over by ZDS / the node agent
   * (`zds`: the workload manager, src/ztunnel/workload-manager.ts, says which pods and holds their
   * namespace fds; a pod is served once the mesh also knows it, by namespace and name).
   */
  readonly capture?:
    | { readonly kind: 'socks' }
    | ({ readonly kind: 'inpod' } & InpodCaptureOptions)
    | { readonly kind: 'zds'; readonly workloads: PodNetnsSource }
  /**
   * The DNS proxy (Istio's DNS capture), opt-in: one listener per local pod on `<pod IP>:<port>`
   * (default 15053). Names it does not answer go to `upstream`, else NXDOMAIN.
   */
  readonly dns?: { readonly port?: number; readonly upstream?: DnsUpstream | undefined }
  /** Pool tuning for tests (idle release, keepalive). */
  readonly pool?: { readonly idleTimeoutMs?: number; readonly keepalive?: { intervalMs: number; timeoutMs: number } }
}

export interface PodStatus {
  readonly uid: string
  readonly name: string
  readonly namespace: string
  readonly state: 'starting' | 'ready' | 'failed'
  readonly listeners: Record<string, string>
  readonly error?: string
}

export interface Ztunnel {
  readonly flows: FlowRegistry
  readonly metrics: Metrics
  readonly pool: HbonePool
  readonly watcher: PolicyWatcher
  /** The DNS proxy, when enabled; in-pod capture serves its own sockets with it. */
  readonly dns: DnsProxy | undefined
  /** Opens listeners for the pods on this node; resolves when every pod has settled. */
  start(): Promise<void>
  /** Resolves when the last reconciliation has settled (tests and readiness). */
  settled(): Promise<void>
  pods(): PodStatus[]
  /** Every local pod has its listeners up. */
  ready(): { ready: boolean; pending: string[] }
  /** SIGTERM: stop accepting, let flows finish until the deadline, then close them with the drain error. */
  drain(deadlineMs: number): Promise<void>
  close(): Promise<void>
}

interface PodEntry {
  workload: Workload
  state: 'starting' | 'ready' | 'failed'
  listeners: PodListeners | undefined
  error: string | undefined
  /** In-pod: the pod's namespace is not there yet (Istio: the CNI has not sent the pod); not pending. */
  awaitingNetns?: boolean
  /** ZDS: the namespace fd the listeners were opened in (a new add of the pod replaces it). */
  netnsFd?: number
}

export function createZtunnel(options: ZtunnelOptions): Ztunnel {
  const { mesh, certificates, node } = options
  const logger = options.logger
  const metrics = options.metrics ?? createMetrics()
  const hbonePort = options.ports?.hbone ?? HBONE_PORT
  const socksPort = options.ports?.socks ?? 15080
  const connectTimeoutMs = options.connectTimeoutMs ?? 10_000
  const flows = createFlowRegistry()
  const watcher = createPolicyWatcher(mesh, flows, childLogger(logger, 'policy'))
  const pool = createHbonePool({
    certificates: [],
    certificateSource: (identity) => certificates.get(identity),
    logger: childLogger(logger, 'pool'),
    ...(options.pool?.idleTimeoutMs === undefined ? {} : { idleTimeoutMs: options.pool.idleTimeoutMs }),
    ...(options.pool?.keepalive === undefined ? {} : { keepalive: options.pool.keepalive }),
    connectTimeoutMs,
  })
  const dns =
    options.dns === undefined
      ? undefined
      : {
          proxy: createDnsProxy({
            state: mesh,
            upstream: options.dns.upstream,
            logger,
            metrics,
            ...(options.clusterDomain === undefined ? {} : { clusterDomain: options.clusterDomain }),
          }),
          port: options.dns.port ?? DNS_PROXY_PORT,
        }
  const pods = new Map<string, PodEntry>()
  /** Failed attempts in a row per pod uid (./pod-retry.ts); cleared when the pod is served or gone. */
  const podFailures = new Map<string, number>()
  let chain: Promise<void> = Promise.resolve()
  let closed = false
  let accepting = true
  let drained: Promise<void> | undefined

  const inbound: InboundContext = {
    mesh,
    node,
    flows,
    watcher,
    metrics,
    logger: childLogger(logger, 'inbound'),
    hbonePort,
    connectTimeoutMs,
  }
  const outbound: OutboundContext = {
    mesh,
    pool,
    flows,
    metrics,
    logger: childLogger(logger, 'outbound'),
    hbonePort,
    connectTimeoutMs,
    clusterDomain: options.clusterDomain ?? 'cluster.local',
  }
  const onOutbound = (connection: CapturedConnection): void => {
    if (!accepting) {
      connection.reject('internal')
      return
    }
    handleOutbound(outbound, connection).catch((err: unknown) => {
      logger.error({ event: 'outbound_internal_error', reason: errorMessage(err) }, 'outbound handler failed')
      connection.reject('internal')
    })
  }

  // Certificate rotation: new handshakes use the new certificate; the pool sees the new serial when
  // it next connects for the identity. Live tunnels keep going on the old one until they end.
  const unsubscribeCerts = certificates.subscribe((event) => {
    const id = event.certificate.identity.toString()
    for (const entry of pods.values()) {
      if (entry.listeners && workloadIdentity(entry.workload)?.toString() === id) entry.listeners.updateCertificate(event.certificate)
    }
  })

  // Captured pods of this node. In socks mode a pod is captured when its app binds a pod-local
  // address (architecture.md, addressing): then everything reaching the pod IP is ztunnel's. A pod
  // without one binds its pod IP itself and is not captured: a waypoint (it terminates HBONE on its
  // own 15008) or a pod outside ambient (tunnel protocol NONE).
  // With ZDS the CNI agent says which pods are captured: the mesh only supplies their addresses.
  const zdsSource = options.capture?.kind === 'zds' ? options.capture.workloads : undefined
  const isLocal = (w: Workload): boolean =>
    zdsSource !== undefined
      ? w.addresses.length > 0 && zdsSource.netnsFor(w.namespace, w.name) !== undefined
      : w.node === node && w.addresses.length > 0 && w.tunnelProtocol === 'HBONE' && w.podLocalAddress !== undefined

  const startPod = async (workload: Workload): Promise<void> => {
    const entry: PodEntry = { workload, state: 'starting', listeners: undefined, error: undefined }
    pods.set(workload.uid, entry)
    try {
      const id = workloadIdentity(workload)
      if (id === undefined) throw new AmbientError(ZtunnelErrorCode.podListenersFailed, 'workload has no valid SPIFFE identity')
      const certificate = await certificates.get(id)
      const capture = options.capture
      const held = zdsSource?.netnsFor(workload.namespace, workload.name)
      if (held !== undefined) entry.netnsFd = held.netnsFd
      const listeners =
        capture?.kind === 'inpod' || held !== undefined
          ? await startInpodListeners({
              workload,
              certificate,
              inbound,
              onOutbound,
              logger: childLogger(logger, 'pod'),
              hbonePort,
              netns:
                held !== undefined
                  ? { ref: held.netnsFd, name: `${workload.namespace}/${workload.name} (ZDS ${held.workload.uid})` }
                  : prefixedPodNetns(capture as InpodCaptureOptions, workload),
              dns,
            })
          : await startPodListeners({
              workload,
              certificate,
              inbound,
              onOutbound,
              logger: childLogger(logger, 'pod'),
              ports: { hbone: hbonePort, socks: socksPort },
              dns,
            })
      if (pods.get(workload.uid) !== entry || closed || drained !== undefined) {
        await listeners.close()
        return
      }
      entry.listeners = listeners
      entry.state = 'ready'
      podFailures.delete(workload.uid)
      logger.info(
        { event: 'pod_ready', pod: `${workload.namespace}/${workload.name}`, listeners: Object.fromEntries(listeners.bound) },
        'pod listeners up',
      )
    } catch (err) {
      entry.state = 'failed'
      entry.error = errorMessage(err)
      entry.awaitingNetns = awaitingPodNetns(errorCode(err))
      if (entry.awaitingNetns)
        logger.debug({ event: 'pod_netns_pending', pod: `${workload.namespace}/${workload.name}` }, 'pod network namespace not there yet')
      else
        logger.error(
          { event: 'pod_listeners_failed', pod: `${workload.namespace}/${workload.name}`, reason: entry.error },
          'cannot serve pod',
        )
      // In-pod: the pod's namespace may not be there yet (the runner makes it as istiod places the
      // pod); a failed pod is retried on the next reconcile, so ask for one, later each time.
      if ((options.capture?.kind === 'inpod' || zdsSource !== undefined) && !closed) {
        const failures = (podFailures.get(workload.uid) ?? 0) + 1
        podFailures.set(workload.uid, failures)
        setTimeout(
          () => {
            if (!closed && drained === undefined) void schedule()
          },
          podRetryDelayMs(entry.awaitingNetns, failures),
        ).unref()
      }
    }
  }

  const stopPod = async (uid: string): Promise<void> => {
    const entry = pods.get(uid)
    if (!entry) return
    pods.delete(uid)
    await entry.listeners?.close()
    const id = workloadIdentity(entry.workload)
    const stillUsed = id !== undefined && [...pods.values()].some((p) => workloadIdentity(p.workload)?.equals(id))
    if (id !== undefined && !stillUsed) certificates.forget(id)
  }

  // Listeners follow the pod's addresses, identity and ports: a change to any restarts them.
  const needsRestart = (entry: PodEntry, before: Workload, after: Workload): boolean =>
    (zdsSource !== undefined && zdsSource.netnsFor(after.namespace, after.name)?.netnsFd !== entry.netnsFd) ||
    before.addresses.join() !== after.addresses.join() ||
    workloadIdentity(before)?.toString() !== workloadIdentity(after)?.toString() ||
    before.podLocalAddress !== after.podLocalAddress ||
    JSON.stringify([...before.services]) !== JSON.stringify([...after.services])

  const reconcile = async (): Promise<void> => {
    // Draining: the listeners stay as they are (stopped) until close().
    if (closed || drained !== undefined) return
    const wanted = new Map(
      mesh
        .workloads()
        .filter(isLocal)
        .map((w) => [w.uid, w]),
    )
    for (const uid of [...pods.keys()]) {
      const have = pods.get(uid)
      const want = wanted.get(uid)
      if (!want) podFailures.delete(uid)
      if (!want || (have && (needsRestart(have, have.workload, want) || have.state === 'failed'))) await stopPod(uid)
      else if (have) have.workload = want
    }
    await Promise.all([...wanted.values()].filter((w) => !pods.has(w.uid)).map(startPod))
  }

  const schedule = (): Promise<void> => {
    chain = chain.then(reconcile, reconcile)
    return chain
  }

  zdsSource?.subscribe(schedule, (w) => {
    const entry = [...pods.values()].find((p) => p.workload.namespace === w.namespace && p.workload.name === w.name)
    return entry?.state === 'failed' ? (entry.error ?? 'listeners failed') : undefined
  })

  const unsubscribeMesh = mesh.subscribe((delta: MeshDelta) => {
    watcher.onMeshDelta(delta)
    const w = delta.workloads
    if (w.added.length + w.updated.length + w.removed.length > 0) void schedule()
  })

  return {
    flows,
    metrics,
    pool,
    watcher,
    dns: dns?.proxy,
    start: schedule,
    settled: () => chain,
    pods: () =>
      [...pods.values()].map((p) => ({
        uid: p.workload.uid,
        name: p.workload.name,
        namespace: p.workload.namespace,
        state: p.state,
        listeners: p.listeners ? Object.fromEntries(p.listeners.bound) : {},
        ...(p.error === undefined ? {} : { error: p.error }),
      })),
    ready() {
      if (drained !== undefined) return { ready: false, pending: ['draining: shutting down'] }
      const pending = [...pods.values()]
        .filter((p) => p.state !== 'ready' && p.awaitingNetns !== true)
        .map((p) => `${p.workload.namespace}/${p.workload.name}: ${p.state}${p.error ? ` (${p.error})` : ''}`)
      return { ready: pending.length === 0, pending }
    },
    drain(deadlineMs) {
      drained ??= (async () => {
        // Stop accepting everywhere first (outbound capture, HBONE, plaintext), then let live flows
        // finish; whatever is left at the deadline is closed with ztunnel's drain error.
        accepting = false
        await chain.catch(() => undefined)
        await Promise.allSettled([...pods.values()].map((p) => p.listeners?.stopAccepting()))
        logger.info({ event: 'drain_start', flows: flows.size, deadlineMs }, 'draining: no new connections, live ones may finish')
        let timer: NodeJS.Timeout | undefined
        const deadline = new Promise<'deadline'>((resolve) => {
          timer = setTimeout(() => resolve('deadline'), deadlineMs)
        })
        const outcome = await Promise.race([flows.whenEmpty().then(() => 'empty' as const), deadline])
        clearTimeout(timer)
        const terminated = outcome === 'deadline' ? flows.terminateAll(flowTermination('drain')) : 0
        logger.info(
          { event: 'drain_done', outcome, terminated },
          outcome === 'deadline' ? 'drain deadline: remaining connections closed' : 'drained: no connections left',
        )
      })()
      return drained
    },
    async close() {
      if (closed) return
      closed = true
      accepting = false
      unsubscribeMesh()
      unsubscribeCerts()
      await chain.catch(() => undefined)
      flows.terminateAll(flowTermination('drain'))
      await Promise.allSettled([...pods.keys()].map(stopPod))
      await dns?.proxy.close()
      await pool.close()
    },
  }
}
