// One gRPC call on istiod's side, over a node:http2 server stream: length-prefixed request messages
// in (./grpc/framing.ts's reader, with the server's receive limit), responses out, the status
// in trailers, or in the headers of a trailers-only response when nothing was sent.
//
// A response message goes out as its 5-byte prefix followed by the caller's parts as they are,
// paced (./stream-pacer.ts: at most PACED_AHEAD_BYTES ahead of the socket, so istiod does not hold
// every syncing client's whole response as ciphertext at once): the Delta ADS server's sync body,
// shared by every client, is never copied into a per-client message.
//
// Every call ends once: with the handler's status (end), or without it (onCancel's reason): the
// client reset the stream or went away, or the deadline passed (then DEADLINE_EXCEEDED is sent).
// Nothing is read before the handler asks (read): a handler that first authenticates holds the
// request messages back in HTTP/2 flow control.
import type { ServerHttp2Stream } from 'node:http2'
import { errorCode, errorMessage } from '../errors.js'
import { GrpcCode } from './grpc/codes.js'
import { GrpcClientErrorCode } from './grpc/errors.js'
import { MessageReader, messagePrefix } from './grpc/framing.js'
import { encodeGrpcMessage, type GrpcFields, type GrpcStatus } from './grpc/status.js'
import { createStreamPacer } from './stream-pacer.js'

export interface GrpcCallReader {
  onMessage(bytes: Buffer): void
  /** The client half-closed: no message follows. */
  onHalfClose(): void
}

export interface GrpcServerCall {
  /** `/package.Service/Method`. */
  readonly path: string
  /** The request headers (lower-case names): the caller's metadata. */
  readonly metadata: GrpcFields
  /** The client's `ip:port` (IPv6 bracketed). */
  readonly peer: string
  /** True once the call has ended, either way. */
  readonly ended: boolean
  /** Starts reading request messages (once). */
  read(reader: GrpcCallReader): void
  /** Called once if the call ends without end(): reset or lost by the client, or past its deadline. */
  onCancel(fn: (reason: string) => void): void
  /** Sends one message made of `parts` in order; false once the call has ended. */
  write(parts: Uint8Array | readonly Uint8Array[]): boolean
  /** Ends the call with `status` (no-op once ended). */
  end(status: GrpcStatus): void
}

export interface ServerCallOptions {
  readonly path: string
  readonly peer: string
  readonly maxReceiveBytes: number
  /** From `grpc-timeout`; unset: no deadline. */
  readonly timeoutMs: number | undefined
  /** Response bytes written ahead of the socket (./stream-pacer.ts). Default PACED_AHEAD_BYTES. */
  readonly paceAheadBytes?: number
}

const RESPONSE_HEADERS = { ':status': 200, 'content-type': 'application/grpc' }

/** The fields that carry a status (trailers, or a trailers-only response's headers). */
export function statusFields(status: GrpcStatus): Record<string, string> {
  const fields: Record<string, string> = { 'grpc-status': String(status.code) }
  if (status.details !== '') fields['grpc-message'] = encodeGrpcMessage(status.details)
  return fields
}

/** The status a request that does not frame ends with. */
function framingStatus(err: unknown): GrpcStatus {
  const code = errorCode(err) === GrpcClientErrorCode.tooLarge ? GrpcCode.RESOURCE_EXHAUSTED : GrpcCode.INTERNAL
  return { code, details: errorMessage(err) }
}

export function startServerCall(stream: ServerHttp2Stream, headers: GrpcFields, options: ServerCallOptions): GrpcServerCall {
  let ended = false
  let responded = false
  let reading = false
  const cancels: ((reason: string) => void)[] = []
  let timer: NodeJS.Timeout | undefined
  const pacer = createStreamPacer(stream, options.paceAheadBytes)

  const cancelled = (reason: string) => {
    if (ended) return
    ended = true
    if (timer !== undefined) clearTimeout(timer)
    for (const fn of cancels.splice(0)) fn(reason)
  }
  const send = (status: GrpcStatus) => {
    if (stream.destroyed || stream.closed) return
    if (!responded) {
      responded = true
      stream.respond({ ...RESPONSE_HEADERS, ...statusFields(status) }, { endStream: true })
      return
    }
    pacer.flushed(() => {
      if (stream.destroyed || stream.closed) return
      stream.once('wantTrailers', () => {
        try {
          stream.sendTrailers(statusFields(status))
        } catch {
          // The stream went away while the last messages were written: no one to tell.
        }
      })
      stream.end()
    })
  }
  const end = (status: GrpcStatus) => {
    if (ended) return
    ended = true
    if (timer !== undefined) clearTimeout(timer)
    send(status)
  }

  stream.on('error', () => undefined) // the close that follows ends the call
  stream.on('close', () => cancelled(`stream closed by the client (RST_STREAM code ${stream.rstCode ?? 0})`))
  if (options.timeoutMs !== undefined) {
    timer = setTimeout(() => {
      const details = `deadline of ${options.timeoutMs} ms exceeded`
      cancelled(details)
      send({ code: GrpcCode.DEADLINE_EXCEEDED, details })
    }, options.timeoutMs)
    timer.unref()
  }

  return {
    path: options.path,
    metadata: headers,
    peer: options.peer,
    get ended() {
      return ended
    },
    read(reader) {
      if (reading) return
      reading = true
      const messages = new MessageReader(options.maxReceiveBytes)
      stream.on('data', (chunk: Buffer) => {
        if (ended) return // a client still sending after its status: dropped
        let complete: Buffer[]
        try {
          complete = messages.push(chunk)
        } catch (err) {
          const status = framingStatus(err)
          cancelled(status.details)
          return send(status)
        }
        for (const m of complete) if (!ended) reader.onMessage(m)
      })
      stream.on('end', () => {
        if (ended) return
        try {
          messages.end()
        } catch (err) {
          const status = framingStatus(err)
          cancelled(status.details)
          return send(status)
        }
        reader.onHalfClose()
      })
    },
    onCancel(fn) {
      if (!ended) cancels.push(fn)
    },
    write(parts) {
      if (ended || stream.destroyed || stream.closed) return false
      if (!responded) {
        responded = true
        stream.respond(RESPONSE_HEADERS, { waitForTrailers: true })
      }
      const list = parts instanceof Uint8Array ? [parts] : parts
      let length = 0
      for (const p of list) length += p.length
      pacer.write([messagePrefix(length), ...list])
      return true
    },
    end,
  }
}
