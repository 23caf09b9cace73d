// The benchmarks' sink protocol for one-way bulk transfers: the client sends an 8-byte big-endian
// length L, then L bytes; the sink answers one byte once it has them all. Timing until that byte
// measures delivery of the last byte, not just its hand-over to the kernel.
import type net from 'node:net'

/** The payload's bytes (any content: the sink only counts them). */
const CHUNK = Buffer.alloc(256 * 1024, 0x61)

/** Sink side of one connection: reads the length and the bytes, answers one byte; more than announced destroys it. */
export function serveSink(s: net.Socket): void {
  let header = Buffer.alloc(0)
  let remaining = -1
  s.on('data', (chunk: Buffer) => {
    if (remaining < 0) {
      header = Buffer.concat([header, chunk])
      if (header.length < 8) return
      remaining = Number(header.readBigUInt64BE(0)) - (header.length - 8)
    } else remaining -= chunk.length
    if (remaining === 0) s.write(Buffer.from([1]))
    else if (remaining < 0) s.destroy()
  })
}

/** Client side: resolves on the sink's acknowledgement, rejects if the socket fails or closes first. */
export function sinkAcknowledged(s: net.Socket): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    s.once('data', () => resolve())
    s.once('error', reject)
    s.once('close', () => reject(new Error('closed before the sink acknowledged')))
  })
}

/** Client side: writes the length and `bytes` bytes, awaiting `drained()` whenever the socket's buffer is full. */
export async function sendToSink(s: net.Socket, bytes: number, drained: () => Promise<unknown>): Promise<void> {
  const header = Buffer.alloc(8)
  header.writeBigUInt64BE(BigInt(bytes))
  s.write(header)
  let left = bytes
  while (left > 0) {
    const n = Math.min(left, CHUNK.length)
    left -= n
    if (!s.write(n === CHUNK.length ? CHUNK : CHUNK.subarray(0, n))) {
      await drained()
    }
  }
}
