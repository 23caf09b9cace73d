// gRPC's length-prefixed messages on an HTTP/2 stream: one flag byte (bit 0: compressed), a 4-byte
// big-endian length, the bytes. DATA frames and messages do not line up: a message may span frames
// and a frame may hold several messages, so the reader keeps what it has until a message is whole,
// and copies only when a message really spans chunks.
import { AmbientError } from '../../errors.js'
import { GrpcClientErrorCode } from './errors.js'

export const PREFIX_BYTES = 5
/** grpc-js's default receive limit, which our clients had before. */
export const DEFAULT_MAX_MESSAGE_BYTES = 4 * 1024 * 1024

/** The prefix of an uncompressed message of `length` bytes (written before its parts, uncopied). */
export function messagePrefix(length: number): Buffer {
  const prefix = Buffer.allocUnsafe(PREFIX_BYTES)
  prefix[0] = 0
  prefix.writeUInt32BE(length, 1)
  return prefix
}

/** One message with its prefix, ready to write. */
export function encodeMessage(bytes: Uint8Array): Buffer {
  return Buffer.concat([messagePrefix(bytes.length), bytes], PREFIX_BYTES + bytes.length)
}

export class MessageReader {
  private readonly chunks: Buffer[] = []
  private buffered = 0
  /** The length of the message being read, once its prefix is in. */
  private need: number | undefined

  constructor(private readonly maxBytes = DEFAULT_MAX_MESSAGE_BYTES) {}

  /** The messages completed by this chunk, in order; throws a coded error on a bad prefix. */
  push(chunk: Buffer): Buffer[] {
    if (chunk.length > 0) {
      this.chunks.push(chunk)
      this.buffered += chunk.length
    }
    const out: Buffer[] = []
    for (;;) {
      if (this.need === undefined) {
        if (this.buffered < PREFIX_BYTES) return out
        const prefix = this.take(PREFIX_BYTES)
        const flag = prefix[0]!
        const length = prefix.readUInt32BE(1)
        if (flag === 1)
          throw new AmbientError(GrpcClientErrorCode.compressed, 'compressed message, but no compression was negotiated', {
            side: 'upstream',
          })
        if (flag !== 0) throw new AmbientError(GrpcClientErrorCode.badFlag, `message flag ${flag} is neither 0 nor 1`, { side: 'upstream' })
        if (length > this.maxBytes)
          throw new AmbientError(GrpcClientErrorCode.tooLarge, `message of ${length} bytes is over the limit of ${this.maxBytes}`, {
            side: 'upstream',
          })
        this.need = length
      }
      if (this.buffered < this.need) return out
      out.push(this.take(this.need))
      this.need = undefined
    }
  }

  /** Throws if the stream ended inside a message. */
  end(): void {
    if (this.buffered > 0 || this.need !== undefined)
      throw new AmbientError(GrpcClientErrorCode.truncated, `stream ended inside a message (${this.buffered} bytes buffered)`, {
        side: 'upstream',
      })
  }

  private take(n: number): Buffer {
    this.buffered -= n
    const first = this.chunks[0]
    if (n === 0) return Buffer.alloc(0)
    if (first !== undefined && first.length >= n) {
      if (first.length === n) this.chunks.shift()
      else this.chunks[0] = first.subarray(n)
      return first.subarray(0, n)
    }
    const out = Buffer.allocUnsafe(n)
    let at = 0
    while (at < n) {
      const c = this.chunks[0]!
      const k = Math.min(c.length, n - at)
      c.copy(out, at, 0, k)
      at += k
      if (k === c.length) this.chunks.shift()
      else this.chunks[0] = c.subarray(k)
    }
    return out
  }
}
