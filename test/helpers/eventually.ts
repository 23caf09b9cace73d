// Poll instead of sleeping: retries `check` until it passes (returns without throwing, and not
// `false`), or fails with the last error once `timeoutMs` has passed.
//
//   await eventually(() => assert.equal(server.openStreams, 0))
import { setTimeout as delay } from 'node:timers/promises'

export interface EventuallyOptions {
  readonly timeoutMs?: number
  readonly intervalMs?: number
}

export async function eventually<T>(check: () => T | Promise<T>, options: EventuallyOptions = {}): Promise<Exclude<T, false>> {
  const timeoutMs = options.timeoutMs ?? 5_000
  const intervalMs = options.intervalMs ?? 5
  const deadline = Date.now() + timeoutMs
  let last: unknown
  for (;;) {
    try {
      const value = await check()
      if (value !== false) return value as Exclude<T, false>
      last = new Error('condition returned false')
    } catch (err) {
      last = err
    }
    if (Date.now() > deadline) {
      throw new Error(`eventually: not true after ${timeoutMs} ms: ${last instanceof Error ? last.message : String(last)}`, { cause: last })
    }
    await delay(intervalMs)
  }
}
