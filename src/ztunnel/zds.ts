// ztunnel's side of ZDS, Istio's ztunnel ↔ istio-cni protocol (docs/istio-reference.md, "ZDS";
// proto/istio/workload/zds/zds.proto), over a transport interface: the agent listens on a unix
// SOCK_SEQPACKET socket (INPOD_UDS), ztunnel connects, sends ZdsHello{V1}, then answers every
// WorkloadRequest with one Ack (error text empty on success). Each request goes to the workload
// manager (src/ztunnel/workload-manager.ts, which plans add/keep/del/snapshot and moves the pod's
// listeners); a connection begins a snapshot there. An add without an fd is refused in the Ack.
// When the connection ends, pods stay (the agent replays its cache on the next connection) and the
// client reconnects with backoff. The real transport is src/ztunnel/zds-seqpacket.ts (SEQPACKET +
// SCM_RIGHTS through the capture addon); tests also use an in-memory one.
import { errorMessage } from '../errors.js'
import type { Logger } from '../observability/logger.js'
import { Backoff } from '../xds/backoff.js'
import type { BackoffOptions } from '../xds/backoff.js'
import { istio } from '../xds/gen/messages.js'
import type { ZdsWorkloads } from './workload-manager.js'

const zds = istio.workload.zds

/** One SEQPACKET packet: a message, and the file descriptor passed with it, if any. */
export interface ZdsPacket {
  readonly bytes: Uint8Array
  readonly fd?: number
}

export interface ZdsConnection {
  send(bytes: Uint8Array): Promise<void>
  /** The next packet, or undefined once the peer closed. */
  receive(): Promise<ZdsPacket | undefined>
  close(): void
}

export interface ZdsTransport {
  connect(path: string): Promise<ZdsConnection>
}

export type { ZdsWorkload, ZdsWorkloads } from './workload-manager.js'

export interface ZdsClientOptions {
  readonly path: string
  readonly transport: ZdsTransport
  readonly workloads: ZdsWorkloads
  /** Closes an fd received with a request that is refused (default: nothing to close with). */
  readonly closeFd?: (fd: number) => void
  readonly logger: Logger
  readonly backoff?: BackoffOptions
}

export interface ZdsClient {
  /** Connections made so far. */
  readonly connects: number
  /** True once a snapshot marker was handled on the current connection. */
  readonly snapshotReceived: boolean
  close(): Promise<void>
}

export function encodeHello(): Uint8Array {
  return zds.ZdsHello.encode({ version: zds.Version.V1 }).finish()
}

export function encodeAck(error = ''): Uint8Array {
  return zds.WorkloadResponse.encode({ ack: { error } }).finish()
}

/** Runs the client until close(): connect, hello, requests, reconnect. */
export function startZdsClient(options: ZdsClientOptions): ZdsClient {
  const log = options.logger
  const backoff = new Backoff(options.backoff)
  let closed = false
  let connects = 0
  let snapshotReceived = false
  let current: ZdsConnection | undefined
  let wake: (() => void) | undefined

  async function serve(conn: ZdsConnection): Promise<void> {
    snapshotReceived = false
    options.workloads.beginSnapshot()
    await conn.send(encodeHello())
    for (;;) {
      const packet = await conn.receive()
      if (packet === undefined) return
      const error = await handle(packet)
      if (error !== '') log.warn({ event: 'zds_request_refused', err: error }, 'ZDS request refused')
      await conn.send(encodeAck(error))
    }
  }

  async function handle(packet: ZdsPacket): Promise<string> {
    const w = options.workloads
    let req: istio.workload.zds.WorkloadRequest
    try {
      req = zds.WorkloadRequest.decode(packet.bytes)
    } catch (err) {
      if (packet.fd !== undefined) options.closeFd?.(packet.fd)
      return `request does not decode: ${errorMessage(err)}`
    }
    if (!req.add && packet.fd !== undefined) options.closeFd?.(packet.fd)
    try {
      if (req.add) {
        const uid = req.add.uid ?? ''
        if (uid === '') {
          if (packet.fd !== undefined) options.closeFd?.(packet.fd)
          return 'add without uid'
        }
        if (packet.fd === undefined) return `add ${uid}: no network namespace file descriptor`
        const info = req.add.workloadInfo
        await w.add(
          { uid, name: info?.name ?? '', namespace: info?.namespace ?? '', serviceAccount: info?.serviceAccount ?? '' },
          packet.fd,
        )
        return ''
      }
      if (req.keep) {
        await w.keep(req.keep.uid ?? '')
        return ''
      }
      if (req.del) {
        await w.del(req.del.uid ?? '')
        return ''
      }
      if (req.snapshotSent) {
        await w.snapshotSent()
        snapshotReceived = true
        log.info({ event: 'zds_snapshot', held: w.uids().length }, 'CNI agent snapshot reconciled')
        return ''
      }
      return 'empty or unknown request'
    } catch (err) {
      return errorMessage(err)
    }
  }

  const loop = (async () => {
    while (!closed) {
      try {
        current = await options.transport.connect(options.path)
        connects++
        backoff.reset()
        log.info({ event: 'zds_connected', path: options.path }, 'connected to the CNI node agent')
        await serve(current)
        log.info({ event: 'zds_disconnected', path: options.path }, 'CNI node agent closed the connection')
      } catch (err) {
        if (!closed) log.warn({ event: 'zds_connection_failed', path: options.path, err: errorMessage(err) }, 'ZDS connection failed')
      } finally {
        current?.close()
        current = undefined
      }
      if (closed) break
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, backoff.next())
        wake = () => {
          clearTimeout(timer)
          resolve()
        }
      })
      wake = undefined
    }
  })()

  return {
    get connects() {
      return connects
    },
    get snapshotReceived() {
      return snapshotReceived
    },
    async close() {
      closed = true
      current?.close()
      wake?.()
      await loop
    },
  }
}
