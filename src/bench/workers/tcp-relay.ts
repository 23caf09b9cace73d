// A plain Node TCP relay, the baseline HBONE is compared with: one listener per target, each accepted
// socket connected to its target and joined with the project's one pipe (src/net/pipe.ts), so that
// the only difference from the HBONE pair is the tunnel itself.
import type net from 'node:net'
import { connectTcp, createTcpServer, listen, closeServer } from '../../net/listen.js'
import { pipe, reset } from '../../net/pipe.js'
import { serveWorker } from './ipc.js'

export interface TcpRelayConfig {
  targets: { host: string; port: number }[]
}

serveWorker<TcpRelayConfig>(async (config) => {
  const servers: net.Server[] = []
  const sockets = new Set<net.Socket>()
  for (const target of config.targets) {
    const server = createTcpServer((downstream) => {
      sockets.add(downstream)
      downstream.once('close', () => sockets.delete(downstream))
      downstream.on('error', () => undefined) // the pipe reports errors once it is attached
      connectTcp({ host: target.host, port: target.port, connectTimeoutMs: 5000 }).then(
        (upstream) => {
          sockets.add(upstream)
          upstream.once('close', () => sockets.delete(upstream))
          void pipe(downstream, upstream).done
        },
        () => reset(downstream),
      )
    })
    await listen(server, { host: '127.0.0.1', port: 0 })
    servers.push(server)
  }
  return {
    ports: servers.map((s) => (s.address() as net.AddressInfo).port),
    async close() {
      for (const s of sockets) s.destroy()
      await Promise.all(servers.map(closeServer))
    },
  }
})
