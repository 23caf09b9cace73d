// Did an HTTP/2 stream's readable side end because the peer sent END_STREAM, or because the stream
// was closed under it?
//
// Only the first is a clean end of a tunnel (RFC 9113 §8.5: a CONNECT tunnel ends with END_STREAM;
// anything else is a reset). Node 20 ends the readable side ('end') in both cases: on a frame flagged
// END_STREAM, and when the stream is closed without one, i.e. an RST_STREAM of any code (NO_ERROR
// too), the session's socket going away (Node closes each stream with CANCEL, no error), or a local
// destroy. In the second case 'end' can come before 'close' and without an error (measured: GOAWAY,
// the socket closes, then 'end' with rstCode 8, then 'close'), and once both have happened the two
// cases look alike (readableEnded, rstCode NO_ERROR after an RST_STREAM(NO_ERROR)).
//
// What tells them apart is the moment the readable side ends: Node pushes the end of data (push(null))
// for a received END_STREAM while the stream is still open, and only after it marked the stream
// closed in every other case. trackEndStream() records which, and must run before any frame of the
// stream is read: at creation (session.request(), the server's 'stream' event).
import type { Http2Stream } from 'node:http2'

const tracked = new WeakSet<Http2Stream>()
const endedByPeer = new WeakSet<Http2Stream>()

/** Starts recording whether `stream` receives the peer's END_STREAM. Idempotent. */
export function trackEndStream(stream: Http2Stream): void {
  if (tracked.has(stream)) return
  tracked.add(stream)
  // Tracked late (by a caller that got an already ended stream): an open stream can only have ended
  // by the peer's END_STREAM.
  if (readableEnded(stream) && isOpen(stream)) endedByPeer.add(stream)
  const push = stream.push
  stream.push = function (this: Http2Stream, chunk: unknown, encoding?: BufferEncoding): boolean {
    if (chunk === null && isOpen(stream) && !readableEnded(stream)) endedByPeer.add(stream)
    return push.call(this, chunk, encoding)
  }
}

/**
 * True once the peer's END_STREAM was received. Undefined for a stream nobody tracked (the caller
 * then knows no more than Node's events say).
 */
export function peerEndedStream(stream: Http2Stream): boolean | undefined {
  if (!tracked.has(stream)) return undefined
  return endedByPeer.has(stream)
}

function isOpen(stream: Http2Stream): boolean {
  return !stream.closed && !stream.destroyed
}

/** The readable side has ended (its end of data is queued, whether or not 'end' was emitted yet). */
function readableEnded(stream: Http2Stream): boolean {
  return stream.readableEnded || (stream as { _readableState?: { ended?: boolean } })._readableState?.ended === true
}
