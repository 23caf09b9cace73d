// The readiness probe both topologies use for a TCP port: does a connect succeed within a second?
import type { Socket } from 'node:net'

/** Connects `socket` (a fresh one, made wherever the probe must start) to host:port; destroyed either way. */
export function connectProbe(socket: Socket, host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    socket.setTimeout(1_000)
    const done = (ok: boolean): void => {
      socket.destroy()
      resolve(ok)
    }
    socket.once('connect', () => done(true))
    socket.once('error', () => done(false))
    socket.once('timeout', () => done(false))
    socket.connect(port, host)
  })
}
