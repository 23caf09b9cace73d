// A GrpcServerCall with no socket: the test or benchmark plays the client (send, halfClose, cancel)
// and reads what the handler wrote. For driving a server handler's own work in-process (unit tests
// of the Delta ADS server, bench:istiod's push cost).
import type { GrpcFields, GrpcStatus } from './grpc/status.js'
import type { GrpcCallReader, GrpcServerCall } from './grpc-server-call.js'

export interface MemoryCallOptions {
  readonly path: string
  readonly metadata: GrpcFields
  readonly peer: string
  /** Keep each written message (joined); otherwise only count them. */
  readonly keep?: boolean
}

export class MemoryServerCall implements GrpcServerCall {
  readonly path: string
  readonly metadata: GrpcFields
  readonly peer: string
  /** Messages the handler wrote, and their bytes. */
  messages = 0
  bytes = 0
  /** The written messages, when kept. */
  readonly kept: Buffer[] = []
  /** The handler's status, once it ended the call. */
  status: GrpcStatus | undefined
  #cancelled = false
  #reader: GrpcCallReader | undefined
  readonly #queued: Buffer[] = []
  readonly #cancels: ((reason: string) => void)[] = []
  readonly #keep: boolean

  constructor(options: MemoryCallOptions) {
    this.path = options.path
    this.metadata = options.metadata
    this.peer = options.peer
    this.#keep = options.keep ?? false
  }

  get ended(): boolean {
    return this.status !== undefined || this.#cancelled
  }

  read(reader: GrpcCallReader): void {
    this.#reader ??= reader
    for (const m of this.#queued.splice(0)) if (!this.ended) reader.onMessage(m)
  }

  onCancel(fn: (reason: string) => void): void {
    if (!this.ended) this.#cancels.push(fn)
  }

  write(parts: Uint8Array | readonly Uint8Array[]): boolean {
    if (this.ended) return false
    const list = parts instanceof Uint8Array ? [parts] : parts
    this.messages++
    for (const p of list) this.bytes += p.length
    if (this.#keep) this.kept.push(Buffer.concat(list))
    return true
  }

  end(status: GrpcStatus): void {
    if (!this.ended) this.status = status
  }

  /** The client sends a message: delivered now if the handler reads, else when it starts to. */
  send(bytes: Uint8Array): void {
    if (this.ended) return
    const b = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength)
    if (this.#reader === undefined) this.#queued.push(b)
    else this.#reader.onMessage(b)
  }

  halfClose(): void {
    if (!this.ended) this.#reader?.onHalfClose()
  }

  /** The client resets the stream. */
  cancel(reason = 'cancelled by the client'): void {
    if (this.ended) return
    this.#cancelled = true
    for (const fn of this.#cancels.splice(0)) fn(reason)
  }
}
