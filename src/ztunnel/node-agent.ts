// The node agent of ztunnel's DaemonSet (istio-cni's role in Istio): it watches the pods of its own
// node (field selector spec.nodeName) in ambient namespaces and tells ztunnel, in ZDS's terms, which
// pods to capture: `add` (a pod and its network namespace), `keep` (a pod ztunnel already has, before
// the snapshot), `del`, and `snapshotSent` once the first full view went out. On a restart ztunnel
// reports what it holds and the agent answers keep/add/del + snapshot, as ZDS reconciles.
//
// NOT WIRED: finding a pod's network namespace and installing the in-pod rules stand on the in-pod
// capture work (branch inpod-capture); `resolveNetns` is that seam, and no command starts this
// agent yet. The ZDS sink mirrors Istio's WorkloadRequest (zds.proto: add/keep/del/snapshot_sent).
import type { KubeClient, KubeObject } from '../kube/client.js'
import { startReflector, type Reflector } from '../kube/reflector.js'

export interface NodeAgentWorkload {
  readonly uid: string
  readonly name: string
  readonly namespace: string
  readonly serviceAccount: string
}

/** Where the agent's decisions go: ztunnel's ZDS handler (in-process for now). */
export interface ZdsSink {
  add(workload: NodeAgentWorkload, netns: string): Promise<void>
  keep(uid: string): Promise<void>
  del(uid: string): Promise<void>
  snapshotSent(): Promise<void>
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
        },
      })
  }
  for (const uid of held) if (!seen.has(uid)) steps.push({ op: 'del', uid })
  return steps
}

export interface NodeAgentOptions {
  readonly client: KubeClient
  readonly node: string
  readonly sink: ZdsSink
  /** The seam to in-pod capture: a pod's network namespace path. */
  readonly resolveNetns: (workload: NodeAgentWorkload) => Promise<string>
  readonly onError: (err: unknown) => void
}

export interface NodeAgent {
  /** Resolves after the first snapshot was sent. */
  readonly ready: Promise<void>
  held(): ReadonlySet<string>
  stop(): void
}

export function startNodeAgent(options: NodeAgentOptions, initiallyHeld: Iterable<string> = []): NodeAgent {
  const held = new Set(initiallyHeld)
  let snapshot = false
  let running: Promise<void> = Promise.resolve()
  let markReady: () => void = () => undefined
  const ready = new Promise<void>((r) => {
    markReady = r
  })
  const sync = (): void => {
    if (!pods.synced || !namespaces.synced) return
    running = running
      .then(async () => {
        const nsByName = new Map([...namespaces.store.values()].map((n) => [n.metadata.name, n]))
        for (const step of planNodeAgent([...pods.store.values()], nsByName, held)) {
          if (step.op === 'add') {
            await options.sink.add(step.workload, await options.resolveNetns(step.workload))
            held.add(step.workload.uid)
          } else if (step.op === 'del') {
            await options.sink.del(step.uid)
            held.delete(step.uid)
          } else if (!snapshot) {
            await options.sink.keep(step.uid)
          }
        }
        if (!snapshot) {
          snapshot = true
          await options.sink.snapshotSent()
          markReady()
        }
      })
      .catch(options.onError)
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
    stop() {
      pods.stop()
      namespaces.stop()
    },
  }
}
