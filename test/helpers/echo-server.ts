// A TCP target for tunnel tests: echoes bytes, keeps half-close (answers a FIN with the rest of the
// echo then its own FIN), records how each connection ended (clean FIN or reset).
import type net from 'node:net'
import { closeServer, createTcpServer, listen } from '../../src/net/listen.js'

export type EchoEnding = 'fin' | 'reset' | 'open'

export interface EchoConnection {
  readonly socket: net.Socket
  bytes: number
  ending: EchoEnding
}

export interface EchoServer {
  readonly host: string
  readonly port: number
  readonly connections: EchoConnection[]
  /** Connections accepted and not yet closed. */
  open(): number
  close(): Promise<void>
}

export async function startEchoServer(
  host = '127.0.0.1',
  options: {
    echo?: boolean
    endOnFin?: boolean
    port?: number
    /** Listen on this socket, made elsewhere (inside a pod's network namespace), instead of host:port. */
    fd?: number
  } = {},
): Promise<EchoServer> {
  const connections: EchoConnection[] = []
  const sockets = new Set<net.Socket>()
  const server = createTcpServer((socket) => {
    const conn: EchoConnection = { socket, bytes: 0, ending: 'open' }
    connections.push(conn)
    sockets.add(socket)
    socket.on('data', (chunk: Buffer) => {
      conn.bytes += chunk.length
      if (options.echo !== false && !socket.write(chunk)) {
        socket.pause()
        socket.once('drain', () => socket.resume())
      }
    })
    socket.on('end', () => {
      if (conn.ending === 'open') conn.ending = 'fin'
      if (options.endOnFin !== false) socket.end()
    })
    // The first ending wins: a FIN followed by a reset is a clean FIN as far as the app knew.
    socket.on('error', () => {
      if (conn.ending === 'open') conn.ending = 'reset'
    })
    socket.on('close', (hadError) => {
      if (hadError && conn.ending === 'open') conn.ending = 'reset'
      sockets.delete(socket)
    })
  })
  const address = await listen(server, { host, port: options.port ?? 0, ...(options.fd === undefined ? {} : { fd: options.fd }) })
  return {
    host,
    port: address.port,
    connections,
    open: () => sockets.size,
    async close() {
      for (const s of sockets) s.destroy()
      await closeServer(server)
    },
  }
}
