// A tunnel stream dressed as a socket, so that node:http and node:http2 can serve or send requests
// over an HBONE CONNECT stream (the waypoint terminates the tunnel and speaks HTTP inside it).
//
// Why not hand the Http2Stream to them directly: measured on Node 20.20, node:http's client and
// server write their head as a latin1 string through the stream's writev, and an Http2Stream sends
// garbage for it (the bytes of a freed buffer: the server saw `-\n\x8d=\0…` instead of `POST /x0`).
// Writing Buffers only, as this adapter does, is correct. node:http also calls socket methods an
// Http2Stream lacks (setKeepAlive, ref, unref), which are no-ops here: the tunnel's HBONE
// connection has its own keepalive. Our HTTP/1.1 codec, both ends (./http1-downstream.ts,
// ./http1-upstream.ts), writes Buffers only and takes the Http2Stream itself (closing it with
// ../net/tunnel-close.ts, which keeps what a close means here): this adapter is made only where
// node:http or node:http2 takes a tunnel (a hand-over, an h2 tunnel, the TCP proxy), one Duplex
// fewer per chunk each way on the common path.
//
// `head` carries bytes already read from the stream (protocol sniffing) back in front.
import type { Duplex } from 'node:stream'
import { Duplex as DuplexBase } from 'node:stream'
import { reset } from '../net/pipe.js'

export class StreamSocket extends DuplexBase {
  readonly inner: Duplex
  readonly remoteAddress: string | undefined
  readonly remotePort: number | undefined
  readonly encrypted = false

  constructor(inner: Duplex, options: { head?: Buffer; remoteAddress?: string; remotePort?: number } = {}) {
    super({ allowHalfOpen: true })
    this.inner = inner
    this.remoteAddress = options.remoteAddress
    this.remotePort = options.remotePort
    if (options.head !== undefined && options.head.length > 0) this.push(options.head)
    inner.on('data', (chunk: Buffer) => {
      if (!this.push(chunk)) inner.pause()
    })
    const onEnd = (): void => void this.push(null)
    if (inner.readableEnded) queueMicrotask(onEnd)
    else inner.on('end', onEnd)
    inner.on('error', (err: Error) => this.destroy(err))
    inner.on('close', () => {
      // The tunnel went away: anything not yet ended here was cut.
      if (!this.destroyed && !(this.readableEnded && this.writableFinished)) this.destroy()
    })
  }

  override _read(): void {
    this.inner.resume()
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (err?: Error | null) => void): void {
    if (this.inner.destroyed) return callback(new Error('tunnel closed'))
    // node:http ends a message with an empty write: no DATA frame for it.
    if (chunk.length === 0) return callback()
    this.inner.write(chunk, (err) => callback(err ?? null))
  }

  // What node:http writes in one go (head and body, corked until the next tick), or what queued
  // while a write was in flight, goes to the tunnel as one write: one DATA frame and one TLS record
  // instead of one per chunk, each waiting for the previous one's completion (an event-loop turn).
  override _writev(chunks: { chunk: Buffer; encoding: BufferEncoding }[], callback: (err?: Error | null) => void): void {
    const chunk = chunks.length === 1 ? chunks[0]!.chunk : Buffer.concat(chunks.map((c) => c.chunk))
    this._write(chunk, chunks[0]?.encoding ?? 'utf8', callback)
  }

  override _final(callback: (err?: Error | null) => void): void {
    if (!this.inner.destroyed && !this.inner.writableEnded) this.inner.end()
    callback()
  }

  override _destroy(err: Error | null, callback: (err?: Error | null) => void): void {
    // An error is a reset of the tunnel; a plain destroy (node:http closing an idle or finished
    // connection) is END_STREAM: resets count against the peer's rapid-reset guard (toolchain.md).
    if (err !== null) reset(this.inner)
    else if (!this.inner.destroyed && !this.inner.writableEnded) this.inner.end()
    callback(err)
  }

  setTimeout(): this {
    return this
  }
  setNoDelay(): this {
    return this
  }
  setKeepAlive(): this {
    return this
  }
  ref(): this {
    return this
  }
  unref(): this {
    return this
  }
}
