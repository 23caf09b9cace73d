// The one bidirectional copy used by every path (ztunnel inbound and outbound, waypoints, sidecars).
//
// Contract:
// - Bytes flow both ways with backpressure: a side that cannot take more pauses the other's reads.
//   The pipe lets up to `maxBufferedBytes` (default PIPE_MAX_BUFFERED_BYTES, 1 MiB) queue in a
//   destination's write buffer before it pauses the source, and resumes it once that buffer drained.
//   Memory per flow is therefore bounded by about 2 × (maxBufferedBytes + one read chunk), one
//   bound per direction. (Pausing at Node's 16 KiB highWaterMark, i.e. whenever write() returns
//   false, stops and restarts the source every 16 KiB; through an HTTP/2 stream that also stalls
//   flow control, and an HBONE tunnel moved 1.9-3.2 Gb/s instead of 3.9-5.1.)
// - Half-close is carried through: a FIN (net.Socket 'end') becomes END_STREAM on an HTTP/2 stream and
//   the reverse; the other direction keeps flowing until it ends too.
// - An abnormal end (a TCP reset, an RST_STREAM with an error code, a local destroy, an error) of one
//   side is turned into a reset of the other side, never into a clean FIN. An HTTP/2 stream ends
//   cleanly only with the peer's END_STREAM: one whose readable side ended because it was closed
//   (any RST_STREAM, NO_ERROR too, or its session going away) is a reset (see end-stream.ts):
//   `socket.resetAndDestroy()` for TCP, RST_STREAM without END_STREAM for HTTP/2 (see resetStream).
// - The first failure is reported as an AmbientError whose side says which peer failed and whose cause
//   is the original error.
// - `done` resolves exactly once, after both sides have closed, and never rejects.
//
// Byte counts use Istio's TCP metric names from the server's point of view: `bytesReceived` went
// downstream → upstream (the request direction), `bytesSent` upstream → downstream.
import net from 'node:net'
import http2 from 'node:http2'
import type { Duplex } from 'node:stream'
import { AmbientError } from '../errors.js'
import type { ErrorSide } from '../errors.js'
import { peerEndedStream, trackEndStream } from './end-stream.js'

export const PipeErrorCode = {
  downstream: 'PIPE_DOWNSTREAM_FAILED',
  upstream: 'PIPE_UPSTREAM_FAILED',
  aborted: 'PIPE_ABORTED',
} as const

/** A net.Socket (or TLSSocket) or an Http2Stream. */
export type PipeEnd = Duplex

export interface PipeResult {
  /** upstream → downstream. */
  readonly bytesSent: number
  /** downstream → upstream. */
  readonly bytesReceived: number
  readonly error?: AmbientError
}

export interface Pipe {
  readonly done: Promise<PipeResult>
  readonly bytesSent: number
  readonly bytesReceived: number
  /** Resets both sides (e.g. a policy change or a drain deadline); `reason` becomes the result's error. */
  abort(reason?: AmbientError): void
}

export interface PipeOptions {
  /**
   * Per direction: bytes a destination may hold unsent (its writableLength) before the pipe pauses
   * the source. Values under the destination's highWaterMark (16 KiB) pause whenever write() returns
   * false. Default PIPE_MAX_BUFFERED_BYTES.
   */
  readonly maxBufferedBytes?: number
}

/**
 * 1 MiB per direction, so at most ~2 MiB (+ two read chunks of ≤ 64 KiB) of user data held per flow
 * in our process, whatever the peers do. An HTTP/2 stream's window (4 MiB) bounds what a peer can
 * push at us, not what we queue towards a slow peer: this does.
 */
export const PIPE_MAX_BUFFERED_BYTES = 1024 * 1024

const { NGHTTP2_NO_ERROR, NGHTTP2_CONNECT_ERROR } = http2.constants

type Side = Extract<ErrorSide, 'downstream' | 'upstream'>

interface End {
  readonly side: Side
  readonly stream: Duplex
  closed: boolean
}

export function pipe(downstream: PipeEnd, upstream: PipeEnd, options: PipeOptions = {}): Pipe {
  const maxBuffered = options.maxBufferedBytes ?? PIPE_MAX_BUFFERED_BYTES
  let bytesSent = 0
  let bytesReceived = 0
  let error: AmbientError | undefined
  let failed = false
  let resolveDone!: (result: PipeResult) => void
  const done = new Promise<PipeResult>((resolve) => {
    resolveDone = resolve
  })

  const down: End = { side: 'downstream', stream: downstream, closed: false }
  const up: End = { side: 'upstream', stream: upstream, closed: false }

  const finishIfClosed = (): void => {
    if (!down.closed || !up.closed) return
    resolveDone(error === undefined ? { bytesSent, bytesReceived } : { bytesSent, bytesReceived, error })
  }

  // One side failed: record why (first failure wins), then reset both so that each peer learns of it.
  const fail = (reason: AmbientError): void => {
    if (failed) return
    failed = true
    error = reason
    reset(down.stream)
    reset(up.stream)
  }

  const watch = (end: End, other: End, count: (n: number) => void): void => {
    const { stream } = end
    if (stream instanceof net.Socket) stream.allowHalfOpen = true
    // Usually tracked since creation (client.ts, server.ts); a no-op then.
    if (isHttp2Stream(stream)) trackEndStream(stream)
    stream.on('error', (err: Error) => fail(sideError(end.side, err)))
    // 'aborted' (HTTP/2 only): the peer reset the stream before we finished writing to it.
    if (!(stream instanceof net.Socket)) stream.on('aborted', () => fail(sideError(end.side, undefined)))
    stream.on('close', () => {
      end.closed = true
      if (!failed && !closedCleanly(stream)) fail(sideError(end.side, undefined, closeCode(stream)))
      finishIfClosed()
    })
    let waitingForDrain = false
    const onDrain = (): void => {
      waitingForDrain = false
      stream.resume()
    }
    // The half-close of `other`, once this side ended and other's queued writes are handed over.
    let endWhenWritten = false
    const endOther = (): void => {
      const dst = other.stream
      if (!dst.destroyed && !dst.writableEnded) dst.end()
    }
    const written = (): void => {
      if (endWhenWritten && other.stream.writableLength === 0) {
        endWhenWritten = false
        endOther()
      }
    }
    stream.on('data', (chunk: Buffer) => {
      const dst = other.stream
      if (dst.destroyed || dst.writableEnded) return
      count(chunk.length)
      // write() returns false from the 16 KiB highWaterMark on; we keep writing up to our own bound.
      // Past it, write() has returned false, so 'drain' comes once the buffer is empty.
      if (!dst.write(chunk, written) && !waitingForDrain && dst.writableLength >= maxBuffered) {
        waitingForDrain = true
        stream.pause()
        dst.once('drain', onDrain)
      }
    })
    // A FIN or END_STREAM: half-close the other side. A stream that ended before we attached
    // (a CONNECT whose client half-closed at once) emits no 'end' any more: check readableEnded.
    //
    // An HTTP/2 destination is ended only once its queued writes are handed over. Otherwise Node
    // (20) sends END_STREAM with the last queued DATA frame, the stream closes when the peer had
    // already ended, and it is destroyed before that write's callback: 'close' comes with
    // writableFinished false, rstCode NO_ERROR, and a clean tunnel would read as reset. Writing up
    // to maxBufferedBytes ahead makes that likely (measured: 1 run in 3 of the 6 MiB echo test).
    const halfClose = (): void => {
      // Ended because it was closed, not by the peer's END_STREAM: a reset, whatever 'close' says later.
      if (endedWithoutEndStream(stream)) return fail(sideError(end.side, stream.errored ?? undefined, closeCode(stream)))
      const dst = other.stream
      if (isHttp2Stream(dst) && dst.writableLength > 0) endWhenWritten = true
      else endOther()
    }
    if (stream.readableEnded) halfClose()
    else stream.on('end', halfClose)
    if (stream.destroyed)
      queueMicrotask(() => {
        if (end.closed) return
        end.closed = true
        if (!closedCleanly(stream)) fail(sideError(end.side, stream.errored ?? undefined))
        finishIfClosed()
      })
  }

  watch(down, up, (n) => {
    bytesReceived += n
  })
  watch(up, down, (n) => {
    bytesSent += n
  })

  return {
    done,
    get bytesSent() {
      return bytesSent
    },
    get bytesReceived() {
      return bytesReceived
    },
    abort(reason) {
      fail(reason ?? new AmbientError(PipeErrorCode.aborted, 'flow aborted', { side: 'internal' }))
    },
  }
}

/** A side closed cleanly when it both ended (FIN / END_STREAM received) and finished writing. */
function closedCleanly(stream: Duplex): boolean {
  if (stream.errored) return false
  if (isHttp2Stream(stream) && stream.rstCode !== undefined && stream.rstCode !== NGHTTP2_NO_ERROR) return false
  return stream.readableEnded && stream.writableFinished && !endedWithoutEndStream(stream)
}

/** An HTTP/2 stream whose readable side ended without the peer's END_STREAM (false when unknown). */
export function endedWithoutEndStream(stream: Duplex): boolean {
  return isHttp2Stream(stream) && peerEndedStream(stream) === false
}

function closeCode(stream: Duplex): number | undefined {
  return isHttp2Stream(stream) && (stream.closed || stream.destroyed) ? stream.rstCode : undefined
}

/** An HBONE tunnel's stream (or any HTTP/2 stream) rather than a socket. */
export function isHttp2Stream(stream: Duplex): stream is http2.Http2Stream {
  return 'rstCode' in stream && 'session' in stream
}

/**
 * Resets a side so that its peer sees a reset, not a clean end.
 *
 * TCP: RST (`resetAndDestroy`). HTTP/2: `Http2Stream.close(code)` first calls `end()`, which sends
 * DATA(END_STREAM) before the RST_STREAM, and a peer that forwards END_STREAM as FIN would report a
 * clean close (measured on Node 20: the peer sees 'end' before the stream error). So:
 * - when our END_STREAM is already out, `close(CONNECT_ERROR)` adds only the RST_STREAM
 *   (RFC 9113 §8.5: CONNECT_ERROR for an abnormally closed tunnel);
 * - otherwise `destroy(err)` sends RST_STREAM(INTERNAL_ERROR) without END_STREAM (Node does not let
 *   us pick the code on that path).
 */
export function reset(stream: Duplex): void {
  if (stream.destroyed) return
  if (stream instanceof net.Socket) {
    // resetAndDestroy() needs a TCP handle: a TLSSocket's handle is a TLSWrap and Node throws
    // ERR_INVALID_HANDLE_TYPE, so a TLS leg can only be destroyed (its peer sees the close).
    // Nor while its FIN is queued (end() called, not finished): libuv refuses SO_LINGER during a
    // pending shutdown, and Node 20 then emits 'error' (EINVAL), drops the handle unclosed and never
    // emits 'close' (measured: the peer hung until its keepalive). Closing it is all that is left.
    if (stream.connecting || stream.pending || (stream as { encrypted?: boolean }).encrypted === true) stream.destroy()
    else if (stream.writableEnded && !stream.writableFinished) stream.destroy()
    else stream.resetAndDestroy()
    return
  }
  if (isHttp2Stream(stream)) {
    if (stream.writableEnded) stream.close(NGHTTP2_CONNECT_ERROR)
    else stream.destroy(new AmbientError(PipeErrorCode.aborted, 'tunnel reset', { side: 'internal' }))
    return
  }
  stream.destroy()
}

function sideError(side: Side, cause: unknown, rstCode?: number): AmbientError {
  const code = side === 'downstream' ? PipeErrorCode.downstream : PipeErrorCode.upstream
  const why =
    cause instanceof Error
      ? cause.message
      : `closed abnormally (reset or aborted${rstCode === undefined ? '' : `, RST_STREAM code ${rstCode}`})`
  return new AmbientError(code, `${side} ${why}`, cause === undefined ? { side } : { side, cause })
}
