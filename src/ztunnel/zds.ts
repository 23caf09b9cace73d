// ztunnel's side of ZDS, Istio's ztunnel ↔ istio-cni protocol (docs/istio-reference.md, "ZDS";
// proto/istio/workload/zds/zds.proto), over a transport interface: the agent listens on a unix
// SOCK_SEQPACKET socket (INPOD_UDS), ztunnel connects, sends ZdsHello{V1}, then answers every
// WorkloadRequest with one Ack (error text empty on success):
//  - add: the pod and its network namespace fd go to the handler (a second add of a uid replaces it);
//    an add without an fd is refused in the Ack;
//  - keep (before the snapshot marker only): the pod ztunnel already has stays;
//  - del: the handler drops the pod (closing its listeners);
//  - snapshot_sent: every pod neither added nor kept on this connection is dropped, then acked.
// When the connection ends, pods stay (the agent replays its cache on the next connection) and the
// client reconnects with backoff. The real transport (SEQPACKET + SCM_RIGHTS) needs a native addon;
// until it exists, this runs against any ZdsTransport (tests use an in-memory one).
import { errorMessage } from '../errors.js'
import type { Logger } from '../observability/logger.js'
import { Backoff } from '../xds/backoff.js'
import type { BackoffOptions } from '../xds/backoff.js'
import { istio } from '../xds/gen/messages.js'

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

export interface ZdsWorkload {
  readonly uid: string
  readonly name: string
  readonly namespace: string
  readonly serviceAccount: string
}

/** What ztunnel does with pods: capture in the netns (add) and stop capturing (remove). */
export interface ZdsPodHandler {
  add(workload: ZdsWorkload, netnsFd: number): Promise<void> | void
  remove(uid: string): Promise<void> | void
  /** The uids currently held. */
  uids(): Iterable<string>
}

export interface ZdsClientOptions {
  readonly path: string
  readonly transport: ZdsTransport
  readonly handler: ZdsPodHandler
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
    const seen = new Set<string>()
    snapshotReceived = false
    await conn.send(encodeHello())
    for (;;) {
      const packet = await conn.receive()
      if (packet === undefined) return
      const error = await handle(packet, seen)
      if (error !== '') log.warn({ event: 'zds_request_refused', err: error }, 'ZDS request refused')
      await conn.send(encodeAck(error))
    }
  }

  async function handle(packet: ZdsPacket, seen: Set<string>): Promise<string> {
    let req: istio.workload.zds.WorkloadRequest
    try {
      req = zds.WorkloadRequest.decode(packet.bytes)
    } catch (err) {
      return `request does not decode: ${errorMessage(err)}`
    }
    try {
      if (req.add) {
        const uid = req.add.uid ?? ''
        if (uid === '') return 'add without uid'
        if (packet.fd === undefined) return `add ${uid}: no network namespace file descriptor`
        const info = req.add.workloadInfo
        await options.handler.add(
          { uid, name: info?.name ?? '', namespace: info?.namespace ?? '', serviceAccount: info?.serviceAccount ?? '' },
          packet.fd,
        )
        seen.add(uid)
        log.info({ event: 'zds_add', uid }, 'pod added by the CNI agent')
        return ''
      }
      if (req.keep) {
        const uid = req.keep.uid ?? ''
        if (snapshotReceived) return `keep ${uid} after the snapshot`
        if ([...options.handler.uids()].includes(uid)) seen.add(uid)
        return ''
      }
      if (req.del) {
        const uid = req.del.uid ?? ''
        seen.delete(uid)
        await options.handler.remove(uid)
        log.info({ event: 'zds_del', uid }, 'pod removed by the CNI agent')
        return ''
      }
      if (req.snapshotSent) {
        const stale = [...options.handler.uids()].filter((uid) => !seen.has(uid))
        for (const uid of stale) await options.handler.remove(uid)
        snapshotReceived = true
        log.info({ event: 'zds_snapshot', kept: seen.size, removed: stale.length }, 'CNI agent snapshot reconciled')
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
