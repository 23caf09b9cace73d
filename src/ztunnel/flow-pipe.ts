// The one way bytes reach a flow record: the flow's pipe. A live flow is registered with its
// terminator (policy re-check, drain), which stops the I/O and counts what the pipe copied so far,
// since the registry closes the record before the pipe reports; otherwise the record closes with the
// pipe's own result. Used by both directions, so a record never learns its bytes another way.
import type { Duplex } from 'node:stream'
import { pipe, reset, type Pipe } from '../net/pipe.js'
import type { Flow } from '../observability/flow-record.js'
import type { FlowRegistry } from '../observability/flow-registry.js'

export interface LiveFlow {
  /** Starts the one pipe (resuming a paused downstream); resolves once the flow's record is closed. */
  pipe(): Promise<void>
}

/** Registers `flow` as live for `downstream` ⇄ `upstream`; nothing is copied until pipe(). */
export function liveFlow(flows: FlowRegistry, flow: Flow, downstream: Duplex, upstream: Duplex): LiveFlow {
  let copy: Pipe | undefined
  const count = (counts: { readonly bytesSent: number; readonly bytesReceived: number }): void => {
    flow.addSent(counts.bytesSent)
    flow.addReceived(counts.bytesReceived)
  }
  flows.add(flow, () => {
    if (copy !== undefined) count(copy)
    reset(downstream)
    reset(upstream)
  })
  return {
    async pipe() {
      const p = pipe(downstream, upstream)
      copy = p
      // Live counts for views of busy flows (admin, dashboard): the pipe's, as at close.
      flow.watchBytes(() => ({ sent: p.bytesSent, received: p.bytesReceived }))
      downstream.resume()
      const result = await p.done
      count(result)
      flow.close(result.error === undefined ? {} : { error: result.error })
    },
  }
}
