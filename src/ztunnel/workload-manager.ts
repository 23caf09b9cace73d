// ztunnel's workload manager for in-pod capture (Istio's ztunnel: the "inpod" workload state that
// ZDS drives): which pods this ztunnel captures, each with its network namespace held as an open
// fd. Its interface is ZDS's WorkloadRequest (proto/istio/workload/zds/zds.proto):
//   add(pod, netns fd)  capture the pod; a second add of a uid with the same namespace (istio-cni
//                       replays its pods as adds when ztunnel reconnects) keeps the listeners as
//                       they are, with another namespace it replaces them
//   keep(uid)           during a snapshot: the pod ztunnel already holds stays
//   del(uid)            stop capturing
//   snapshotSent()      the snapshot is complete: every held pod neither added nor kept since
//                       beginSnapshot() is dropped
// Two feeds use it: the ZDS client (src/ztunnel/zds.ts, istio-cni over INPOD_UDS) and the in-process
// node agent (src/ztunnel/node-agent.ts). The listeners follow: after each change the manager awaits
// its subscriber (ztunnel's reconcile, which opens or closes the pod's listeners in that namespace),
// and a namespace fd is closed only once no listener uses it any more.
import { fstatSync } from 'node:fs'
import { AmbientError } from '../errors.js'
import type { Logger } from '../observability/logger.js'

export const WorkloadManagerErrorCode = {
  keepAfterSnapshot: 'ZTUNNEL_ZDS_KEEP_AFTER_SNAPSHOT',
  keepUnknown: 'ZTUNNEL_ZDS_KEEP_UNKNOWN',
  noUid: 'ZTUNNEL_ZDS_NO_UID',
  listeners: 'ZTUNNEL_ZDS_LISTENERS_FAILED',
} as const

/** ZDS's WorkloadInfo with the pod's uid. */
export interface ZdsWorkload {
  readonly uid: string
  readonly name: string
  readonly namespace: string
  readonly serviceAccount: string
}

/** ZDS's requests, as ztunnel's side handles them: the one interface both feeds use. */
export interface ZdsWorkloads {
  /** A new connection (or a restarted agent): what comes until snapshotSent() is a full snapshot. */
  beginSnapshot(): void
  /** Takes ownership of netnsFd (closed when the pod goes or is replaced). */
  add(workload: ZdsWorkload, netnsFd: number): Promise<void>
  keep(uid: string): Promise<void>
  del(uid: string): Promise<void>
  snapshotSent(): Promise<void>
  /** The uids held now. */
  uids(): string[]
}

export type WorkloadRequest =
  | { readonly op: 'add'; readonly uid: string; readonly sameNetns?: boolean }
  | { readonly op: 'keep'; readonly uid: string }
  | { readonly op: 'del'; readonly uid: string }
  | { readonly op: 'snapshotSent' }

/** open: new pod; replace: same uid, another namespace; retain: same namespace again; close: gone. */
export interface WorkloadAction {
  readonly op: 'open' | 'replace' | 'retain' | 'close'
  readonly uid: string
}

export interface WorkloadPlanState {
  readonly held: ReadonlySet<string>
  /** The uids added or kept since beginSnapshot(); undefined once the snapshot was sent. */
  readonly seen: ReadonlySet<string> | undefined
}

export interface WorkloadPlan {
  readonly actions: readonly WorkloadAction[]
  readonly seen: ReadonlySet<string> | undefined
  readonly error?: { readonly code: string; readonly message: string }
}

/** What one request does to the held pods. Pure. */
export function planWorkloadRequest(state: WorkloadPlanState, req: WorkloadRequest): WorkloadPlan {
  const seen = state.seen === undefined ? undefined : new Set(state.seen)
  const refuse = (code: string, message: string): WorkloadPlan => ({ actions: [], seen: state.seen, error: { code, message } })
  if (req.op !== 'snapshotSent' && req.uid === '') return refuse(WorkloadManagerErrorCode.noUid, `${req.op} without a uid`)
  switch (req.op) {
    case 'add':
      seen?.add(req.uid)
      return { actions: [{ op: !state.held.has(req.uid) ? 'open' : req.sameNetns === true ? 'retain' : 'replace', uid: req.uid }], seen }
    case 'keep':
      if (seen === undefined) return refuse(WorkloadManagerErrorCode.keepAfterSnapshot, `keep ${req.uid} after the snapshot`)
      if (!state.held.has(req.uid)) return refuse(WorkloadManagerErrorCode.keepUnknown, `keep ${req.uid}: not held (send add)`)
      seen.add(req.uid)
      return { actions: [], seen }
    case 'del':
      seen?.delete(req.uid)
      return { actions: state.held.has(req.uid) ? [{ op: 'close', uid: req.uid }] : [], seen }
    case 'snapshotSent':
      if (seen === undefined) return { actions: [], seen }
      return {
        actions: [...state.held].filter((uid) => !seen.has(uid)).map((uid) => ({ op: 'close' as const, uid })),
        seen: undefined,
      }
  }
}

/** One captured pod: its ZDS identity and the fd of its network namespace. */
export interface HeldWorkload {
  readonly workload: ZdsWorkload
  readonly netnsFd: number
}

/** What ztunnel reads: the pods to capture, found by the mesh workload's namespace and name. */
export interface PodNetnsSource {
  netnsFor(namespace: string, name: string): HeldWorkload | undefined
  /** ztunnel's reconcile; awaited after each change. Returns the error of the pod's listeners, if any. */
  subscribe(apply: () => Promise<void>, failure: (w: ZdsWorkload) => string | undefined): void
}

export interface WorkloadManager extends ZdsWorkloads, PodNetnsSource {
  held(): HeldWorkload[]
  /** Closes every namespace fd (after ztunnel closed its listeners). */
  close(): void
}

export interface WorkloadManagerOptions {
  readonly closeFd: (fd: number) => void
  /** Identifies the namespace behind an fd (default: fstat's device and inode, as nsfs names it). */
  readonly netnsId?: (fd: number) => string
  readonly logger: Logger
}

export function createWorkloadManager(options: WorkloadManagerOptions): WorkloadManager {
  const log = options.logger
  const netnsId =
    options.netnsId ??
    ((fd: number): string => {
      const st = fstatSync(fd)
      return `${st.dev}:${st.ino}`
    })
  const sameNetns = (a: number, b: number): boolean => {
    try {
      return netnsId(a) === netnsId(b)
    } catch {
      return false
    }
  }
  const pods = new Map<string, HeldWorkload>()
  let seen: ReadonlySet<string> | undefined
  let apply: () => Promise<void> = async () => undefined
  let failure: (w: ZdsWorkload) => string | undefined = () => undefined
  let chain: Promise<unknown> = Promise.resolve()

  const closeFd = (fd: number): void => {
    try {
      options.closeFd(fd)
    } catch {
      /* already closed */
    }
  }

  /** One request at a time, in order: the plan, the held map, then the listeners. */
  const run = (req: WorkloadRequest, incoming?: HeldWorkload): Promise<void> => {
    const step = chain.then(async () => {
      const held = req.op === 'add' ? pods.get(req.uid) : undefined
      const request = held !== undefined && incoming !== undefined ? { ...req, sameNetns: sameNetns(held.netnsFd, incoming.netnsFd) } : req
      const plan = planWorkloadRequest({ held: new Set(pods.keys()), seen }, request)
      if (plan.error !== undefined) {
        if (incoming !== undefined) closeFd(incoming.netnsFd)
        throw new AmbientError(plan.error.code, plan.error.message, { side: 'config' })
      }
      seen = plan.seen
      const released: number[] = []
      let moved = false
      for (const action of plan.actions) {
        log.info({ event: `zds_${action.op}`, uid: action.uid }, `pod ${action.op}`)
        if (action.op === 'retain') {
          if (incoming !== undefined) released.push(incoming.netnsFd)
          continue
        }
        moved = true
        const before = pods.get(action.uid)
        if (before !== undefined) released.push(before.netnsFd)
        if (action.op === 'close') pods.delete(action.uid)
        else if (incoming !== undefined) pods.set(action.uid, incoming)
      }
      if (moved) await apply()
      for (const fd of released) closeFd(fd)
      const failed = incoming === undefined ? undefined : failure(incoming.workload)
      if (failed !== undefined)
        throw new AmbientError(WorkloadManagerErrorCode.listeners, `pod ${incoming!.workload.uid}: ${failed}`, { side: 'internal' })
    })
    chain = step.catch(() => undefined)
    return step
  }

  return {
    beginSnapshot() {
      seen = new Set()
    },
    add: (workload, netnsFd) => run({ op: 'add', uid: workload.uid }, { workload, netnsFd }),
    keep: (uid) => run({ op: 'keep', uid }),
    del: (uid) => run({ op: 'del', uid }),
    snapshotSent: () => run({ op: 'snapshotSent' }),
    uids: () => [...pods.keys()],
    held: () => [...pods.values()],
    netnsFor(namespace, name) {
      for (const p of pods.values()) if (p.workload.namespace === namespace && p.workload.name === name) return p
      return undefined
    },
    subscribe(a, f) {
      apply = a
      failure = f
    },
    close() {
      for (const p of pods.values()) closeFd(p.netnsFd)
      pods.clear()
    },
  }
}
