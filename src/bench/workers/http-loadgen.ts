// The load generator of `bench:ztunnel`, in its own process so that its CPU (the open loop spins for
// sub-millisecond send times) is neither charged to nor competing with the proxies. It takes one task
// at a time from the parent (see http-loadgen-protocol.ts) and exits when the IPC channel closes.
import { runOpenLoop } from '../open-loop.js'
import { bulkTransfer, HttpPool } from '../ztunnel-http.js'
import type { LatencyTask, LoadgenMessage, LoadgenTask } from './http-loadgen-protocol.js'

const send = (msg: LoadgenMessage): void => {
  process.send?.(msg)
}

async function latency(task: LatencyTask): Promise<void> {
  const pool = await HttpPool.open(task.route, task.connections)
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
  if (busy) {
    send({ type: 'error', id: task.id, message: 'load generator busy' })
    return
  }
  busy = true
  const work =
    task.type === 'latency'
      ? latency(task)
      : bulkTransfer(task.route, task.bytes, task.maxDurationMs).then((result) => send({ type: 'bulk-result', id: task.id, result }))
  work
    .catch((err: unknown) => {
      send({ type: 'error', id: task.id, message: err instanceof Error ? err.message : String(err) })
    })
    .finally(() => {
      busy = false
    })
})
process.on('disconnect', () => process.exit(0))
if (!process.send) {
  process.stderr.write('http-loadgen must be started with an IPC channel\n')
  process.exit(2)
}
send({ type: 'ready', id: 0 })
