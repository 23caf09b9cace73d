// Bounded write-ahead for a server stream that sends large messages to many clients at once.
//
// Why: node:http2 passes a stream's data to the connection's TLS socket as fast as the client's
// flow-control window allows, and node:tls encrypts all it is given at once, holding the ciphertext
// until the kernel takes it. A Delta ADS initial sync is ~2.3 MB per client at 10,000 workloads, and
// our clients (like Istio's) open windows larger than that: 100 clients syncing together made
// istiod hold ~100 × 2.3 MB of ciphertext in malloc'd memory (measured: peak RSS ≈ 160 MB +
// 3.6 MB per syncing client). Writing at most `aheadBytes` past what the stream has handed over
// (the stream's writableLength, which falls as its writes complete at the socket) keeps that per
// client to about `aheadBytes`, whatever the window; the bytes and their order are unchanged.
import type { Writable } from 'node:stream'

/** Per stream: bytes written to the stream and not yet completed at its socket, before we wait. */
export const PACED_AHEAD_BYTES = 256 * 1024

export interface StreamPacer {
  /** Queues `parts` in order (not copied: large ones are sliced as views). */
  write(parts: readonly Uint8Array[]): void
  /** Calls `then` once everything queued has been written to the stream (at once if nothing is). */
  flushed(then: () => void): void
  /** Bytes queued here, not yet written to the stream. */
  readonly queuedBytes: number
}

export function createStreamPacer(stream: Writable, aheadBytes = PACED_AHEAD_BYTES): StreamPacer {
  const queue: Uint8Array[] = []
  let head = 0
  let queuedBytes = 0
  let onFlushed: (() => void)[] = []
  // A stream that went away takes nothing more: what was queued is dropped (the call is over).
  stream.once('close', () => {
    queue.length = head = queuedBytes = 0
    onFlushed = []
  })

  // Runs when something is queued and on every completed write: the stream's writableLength fell.
  const pump = (): void => {
    if (head < queue.length && !stream.destroyed) {
      stream.cork()
      while (head < queue.length && stream.writableLength < aheadBytes) {
        const room = aheadBytes - stream.writableLength
        const next = queue[head]!
        if (next.length <= room) {
          queue[head++] = EMPTY
          queuedBytes -= next.length
          stream.write(next, written)
        } else {
          queue[head] = next.subarray(room)
          queuedBytes -= room
          stream.write(next.subarray(0, room), written)
        }
      }
      stream.uncork()
      if (head < queue.length) return // the next completed write pumps again
      queue.length = head = 0
    }
    if (onFlushed.length > 0 && head === queue.length) {
      const fns = onFlushed
      onFlushed = []
      for (const fn of fns) fn()
    }
  }
  const written = (): void => {
    if (head < queue.length) pump()
  }

  return {
    write(parts) {
      const idle = head === queue.length
      for (const p of parts) {
        if (p.length === 0) continue
        queue.push(p)
        queuedBytes += p.length
      }
      if (idle) pump()
    },
    flushed(then) {
      if (head === queue.length) return then()
      onFlushed.push(then)
    },
    get queuedBytes() {
      return queuedBytes
    },
  }
}

const EMPTY = new Uint8Array(0)
