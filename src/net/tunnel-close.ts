// Closing a connection we are done with, when it may be a socket or an HBONE tunnel's stream (our
// HTTP/1.1 codec reads and writes both directly). On a tunnel, a plain close is END_STREAM and only
// an error is a reset: resets count against the peer's guard against rapid resets, and
// Http2Stream.destroy() without an error would send RST_STREAM(NO_ERROR). After END_STREAM what the
// peer still sends is read and dropped, so its own END_STREAM completes the stream. A socket is
// destroyed, as before.
import type { Duplex } from 'node:stream'
import { isHttp2Stream, reset } from './pipe.js'

/** Closes `connection`: a reset of a tunnel when `err` is given, else END_STREAM; a socket is destroyed. */
export function closeConnection(connection: Duplex, err?: Error): void {
  if (!isHttp2Stream(connection)) {
    connection.destroy(err)
    return
  }
  if (err !== undefined) return reset(connection)
  if (!connection.destroyed && !connection.writableEnded) connection.end()
  connection.resume()
}
