// Poll instead of sleeping: retries `check` until it passes (returns a value that is not `false`,
// `undefined` or `null`, without throwing), or fails with the last error once `timeoutMs` has
// passed. A check must say explicitly that it holds: one that returns nothing never passes (the type
// refuses it), so a check that forgot its `return` cannot pass by accident.
//
//   await eventually(() => server.openStreams === 0)
//   const line = await eventually(() => output().split('\n').find((l) => l.includes('ready')))
import { setTimeout as delay } from 'node:timers/promises'

export interface EventuallyOptions {
  readonly timeoutMs?: number
  readonly intervalMs?: number
}

/** What a check may return: a value (the result), or `false`/`null` for "not yet". Never `undefined`
 * or `void`, and never a promise of one (an async check is its own overload). */
export type Settled = string | number | bigint | boolean | symbol | null | (object & { then?: never })

export function eventually<T extends Settled>(check: () => Promise<T>, options?: EventuallyOptions): Promise<Exclude<T, false | null>>
export function eventually<T extends Settled>(check: () => T, options?: EventuallyOptions): Promise<Exclude<T, false | null>>
export async function eventually<T extends Settled>(
  check: () => T | Promise<T>,
  options: EventuallyOptions = {},
): Promise<Exclude<T, false | null>> {
  const timeoutMs = options.timeoutMs ?? 5_000
  const intervalMs = options.intervalMs ?? 5
  const deadline = Date.now() + timeoutMs
  let last: unknown
  for (;;) {
    try {
      const value = await check()
      if (value !== false && value !== undefined && value !== null) return value as Exclude<T, false | null>
      last = new Error(`condition returned ${String(value)}`)
    } catch (err) {
      last = err
    }
    if (Date.now() > deadline) {
      throw new Error(`eventually: not true after ${timeoutMs} ms: ${last instanceof Error ? last.message : String(last)}`, { cause: last })
    }
    await delay(intervalMs)
  }
}
