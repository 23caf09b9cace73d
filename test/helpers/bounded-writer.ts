// A writer for backpressure tests: up to `total` bytes in 64 KiB writes, each after the previous one
// drained, counting what the destination accepted. `stalled()` is a check for eventually(): the
// writer finished, or has waited for 'drain' with the same count over ten polls in a row (a transfer
// still moving changes it between polls), so a test reads "how much got through while nobody read"
// without a sleep.
import type { Writable } from 'node:stream'

export interface BoundedWriter {
  readonly written: number
  readonly finished: boolean
  stalled(): () => boolean
}

export function writeBounded(dst: Writable, total: number, onDone: () => void = () => undefined): BoundedWriter {
  const chunk = Buffer.alloc(64 * 1024, 0x78)
  const state = { written: 0, waiting: false, finished: false }
  const more = (): void => {
    state.waiting = false
    while (state.written < total && !dst.destroyed) {
      const piece = total - state.written >= chunk.length ? chunk : chunk.subarray(0, total - state.written)
      state.written += piece.length
      if (!dst.write(piece)) {
        state.waiting = true
        dst.once('drain', more)
        return
      }
    }
    if (state.written >= total && !state.finished) {
      state.finished = true
      onDone()
    }
  }
  more()
  return {
    get written() {
      return state.written
    },
    get finished() {
      return state.finished
    },
    stalled() {
      let last = -1
      let same = 0
      return () => {
        if (state.finished) return true
        same = state.waiting && state.written === last ? same + 1 : 0
        last = state.written
        return same >= 10
      }
    },
  }
}
