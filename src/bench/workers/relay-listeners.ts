// What both relays of the HBONE benchmark share (the plain TCP relay and the HBONE client proxy):
// one loopback listener per target, each accepted socket handed to the relay's `join`, every socket
// tracked so that close() ends them all.
import type net from 'node:net'
import { closeServer, createTcpServer, listen } from '../../net/listen.js'

export interface RelayListeners {
  /** The listeners' ports, in the order of the targets. */
  readonly ports: number[]
  close(): Promise<void>
}

/** `join` connects `downstream` to `target`; it passes each upstream socket it opens to `track`. */
export async function relayListeners<T>(
  targets: readonly T[],
  join: (downstream: net.Socket, target: T, track: (socket: net.Socket) => void) => void,
): Promise<RelayListeners> {
  const servers: net.Server[] = []
  const sockets = new Set<net.Socket>()
  const track = (socket: net.Socket): void => {
    sockets.add(socket)
    socket.once('close', () => sockets.delete(socket))
  }
  for (const target of targets) {
    const server = createTcpServer((downstream) => {
      track(downstream)
      downstream.on('error', () => undefined) // the pipe reports errors once it is attached
      join(downstream, target, track)
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
}
