// The load generator of `ambient compare`: workers/http-loadgen.ts's protocol (driven by the Loadgen
// class of ztunnel-procs.ts), with the HTTP path taken from the task (`/1k`, bookinfo's `/productpage`).
import { runOpenLoop } from '../open-loop.js'
import { HttpPool } from '../ztunnel-http.js'
import type { LatencyTask, LoadgenMessage, LoadgenTask } from './http-loadgen-protocol.js'

/** A latency task with the path to request (extra field; the base protocol ignores it). */
export type CompareLatencyTask = LatencyTask & { path?: string }

const send = (msg: LoadgenMessage): void => {
  process.send?.(msg)
}

async function latency(task: CompareLatencyTask): Promise<void> {
  const pool = await HttpPool.open(task.route, task.connections, task.path ?? '/1k')
  try {
    if (task.warmupCount > 0) {
      await runOpenLoop({
        ratePerSec: task.ratePerSec,
        count: task.warmupCount,
        maxDurationMs: task.maxDurationMs,
        send: () => pool.request(),
      })
    }
    send({ type: 'steady', id: task.id })
    const result = await runOpenLoop({
      ratePerSec: task.ratePerSec,
      count: task.count,
      maxDurationMs: task.maxDurationMs,
      send: () => pool.request(),
    })
    send({ type: 'latency-result', id: task.id, result })
  } finally {
    pool.close()
  }
}

let busy = false
process.on('message', (task: LoadgenTask) => {
  if (busy || task.type !== 'latency') {
    send({ type: 'error', id: task.id, message: busy ? 'load generator busy' : `unsupported task ${task.type}` })
    return
  }
  busy = true
  latency(task)
    .catch((err: unknown) => {
      send({ type: 'error', id: task.id, message: err instanceof Error ? err.message : String(err) })
    })
    .finally(() => {
      busy = false
    })
})
process.on('disconnect', () => process.exit(0))
if (!process.send) {
  process.stderr.write('compare-loadgen must be started with an IPC channel\n')
  process.exit(2)
}
send({ type: 'ready', id: 0 })
