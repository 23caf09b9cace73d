// The live flows of one proxy: for admin `/config_dump` and the dashboard (list), and for closing
// flows from outside their own I/O path: a policy re-check (ztunnel's PolicyWatcher) or a drain.
//
// Termination contract: the registry calls the flow's terminator, which stops the flow's I/O
// synchronously (destroys its sockets/streams), and then the registry closes the flow with the
// termination error itself. So the access log always gives the real reason ("policy change"), never
// the ECONNRESET the teardown causes, and a flow without a terminator is still recorded once.
import { AmbientError } from '../errors.js'
import { openFlow, type Flow, type FlowDirection, type FlowOptions } from './flow-record.js'
import type { ConnectionSecurityPolicy, FlowPeer, Reporter } from './traffic-labels.js'

export const FlowTerminationCode = {
  policyChange: 'FLOW_POLICY_CHANGE',
  drain: 'FLOW_DRAIN',
} as const
export type FlowTerminationKind = keyof typeof FlowTerminationCode

// Messages as ztunnel writes them in the access log's `error` field.
const TERMINATION_MESSAGES: Record<FlowTerminationKind, string> = {
  policyChange: 'connection closed due to policy change',
  drain: 'connection closed due to connection drain',
}

export function flowTermination(kind: FlowTerminationKind, details?: Record<string, unknown>): AmbientError {
  return new AmbientError(FlowTerminationCode[kind], TERMINATION_MESSAGES[kind], {
    side: 'internal',
    ...(details ? { details } : {}),
  })
}

/** Stops the flow's I/O now (synchronously); the registry then closes the record with `reason`. */
export type FlowTerminator = (reason: AmbientError) => void

export interface FlowPeerSnapshot {
  addr: string
  workload?: string
  namespace?: string
  identity?: string
  service?: string
}

/** JSON-ready view of a live flow. */
export interface FlowSnapshot {
  id: string
  reporter: Reporter
  direction: FlowDirection
  src: FlowPeerSnapshot
  dst: FlowPeerSnapshot
  dstHboneAddr?: string
  securityPolicy: ConnectionSecurityPolicy
  startedAt: string
  durationMs: number
  bytesSent: number
  bytesReceived: number
}

export interface FlowRegistry {
  /** openFlow and add in one step. */
  open(options: FlowOptions, terminate?: FlowTerminator): Flow
  /** Registers a live flow (again: replaces its terminator). It leaves the registry when it closes. */
  add(flow: Flow, terminate?: FlowTerminator): void
  get(id: string): Flow | undefined
  list(): FlowSnapshot[]
  readonly size: number
  /** Terminates one flow; false when it is not (or no longer) live. */
  terminate(id: string, reason: AmbientError): boolean
  /** Terminates the flows `predicate` picks (e.g. those a new policy denies); returns how many. */
  terminateWhere(predicate: (flow: Flow) => boolean, reason: AmbientError): number
  terminateAll(reason: AmbientError): number
  /** Resolves when no flow is live (a drain waits on this with its deadline). */
  whenEmpty(): Promise<void>
}

export function createFlowRegistry(): FlowRegistry {
  const live = new Map<string, { flow: Flow; terminate: FlowTerminator | undefined }>()
  const emptyWaiters: Array<() => void> = []

  const add = (flow: Flow, terminate?: FlowTerminator): void => {
    if (flow.result !== undefined) return
    const known = live.has(flow.id)
    live.set(flow.id, { flow, terminate })
    if (known) return
    flow.onClose(() => {
      live.delete(flow.id)
      if (live.size === 0) for (const resolve of emptyWaiters.splice(0)) resolve()
    })
  }

  const terminate = (id: string, reason: AmbientError): boolean => {
    const entry = live.get(id)
    if (!entry) return false
    try {
      entry.terminate?.(reason)
    } finally {
      // Even if the terminator threw, the record is written exactly once and the flow leaves.
      entry.flow.close({ error: reason })
    }
    return true
  }

  const terminateWhere = (predicate: (flow: Flow) => boolean, reason: AmbientError): number => {
    // Snapshot first: terminating removes entries from `live` while we go.
    const picked = [...live.values()].filter((e) => predicate(e.flow))
    let count = 0
    for (const { flow } of picked) if (terminate(flow.id, reason)) count++
    return count
  }

  return {
    open(options, terminator) {
      const flow = openFlow(options)
      add(flow, terminator)
      return flow
    },
    add,
    get: (id) => live.get(id)?.flow,
    list: () => [...live.values()].map(({ flow }) => snapshot(flow)),
    get size() {
      return live.size
    },
    terminate,
    terminateWhere,
    terminateAll: (reason) => terminateWhere(() => true, reason),
    whenEmpty() {
      if (live.size === 0) return Promise.resolve()
      return new Promise<void>((resolve) => {
        emptyWaiters.push(resolve)
      })
    },
  }
}

function snapshot(flow: Flow): FlowSnapshot {
  const out: FlowSnapshot = {
    id: flow.id,
    reporter: flow.reporter,
    direction: flow.direction,
    src: peerSnapshot(flow.src),
    dst: peerSnapshot(flow.dst),
    securityPolicy: flow.securityPolicy,
    startedAt: new Date(flow.startedAtMs).toISOString(),
    durationMs: Math.round(flow.elapsedMs()),
    bytesSent: flow.bytesSent,
    bytesReceived: flow.bytesReceived,
  }
  if (flow.dstHboneAddr !== undefined) out.dstHboneAddr = flow.dstHboneAddr
  return out
}

function peerSnapshot(peer: FlowPeer): FlowPeerSnapshot {
  const out: FlowPeerSnapshot = { addr: peer.addr }
  if (peer.workload !== undefined) out.workload = peer.workload
  if (peer.namespace !== undefined) out.namespace = peer.namespace
  if (peer.identity !== undefined) out.identity = peer.identity.toString()
  if (peer.service !== undefined) out.service = peer.service.hostname
  return out
}
