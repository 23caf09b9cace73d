// What both load generator processes share (`bench:ztunnel`'s http-loadgen.ts and `ambient
// compare`'s compare-loadgen.ts): the IPC loop taking one task at a time, and the latency task.
import { runOpenLoop } from '../open-loop.js'
import { HttpPool } from '../ztunnel-http.js'
import type { LatencyTask, LoadgenMessage, LoadgenTask } from './http-loadgen-protocol.js'

export const send = (msg: LoadgenMessage): void => {
  process.send?.(msg)
}

/** A latency task: the warm-up (if any), `steady`, then the measured open loop on `path`. */
export async function latency(task: LatencyTask, path?: string): Promise<void> {
  const pool = await HttpPool.open(task.route, task.connections, path)
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

/**
 * Serves the parent's tasks one at a time (a second one while busy is refused); `run` returns
 * undefined for a task type this generator does not do. Exits when the IPC channel closes.
 */
export function serveLoadgen(name: string, run: (task: LoadgenTask) => Promise<void> | undefined): void {
  let busy = false
  process.on('message', (task: LoadgenTask) => {
    const work = busy ? undefined : run(task)
    if (work === undefined) {
      send({ type: 'error', id: task.id, message: busy ? 'load generator busy' : `unsupported task ${task.type}` })
      return
    }
    busy = true
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
    process.stderr.write(`${name} must be started with an IPC channel\n`)
    process.exit(2)
  }
  send({ type: 'ready', id: 0 })
}
