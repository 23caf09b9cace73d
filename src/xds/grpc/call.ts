// One gRPC call on an HTTP/2 session (gRPC over HTTP/2): a POST with `content-type:
// application/grpc`, `te: trailers`, the caller's metadata as headers and, for a deadline,
// `grpc-timeout`; length-prefixed messages both ways (./framing.ts); the status from the trailers,
// from a trailers-only response's headers, or from the HTTP status (./status.ts).
//
// Every call ends exactly once, with a status: the server's, or one of ours — a stream reset,
// GOAWAY or socket error is UNAVAILABLE (CANCELLED when we cancelled), a bad message prefix is
// INTERNAL (RESOURCE_EXHAUSTED when over the size limit), a deadline is DEADLINE_EXCEEDED. Ending
// early (cancel, deadline, bad prefix) resets the stream with CANCEL.
import { constants, type ClientHttp2Session, type ClientHttp2Stream } from 'node:http2'
import { errorCode, errorMessage } from '../../errors.js'
import { GrpcCode } from './codes.js'
import { GrpcClientErrorCode } from './errors.js'
import { encodeMessage, MessageReader } from './framing.js'
import { statusFromFields, type GrpcStatus } from './status.js'
import { encodeGrpcTimeout } from './timeout.js'

export interface CallOptions {
  /** `/package.Service/Method`. */
  readonly path: string
  /** Custom metadata (lower-case names): `authorization`, `clusterid`. */
  readonly metadata?: Readonly<Record<string, string>>
  /** The call's deadline, from now; unset: none. */
  readonly timeoutMs?: number
  readonly maxMessageBytes?: number
}

export interface CallHandlers {
  onMessage(bytes: Buffer): void
  /** Called once; no message follows. */
  onStatus(status: GrpcStatus): void
}

export interface GrpcCall {
  /** Sends one message (false once the call has ended). */
  write(bytes: Uint8Array): boolean
  /** Half-closes: no more messages from us. */
  end(): void
  /** Ends the call with CANCELLED and resets the stream. */
  cancel(): void
  readonly ended: boolean
}

export function startCall(session: ClientHttp2Session, options: CallOptions, handlers: CallHandlers): GrpcCall {
  const reader = new MessageReader(options.maxMessageBytes)
  let ended = false
  let cancelled = false
  let httpStatus = 0
  let timer: NodeJS.Timeout | undefined

  const finish = (status: GrpcStatus, reset: boolean) => {
    if (ended) return
    ended = true
    if (timer !== undefined) clearTimeout(timer)
    session.off('close', onSessionClosed)
    if (reset && !stream.closed) stream.close(constants.NGHTTP2_CANCEL)
    handlers.onStatus(status)
  }
  const onSessionClosed = () => finish({ code: GrpcCode.UNAVAILABLE, details: 'connection to the server closed' }, false)

  const headers: Record<string, string> = {
    ':method': 'POST',
    ':path': options.path,
    'content-type': 'application/grpc',
    te: 'trailers',
    ...options.metadata,
  }
  if (options.timeoutMs !== undefined && options.timeoutMs > 0) headers['grpc-timeout'] = encodeGrpcTimeout(options.timeoutMs)
  let stream: ClientHttp2Stream
  try {
    stream = session.request(headers, { endStream: false })
  } catch (err) {
    // The session is closing or destroyed: nothing was sent.
    queueMicrotask(() => handlers.onStatus({ code: GrpcCode.UNAVAILABLE, details: errorMessage(err), cause: err }))
    return { write: () => false, end: () => undefined, cancel: () => undefined, ended: true }
  }
  session.once('close', onSessionClosed)

  stream.on('response', (fields) => {
    httpStatus = Number(fields[':status'])
    // A trailers-only response (or a non-gRPC answer) ends the call here.
    if (fields['grpc-status'] !== undefined || httpStatus !== 200) finish(statusFromFields(httpStatus, fields), true)
  })
  stream.on('data', (chunk: Buffer) => {
    if (ended) return
    let messages: Buffer[]
    try {
      messages = reader.push(chunk)
    } catch (err) {
      const code = errorCode(err) === GrpcClientErrorCode.tooLarge ? GrpcCode.RESOURCE_EXHAUSTED : GrpcCode.INTERNAL
      return finish({ code, details: errorMessage(err), cause: err }, true)
    }
    for (const m of messages) if (!ended) handlers.onMessage(m)
  })
  stream.on('trailers', (fields) => {
    if (ended) return
    try {
      reader.end()
    } catch (err) {
      return finish({ code: GrpcCode.INTERNAL, details: errorMessage(err), cause: err }, false)
    }
    finish(statusFromFields(httpStatus, fields), false)
  })
  stream.on('error', (err) => {
    finish(
      cancelled
        ? { code: GrpcCode.CANCELLED, details: 'cancelled' }
        : { code: GrpcCode.UNAVAILABLE, details: errorMessage(err), cause: err },
      false,
    )
  })
  stream.on('close', () => {
    if (cancelled) return finish({ code: GrpcCode.CANCELLED, details: 'cancelled' }, false)
    if (stream.rstCode !== undefined && stream.rstCode !== constants.NGHTTP2_NO_ERROR)
      return finish({ code: GrpcCode.UNAVAILABLE, details: `stream reset (RST_STREAM code ${stream.rstCode})` }, false)
    // Closed under us (the session went away) before the server ended the stream.
    if (httpStatus === 0 || !stream.readableEnded)
      return finish({ code: GrpcCode.UNAVAILABLE, details: 'stream closed before the server ended it' }, false)
    // The server ended the stream without trailers: no status was sent.
    finish(statusFromFields(httpStatus, {}), false)
  })
  stream.resume()
  if (options.timeoutMs !== undefined) {
    // A deadline already past still opens the stream (without grpc-timeout) and resets it at once.
    timer = setTimeout(
      () => finish({ code: GrpcCode.DEADLINE_EXCEEDED, details: `deadline of ${options.timeoutMs} ms exceeded` }, true),
      Math.max(0, options.timeoutMs),
    )
  }

  return {
    write(bytes) {
      if (ended || stream.closed || stream.writableEnded) return false
      stream.write(encodeMessage(bytes))
      return true
    },
    end() {
      if (!ended && !stream.writableEnded) stream.end()
    },
    cancel() {
      if (ended) return
      cancelled = true
      finish({ code: GrpcCode.CANCELLED, details: 'cancelled' }, true)
    },
    get ended() {
      return ended
    },
  }
}
