// The bench's server-pod application, shared by workers/http-server.ts and workers/compare-apps.ts:
// an HTTP/1.1 keep-alive server answering every request with a fixed body, and the set of open
// sockets that its close() destroys.
import http from 'node:http'
import type net from 'node:net'

/** The sockets a worker's servers accepted, so close() can end them. */
export interface OpenSockets {
  track(s: net.Socket): void
  destroyAll(): void
}

export function openSockets(): OpenSockets {
  const sockets = new Set<net.Socket>()
  return {
    track(s) {
      sockets.add(s)
      s.once('close', () => sockets.delete(s))
      s.on('error', () => s.destroy())
    },
    destroyAll() {
      for (const s of sockets) s.destroy()
    },
  }
}

/** An HTTP/1.1 keep-alive server answering every request with `bodyBytes` bytes of 'x'; its connections go to `sockets`. */
export function appServer(bodyBytes: number, sockets: OpenSockets): http.Server {
  const body = Buffer.alloc(bodyBytes, 0x78)
  const headers = { 'content-type': 'application/octet-stream', 'content-length': String(body.length) }
  const server = http.createServer({ keepAlive: true, noDelay: true }, (req, res) => {
    // Drain the (empty) request body, then answer.
    req.resume()
    res.writeHead(200, headers)
    res.end(body)
  })
  server.keepAliveTimeout = 120_000
  server.headersTimeout = 130_000
  server.requestTimeout = 0
  server.on('connection', (s: net.Socket) => sockets.track(s))
  return server
}
