// Capture for a proxy that runs inside its pod's network namespace behind REDIRECT rules (sidecar
// mode in-pod: deploy/capture/sidecar-inpod.rules). The listener is an ordinary socket of the
// process (it lives in the namespace); each accepted connection's original destination is read back
// with SO_ORIGINAL_DST through the addon. Outbound (15001) speaks the capture contract of
// ../capture.ts; inbound (15006) only needs the original destination port (`originalDestination`).
import type net from 'node:net'
import type { Capture, CapturedConnection, CapturedConnectionHandler, CaptureLogger } from '../capture.js'
import { AmbientError, errorMessage } from '../../errors.js'
import { closeServer, createTcpServer, listen } from '../../net/listen.js'
import { reset } from '../../net/pipe.js'
import { loadCaptureAddon, socketFd, type OriginalDst } from './addon.js'

export const RedirectCaptureCode = {
  noOriginalDst: 'CAPTURE_INPOD_NO_ORIGINAL_DST',
  settled: 'CAPTURE_SETTLED',
} as const

/** Where a REDIRECT'd connection was going (SO_ORIGINAL_DST); CAPTURE_INPOD_NO_ORIGINAL_DST if it was not redirected. */
export function originalDestination(socket: net.Socket): OriginalDst {
  try {
    return loadCaptureAddon().originalDst(socketFd(socket))
  } catch (err) {
    if (err instanceof AmbientError && err.code === 'CAPTURE_INPOD_NO_ADDON') throw err
    throw new AmbientError(RedirectCaptureCode.noOriginalDst, `no original destination: ${errorMessage(err)}`, {
      side: 'downstream',
      cause: err,
    })
  }
}

/**
 * A REDIRECT'd connection as the capture contract's CapturedConnection: accept() says nothing to the
 * client (it believes it is connected already) and settles once; reject() resets.
 */
export function redirectedConnection(
  socket: net.Socket,
  sourcePod: string,
  dst: { readonly ip: string; readonly port: number },
  upstreamSocket?: () => net.Socket,
): CapturedConnection {
  let settled = false
  return {
    socket,
    sourcePod,
    originalDst: { kind: 'ip', ip: dst.ip, port: dst.port },
    ...(upstreamSocket === undefined ? {} : { upstreamSocket }),
    accept: async () => {
      if (settled || socket.destroyed)
        throw new AmbientError(RedirectCaptureCode.settled, 'the captured connection is gone or already settled', { side: 'downstream' })
      settled = true
    },
    reject: () => {
      settled = true
      reset(socket)
    },
  }
}

export interface RedirectCaptureOptions {
  /** Where to listen inside the namespace: Envoy's virtualOutbound listens on 0.0.0.0:15001. */
  readonly host: string
  readonly port: number
  readonly sourcePod: string
  readonly logger: CaptureLogger
  readonly onConnection: CapturedConnectionHandler
  /** Injected for tests; default SO_ORIGINAL_DST. */
  readonly originalDst?: (socket: net.Socket) => OriginalDst
}

export function createRedirectCapture(options: RedirectCaptureOptions): Capture {
  const originalDst = options.originalDst ?? originalDestination
  const server = createTcpServer((socket) => {
    socket.on('error', () => undefined)
    socket.pause()
    let dst: OriginalDst
    try {
      dst = originalDst(socket)
    } catch (err) {
      options.logger.warn(
        { event: 'inpod_no_original_dst', reason: errorMessage(err) },
        'captured connection without an original destination',
      )
      reset(socket)
      return
    }
    options.onConnection(redirectedConnection(socket, options.sourcePod, dst))
  })
  return {
    async start() {
      const addr = await listen(server, { host: options.host, port: options.port })
      return [{ address: addr.address, port: addr.port }]
    },
    close: () => closeServer(server),
  }
}
