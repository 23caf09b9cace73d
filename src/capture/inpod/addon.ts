// The typed face of the in-pod capture addon (native/capture/capture.c, which documents each call).
// Loaded lazily, on the first call of loadCaptureAddon(): socks mode never loads it, so it runs on
// machines where the addon was not built. Errors from the addon carry the errno name as `code`
// (EPERM, ENOENT, …) and the failing `syscall`; a missing addon is CAPTURE_INPOD_NO_ADDON.
import { closeSync, existsSync } from 'node:fs'
import { createRequire } from 'node:module'
import net from 'node:net'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { AmbientError, errorMessage } from '../../errors.js'

export interface OriginalDst {
  readonly ip: string
  readonly port: number
  readonly family: 4 | 6
}

/**
 * A network namespace as the addon enters it: a path (/run/netns/NAME, /proc/PID/ns/net; "" = this
 * process's own) or an open fd of one (ZDS hands each pod's namespace over as an fd).
 */
export type NetnsRef = string | number

export interface CaptureAddon {
  listenTcp(netns: NetnsRef, ip: string, port: number, backlog: number, transparent: boolean): number
  socketTcp(netns: NetnsRef, family: 4 | 6, mark: number, transparent: boolean, bindIp: string, bindPort: number): number
  socketUdp(netns: NetnsRef, ip: string, port: number, mark: number): number
  originalDst(fd: number): OriginalDst
  seqpacketConnect(path: string): number
  seqpacketSend(fd: number, data: Buffer, fds: readonly number[]): number
  seqpacketRecv(fd: number, maxBytes: number, timeoutMs: number): { data: Buffer; fds: number[] } | null
  /** Every interface address in netns (IPv4 and IPv6, loopback included). */
  interfaceAddresses(netns: NetnsRef): string[]
  close(fd: number): void
}

export const INPOD_ADDON_CODE = 'CAPTURE_INPOD_NO_ADDON'

/** src/capture/inpod and dist/capture/inpod are both three levels below the package root. */
export const ADDON_PATH = join(
  dirname(fileURLToPath(import.meta.url)),
  '..',
  '..',
  '..',
  'native',
  'capture',
  'build',
  'Release',
  'ambient_capture.node',
)

let loaded: CaptureAddon | undefined

export function loadCaptureAddon(): CaptureAddon {
  if (loaded !== undefined) return loaded
  if (!existsSync(ADDON_PATH)) {
    throw new AmbientError(
      INPOD_ADDON_CODE,
      `the in-pod capture addon is not built (${ADDON_PATH}): run \`npm run build:native\` (needs make, a C compiler and python3)`,
      { side: 'config' },
    )
  }
  try {
    loaded = createRequire(import.meta.url)(ADDON_PATH) as CaptureAddon
  } catch (err) {
    throw new AmbientError(
      INPOD_ADDON_CODE,
      `cannot load the in-pod capture addon ${ADDON_PATH}: ${errorMessage(err)}; rebuild it with \`npm run build:native\``,
      { side: 'config', cause: err },
    )
  }
  return loaded
}

/** /run/netns/<name>, where `ip netns add` puts a named namespace. */
export function netnsPath(name: string): string {
  return `/run/netns/${name}`
}

/**
 * A net.Socket around an addon fd, with the options every leg of the mesh needs (src/net/listen.ts).
 * The fd is ours until the socket holds it: when no socket can be made on it, it is closed.
 */
export function socketFromFd(fd: number): net.Socket {
  try {
    return new net.Socket({ fd, allowHalfOpen: true, readable: true, writable: true })
  } catch (err) {
    // Node took no hold of it (not a socket it can wrap, or its open failed).
    closeSync(fd)
    throw err
  }
}

/** The fd of a connected net.Socket (`_handle.fd`), for originalDst. */
export function socketFd(socket: net.Socket): number {
  const fd = (socket as unknown as { _handle?: { fd?: number } })._handle?.fd
  if (typeof fd !== 'number' || fd < 0) throw new AmbientError('CAPTURE_INPOD_NO_FD', 'the socket has no file descriptor')
  return fd
}
