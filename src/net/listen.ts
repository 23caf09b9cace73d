// Listening and connecting on plain TCP with the options every leg of the mesh needs:
// `allowHalfOpen` (a FIN from one side is a half-close, carried through as END_STREAM) and `noDelay`
// (with Nagle, p99 went from 2.7 ms to 43 ms in toolchain.md's measurements).
import { closeSync, fstatSync } from 'node:fs'
import net from 'node:net'
import type { AddressInfo } from 'node:net'
import { AmbientError } from '../errors.js'
import { formatHostPort } from './address.js'

export const ListenErrorCode = {
  addressInUse: 'NET_ADDRESS_IN_USE',
  addressUnavailable: 'NET_ADDRESS_UNAVAILABLE',
  listenFailed: 'NET_LISTEN_FAILED',
} as const

export const ConnectErrorCode = {
  refused: 'NET_CONNECT_REFUSED',
  timeout: 'NET_CONNECT_TIMEOUT',
  failed: 'NET_CONNECT_FAILED',
} as const

export interface ListenAddress {
  readonly host: string
  /** 0 picks a free port; the bound one is in the resolved AddressInfo. */
  readonly port: number
  /** Listen on this already bound and listening socket instead (in-pod capture: made in a pod's netns). */
  readonly fd?: number
}

/** A server whose sockets have half-close and noDelay. */
export function createTcpServer(onConnection: (socket: net.Socket) => void): net.Server {
  return net.createServer({ allowHalfOpen: true, noDelay: true, pauseOnConnect: false }, onConnection)
}

/**
 * Listens on host:port. A taken port becomes an AmbientError that names the address, so that a
 * user who starts two ztunnels on one node reads which address, not just EADDRINUSE.
 */
export function listen(server: net.Server, address: ListenAddress): Promise<AddressInfo> {
  const where = formatHostPort(address.host, address.port)
  return new Promise((resolve, reject) => {
    const onError = (err: NodeJS.ErrnoException): void => {
      server.off('listening', onListening)
      reject(listenError(err, where))
    }
    const onListening = (): void => {
      server.off('error', onError)
      resolve(server.address() as AddressInfo)
    }
    server.once('error', onError)
    server.once('listening', onListening)
    server.listen(address.fd === undefined ? { host: address.host, port: address.port, exclusive: true } : { fd: address.fd })
  })
}

/**
 * Listens on `address.fd`, a listening socket made for this server (the native addon's, in a pod's
 * netns): the caller's until the server holds it. When listening fails the fd is closed here, so a
 * failed listener leaks none. Node closes it itself when it adopted the socket and its listen()
 * then failed; so it is closed only while it is still that socket (same device and inode): never a
 * number the process reused meanwhile, never twice.
 */
export async function listenOnFd(server: net.Server, address: ListenAddress & { readonly fd: number }): Promise<AddressInfo> {
  const before = fdIdentity(address.fd)
  try {
    return await listen(server, address)
  } catch (err) {
    if (before !== null && fdIdentity(address.fd) === before) closeSync(address.fd)
    throw err
  }
}

/** What `fd` is open on (`device:inode`), or null when it is not open. */
export function fdIdentity(fd: number): string | null {
  try {
    const st = fstatSync(fd, { bigint: true })
    return `${st.dev}:${st.ino}`
  } catch {
    return null
  }
}

function listenError(err: NodeJS.ErrnoException, where: string): AmbientError {
  const options = { side: 'config' as const, cause: err, details: { address: where } }
  switch (err.code) {
    case 'EADDRINUSE':
      return new AmbientError(ListenErrorCode.addressInUse, `cannot listen on ${where}: address already in use`, options)
    case 'EADDRNOTAVAIL':
      return new AmbientError(ListenErrorCode.addressUnavailable, `cannot listen on ${where}: address not available on this host`, options)
    default:
      return new AmbientError(ListenErrorCode.listenFailed, `cannot listen on ${where}: ${err.message}`, options)
  }
}

/** Stops accepting and resolves when the listener is closed (open connections are the caller's). */
export function closeServer(server: net.Server): Promise<void> {
  return new Promise((resolve) => {
    if (!server.listening) return resolve()
    server.close(() => resolve())
  })
}

export interface ConnectOptions {
  readonly host: string
  readonly port: number
  readonly localAddress?: string
  readonly connectTimeoutMs?: number
  /** Connect this unconnected socket instead of a new one (in-pod capture: made in a pod's netns, marked). */
  readonly socket?: () => net.Socket
}

/** Connects a plain TCP leg (half-open, noDelay); failures are typed upstream errors. */
export function connectTcp(options: ConnectOptions): Promise<net.Socket> {
  const where = formatHostPort(options.host, options.port)
  return new Promise((resolve, reject) => {
    const socket =
      options.socket !== undefined
        ? options.socket().setNoDelay(true).connect({ host: options.host, port: options.port })
        : net.connect({
            host: options.host,
            port: options.port,
            allowHalfOpen: true,
            noDelay: true,
            ...(options.localAddress === undefined ? {} : { localAddress: options.localAddress }),
          })
    const timer =
      options.connectTimeoutMs === undefined
        ? undefined
        : setTimeout(() => {
            fail(
              new AmbientError(ConnectErrorCode.timeout, `connect to ${where} timed out after ${options.connectTimeoutMs} ms`, {
                side: 'upstream',
                details: { address: where },
              }),
            )
          }, options.connectTimeoutMs)
    const fail = (err: AmbientError): void => {
      clearTimeout(timer)
      socket.off('connect', onConnect)
      socket.destroy()
      reject(err)
    }
    const onError = (err: NodeJS.ErrnoException): void => {
      const refused = err.code === 'ECONNREFUSED'
      fail(
        new AmbientError(refused ? ConnectErrorCode.refused : ConnectErrorCode.failed, `connect to ${where} failed: ${err.message}`, {
          side: 'upstream',
          cause: err,
          details: { address: where },
        }),
      )
    }
    const onConnect = (): void => {
      clearTimeout(timer)
      socket.off('error', onError)
      resolve(socket)
    }
    socket.once('error', onError)
    socket.once('connect', onConnect)
  })
}
