// The server pod's application for `bench:ztunnel`, as its own process bound to the pod-local address
// (like a container in the pod): an HTTP/1.1 keep-alive server answering every request with a fixed
// 1 KiB body, and a sink for the bulk transfer (8-byte big-endian length L, L bytes, one byte back).
import http from 'node:http'
import type net from 'node:net'
import { closeServer, createTcpServer, listen } from '../../net/listen.js'
import { serveSink } from '../sink.js'
import { serveWorker } from './ipc.js'

export interface HttpServerConfig {
  host: string
  httpPort: number
  sinkPort: number
  bodyBytes: number
}

serveWorker<HttpServerConfig>(async (config) => {
  const body = Buffer.alloc(config.bodyBytes, 0x78)
  const headers = { 'content-type': 'application/octet-stream', 'content-length': String(body.length) }
  const sockets = new Set<net.Socket>()
  const track = (s: net.Socket): void => {
    sockets.add(s)
    s.once('close', () => sockets.delete(s))
    s.on('error', () => s.destroy())
  }
  const server = http.createServer({ keepAlive: true, noDelay: true }, (req, res) => {
    // Drain the (empty) request body, then answer.
    req.resume()
    res.writeHead(200, headers)
    res.end(body)
  })
  server.keepAliveTimeout = 120_000
  server.headersTimeout = 130_000
  server.requestTimeout = 0
  server.on('connection', track)

  const sink = createTcpServer((s) => {
    track(s)
    serveSink(s)
  })
  const a = await listen(server, { host: config.host, port: config.httpPort })
  const b = await listen(sink, { host: config.host, port: config.sinkPort })
  return {
    ports: [a.port, b.port],
    async close() {
      for (const s of sockets) s.destroy()
      await Promise.all([closeServer(server), closeServer(sink)])
    },
  }
})
