// The server pod's application for `bench:ztunnel`, as its own process bound to the pod-local address
// (like a container in the pod): an HTTP/1.1 keep-alive server answering every request with a fixed
// 1 KiB body, and a sink for the bulk transfer (8-byte big-endian length L, L bytes, one byte back).
import { closeServer, createTcpServer, listen } from '../../net/listen.js'
import { serveSink } from '../sink.js'
import { appServer, openSockets } from './app-server.js'
import { serveWorker } from './ipc.js'

export interface HttpServerConfig {
  host: string
  httpPort: number
  sinkPort: number
  bodyBytes: number
}

serveWorker<HttpServerConfig>(async (config) => {
  const sockets = openSockets()
  const server = appServer(config.bodyBytes, sockets)

  const sink = createTcpServer((s) => {
    sockets.track(s)
    serveSink(s)
  })
  const a = await listen(server, { host: config.host, port: config.httpPort })
  const b = await listen(sink, { host: config.host, port: config.sinkPort })
  return {
    ports: [a.port, b.port],
    async close() {
      sockets.destroyAll()
      await Promise.all([closeServer(server), closeServer(sink)])
    },
  }
})
