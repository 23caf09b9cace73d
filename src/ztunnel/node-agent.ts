// The node agent of ztunnel's DaemonSet (istio-cni's role in Istio), in ztunnel's process: it
// watches the pods of its own node (field selector spec.nodeName) in ambient namespaces and feeds
// ztunnel's workload manager through the same interface ZDS does (src/ztunnel/workload-manager.ts):
// for a new pod it finds the pod's network namespace (the one holding the pod's IP:
// src/capture/inpod/pod-netns.ts), installs Istio's in-pod rules there (src/capture/inpod/rules.ts),
// opens the namespace and hands the fd over with `add`; `keep` for a pod ztunnel already has
// (before the snapshot), `del` when the pod goes, and `snapshotSent` once the first full view went
// out. On a restart ztunnel reports what it holds and the agent answers keep/add/del + snapshot, as
// ZDS reconciles. A pod that cannot be added yet (its namespace not up) is retried.
//
// Kubelet probes (with `hostNetns`): after each pass the agent makes the node's probe SNAT
// (src/capture/inpod/host-snat.ts) hold exactly the IPs of the pods ztunnel holds: added on
// enrolment, dropped on removal, and the first pass rewrites the chain (stale entries go).
import { openSync } from 'node:fs'
import { findPodNetns } from '../capture/inpod/pod-netns.js'
import { createHostSnat, type HostSnat } from '../capture/inpod/host-snat.js'
import { installCaptureRules } from '../capture/inpod/rules.js'
import type { KubeClient, KubeObject } from '../kube/client.js'
import { startReflector, type Reflector } from '../kube/reflector.js'
import type { ZdsWorkload, ZdsWorkloads } from './workload-manager.js'
import { Backoff, type BackoffOptions } from '../xds/backoff.js'

export interface NodeAgentWorkload extends ZdsWorkload {
  /** The pod's IP (status.podIP): how its network namespace is found. */
  readonly ip: string
}

export type NodeAgentStep =
  | { readonly op: 'add'; readonly workload: NodeAgentWorkload }
  | { readonly op: 'keep'; readonly uid: string }
  | { readonly op: 'del'; readonly uid: string }

const AMBIENT = 'istio.io/dataplane-mode'

/** Is the pod captured: in an ambient namespace (or labelled itself), not opted out, running with an IP. */
export function capturedPod(pod: KubeObject, namespace: KubeObject | undefined): boolean {
  const own = pod.metadata.labels?.[AMBIENT]
  const status = (pod.status ?? {}) as { podIP?: string; phase?: string }
  const hostNetwork = (pod.spec as { hostNetwork?: boolean } | undefined)?.hostNetwork === true
  if (
    own === 'none' ||
    hostNetwork ||
    status.podIP === undefined ||
    status.podIP === '' ||
    status.phase === 'Succeeded' ||
    status.phase === 'Failed'
  )
    return false
  return own === 'ambient' || namespace?.metadata.labels?.[AMBIENT] === 'ambient'
}

/** The ZDS steps that take ztunnel from `held` (uids) to the captured pods of `pods`. Pure. */
export function planNodeAgent(
  pods: readonly KubeObject[],
  namespaces: ReadonlyMap<string, KubeObject>,
  held: ReadonlySet<string>,
): NodeAgentStep[] {
  const wanted = pods.filter((p) => capturedPod(p, namespaces.get(p.metadata.namespace ?? '')))
  const steps: NodeAgentStep[] = []
  const seen = new Set<string>()
  for (const p of wanted) {
    const uid = p.metadata.uid ?? `${p.metadata.namespace}/${p.metadata.name}`
    seen.add(uid)
    if (held.has(uid)) steps.push({ op: 'keep', uid })
    else
      steps.push({
        op: 'add',
        workload: {
          uid,
          name: p.metadata.name,
          namespace: p.metadata.namespace ?? 'default',
          serviceAccount: (p.spec as { serviceAccountName?: string } | undefined)?.serviceAccountName ?? 'default',
          ip: (p.status as { podIP?: string } | undefined)?.podIP ?? '',
        },
      })
  }
  for (const uid of held) if (!seen.has(uid)) steps.push({ op: 'del', uid })
  return steps
}

export interface NodeAgentOptions {
  readonly client: KubeClient
  readonly node: string
  /** ztunnel's workload manager (the ZDS interface). */
  readonly workloads: ZdsWorkloads
  /** A pod's network namespace path. Default: the namespace of the node holding the pod's IP. */
  readonly resolveNetns?: (workload: NodeAgentWorkload) => Promise<string>
  /** Default: Istio's in-pod rules (src/capture/inpod/rules.ts). */
  readonly installRules?: (netnsPath: string) => Promise<void>
  /** Opens the namespace for the workload manager. Default: open(2) read-only. */
  readonly openNetns?: (netnsPath: string) => number
  /**
   * The node's network namespace, where the kubelet's probes to enrolled pods are SNAT'd to
   * PROBE_SNAT_IP: a path (`/proc/1/ns/net` with hostPID), a name under /run/netns, or `''` for the
   * agent's own namespace (hostNetwork). Undefined: no probe SNAT.
   */
  readonly hostNetns?: string
  /** Default: iptables in hostNetns (src/capture/inpod/host-snat.ts). */
  readonly hostSnat?: HostSnat
  readonly onError: (err: unknown) => void
  /**
   * After a round with a failed step, the next round: from 500 ms, doubling up to 30 s while rounds
   * keep failing (a pod that can never be added, say an IPv6 pod in a namespace without IPv6, is not
   * retried twice a second for ever), and from the start again after a round without failure.
   */
  readonly retry?: BackoffOptions
  /** Schedules the next round (default setTimeout; tests record the delays). */
  readonly setTimer?: (fn: () => void, ms: number) => NodeJS.Timeout
}

export const NODE_AGENT_RETRY = { initialMs: 500, maxMs: 30_000 } as const

export interface NodeAgent {
  /** Resolves after the first snapshot was sent. */
  readonly ready: Promise<void>
  held(): ReadonlySet<string>
  /** Stops watching; resolves when the step in progress is done. */
  stop(): Promise<void>
}

export function startNodeAgent(options: NodeAgentOptions): NodeAgent {
  const sink = options.workloads
  const resolveNetns = options.resolveNetns ?? ((w: NodeAgentWorkload) => findPodNetns(w.ip))
  const installRules = options.installRules ?? installCaptureRules
  const openNetns = options.openNetns ?? ((path: string) => openSync(path, 'r'))
  const hostSnat =
    options.hostSnat ??
    (options.hostNetns === undefined ? undefined : createHostSnat(options.hostNetns === '' ? undefined : options.hostNetns))
  // What ztunnel holds when the agent starts: reconciled by the first snapshot.
  const held = new Set(sink.uids())
  let snapshot = false
  let stopped = false
  let retry: NodeJS.Timeout | undefined
  const backoff = new Backoff({ ...NODE_AGENT_RETRY, ...options.retry })
  const setTimer = options.setTimer ?? setTimeout
  let running: Promise<void> = Promise.resolve()
  let markReady: () => void = () => undefined
  const ready = new Promise<void>((r) => {
    markReady = r
  })
  sink.beginSnapshot()
  const add = async (w: NodeAgentWorkload): Promise<void> => {
    const path = await resolveNetns(w)
    await installRules(path)
    await sink.add({ uid: w.uid, name: w.name, namespace: w.namespace, serviceAccount: w.serviceAccount }, openNetns(path))
  }
  const sync = (): void => {
    if (stopped || !pods.synced || !namespaces.synced) return
    running = running.then(async () => {
      const nsByName = new Map([...namespaces.store.values()].map((n) => [n.metadata.name, n]))
      let failed = false
      for (const step of planNodeAgent([...pods.store.values()], nsByName, held)) {
        try {
          if (step.op === 'add') {
            await add(step.workload)
            held.add(step.workload.uid)
          } else if (step.op === 'del') {
            await sink.del(step.uid)
            held.delete(step.uid)
          } else if (!snapshot) {
            await sink.keep(step.uid)
          }
        } catch (err) {
          failed = true
          options.onError(err)
        }
      }
      if (hostSnat !== undefined && !stopped) {
        // The IPs of the pods ztunnel holds (a held pod no longer in the store is being deleted).
        const enrolled = [...pods.store.values()].flatMap((p) => {
          const ip = (p.status as { podIP?: string } | undefined)?.podIP
          return held.has(p.metadata.uid ?? `${p.metadata.namespace}/${p.metadata.name}`) && ip !== undefined ? [ip] : []
        })
        await hostSnat.sync(enrolled).catch((err: unknown) => {
          failed = true
          options.onError(err)
        })
      }
      if (!snapshot && !stopped) {
        snapshot = true
        await sink.snapshotSent().catch(options.onError)
        markReady()
      }
      if (!failed) backoff.reset()
      else if (!stopped && retry === undefined)
        retry = setTimer(() => {
          retry = undefined
          sync()
        }, backoff.next())
    })
  }
  const pods: Reflector = startReflector({
    client: options.client,
    path: '/api/v1/pods',
    fieldSelector: `spec.nodeName=${options.node}`,
    onChange: sync,
    onError: options.onError,
  })
  const namespaces: Reflector = startReflector({
    client: options.client,
    path: '/api/v1/namespaces',
    onChange: sync,
    onError: options.onError,
  })
  return {
    ready,
    held: () => held,
    async stop() {
      stopped = true
      clearTimeout(retry)
      pods.stop()
      namespaces.stop()
      await running
    },
  }
}
