// The one HBONE connection pool of a proxy.
//
// Invariants:
// 1. Connections are shared only within a key: (source identity, sorted expected destination
//    identities, destination address). A tunnel never rides a connection made for another
//    identity pair, so the certificate each side saw is right for every stream on it.
// 2. A connection carries at most `maxStreamsPerConnection` streams (Istio: 100). Streams are
//    reserved synchronously, before any await, so concurrent callers never overshoot; past the cap a
//    new connection is opened for the same key.
// 3. A connection still handshaking is shared: callers that find it reserve a stream and wait for it.
//    If the handshake fails, every caller waiting on it gets the same error and it leaves the pool.
// 4. A connection leaves the pool (no new streams) when it closes, the peer sends GOAWAY, or its
//    source certificate is replaced (rotation: updateCertificate(), or a new serial from the
//    certificate source). Its open tunnels continue until they end; then it is closed with GOAWAY +
//    END_STREAMs, never with resets.
// 5. A pooled connection with no stream for `idleTimeoutMs` is closed (Istio: 5 minutes).
// 6. After close() the pool opens nothing; close() resolves once every connection is closed.
// 7. `stats()` counts what is really open: connections = sessions not yet closed (pooled or retired),
//    streams = reserved or open tunnels. Both return to 0 when all tunnels ended and idles expired.
// 8. With a certificate source, each open() asks it for the source identity's certificate before
//    reserving (ztunnel's pool asks the workload's certificate source when it connects): nobody
//    pushes certificates in per connection.
import type { ClientHttp2Stream } from 'node:http2'
import type { Socket } from 'node:net'
import { AmbientError, errorMessage } from '../errors.js'
import type { WorkloadCertificate } from '../identity/certificate.js'
import type { SpiffeId } from '../identity/spiffe-id.js'
import { formatHostPort } from '../net/address.js'
import type { Logger } from '../observability/logger.js'
import type { HboneConnection, KeepaliveOptions } from './client.js'
import { connectHbone } from './client.js'
import { HboneErrorCode } from './errors.js'
import type { ConnectRequestHeaders } from './headers.js'
import type { HboneTuning } from './settings.js'
import { DEFAULT_IDLE_TIMEOUT_MS, DEFAULT_TUNING } from './settings.js'
import type { PeerCertificate } from './tls.js'

/** The current certificate of an identity this proxy speaks for (a node ztunnel's certificate manager). */
export type CertificateSource = (identity: SpiffeId) => Promise<WorkloadCertificate>

export interface HbonePoolOptions {
  /** The identities this proxy speaks for, known up front (a waypoint: its own). */
  readonly certificates: readonly WorkloadCertificate[]
  /** Asked on every open() for the source identity (a node ztunnel: one per local service account). */
  readonly certificateSource?: CertificateSource
  readonly logger: Logger
  readonly idleTimeoutMs?: number
  /** Default: tuning.maxConcurrentStreams (100). */
  readonly maxStreamsPerConnection?: number
  readonly keepalive?: KeepaliveOptions
  readonly connectTimeoutMs?: number
  /**
   * Bind outgoing connections to this address: a proxy with one pod IP (a waypoint) connects from
   * it, so the destination sees the pod as the TCP source, as in a cluster.
   */
  readonly localAddress?: string
  readonly tuning?: Partial<HboneTuning>
}

export interface TunnelRequest extends ConnectRequestHeaders {
  readonly source: SpiffeId
  /** The peer's HBONE listener. */
  readonly destination: { readonly host: string; readonly port: number }
  /** The server must present one of these. */
  readonly expectedIdentities: readonly SpiffeId[]
  /**
   * Where the connection starts (in-pod capture: the source pod's netns, marked): `key` joins the
   * pool key, so a connection only carries tunnels of the same origin; `socket` makes the socket.
   */
  readonly via?: { readonly key: string; readonly socket: () => Socket }
}

export interface Tunnel {
  /** The CONNECT stream, answered 200: pipe it (src/net/pipe.ts). */
  readonly stream: ClientHttp2Stream
  readonly peer: PeerCertificate
  /** Serial of the certificate we presented on this connection. */
  readonly localSerial: string
}

export interface HbonePoolStats {
  readonly connections: number
  readonly streams: number
}

export interface HbonePool {
  open(request: TunnelRequest): Promise<Tunnel>
  /** Rotation: new connections for cert.identity use `cert`; existing ones finish their tunnels. */
  updateCertificate(cert: WorkloadCertificate): void
  stats(): HbonePoolStats
  close(): Promise<void>
}

interface Entry {
  readonly key: string
  readonly identity: string
  readonly ready: Promise<HboneConnection>
  connection: HboneConnection | undefined
  streams: number
  pooled: boolean
  idleTimer: NodeJS.Timeout | undefined
}

export function poolKey(source: SpiffeId, expected: readonly SpiffeId[], host: string, port: number): string {
  const ids = [...new Set(expected.map((id) => id.toString()))].sort()
  return `${source.toString()}|${ids.join(',')}|${formatHostPort(host, port)}`
}

export function createHbonePool(options: HbonePoolOptions): HbonePool {
  const log = options.logger
  const idleTimeoutMs = options.idleTimeoutMs ?? DEFAULT_IDLE_TIMEOUT_MS
  const maxStreams = options.maxStreamsPerConnection ?? options.tuning?.maxConcurrentStreams ?? DEFAULT_TUNING.maxConcurrentStreams
  const certificates = new Map<string, WorkloadCertificate>(options.certificates.map((c) => [c.identity.toString(), c]))
  const byKey = new Map<string, Entry[]>()
  const all = new Set<Entry>()
  let closing = false

  const unpool = (entry: Entry): void => {
    if (!entry.pooled) return
    entry.pooled = false
    const list = byKey.get(entry.key)
    if (!list) return
    const rest = list.filter((e) => e !== entry)
    if (rest.length) byKey.set(entry.key, rest)
    else byKey.delete(entry.key)
  }

  // The connection has no stream and is no longer wanted (idle, retired, or pool closing).
  const closeEntry = (entry: Entry): void => {
    unpool(entry)
    clearTimeout(entry.idleTimer)
    void entry.ready.then(
      (c) => c.close(),
      () => undefined,
    )
  }

  const release = (entry: Entry): void => {
    entry.streams--
    if (entry.streams > 0) return
    if (!entry.pooled || closing) return closeEntry(entry)
    entry.idleTimer = setTimeout(() => {
      log.debug({ event: 'hbone_pool_idle_release', key: entry.key }, 'HBONE pooled connection idle, closing')
      closeEntry(entry)
    }, idleTimeoutMs)
    entry.idleTimer.unref()
  }

  const newEntry = (key: string, request: TunnelRequest, cert: WorkloadCertificate): Entry => {
    const entry: Entry = {
      key,
      identity: cert.identity.toString(),
      ready: undefined as never,
      connection: undefined,
      streams: 0,
      pooled: true,
      idleTimer: undefined,
    }
    const ready = connectHbone({
      host: request.destination.host,
      port: request.destination.port,
      certificate: cert,
      expectedIdentities: request.expectedIdentities,
      logger: log,
      ...(options.connectTimeoutMs === undefined ? {} : { connectTimeoutMs: options.connectTimeoutMs }),
      ...(options.localAddress === undefined ? {} : { localAddress: options.localAddress }),
      ...(request.via === undefined ? {} : { socket: request.via.socket }),
      ...(options.keepalive === undefined ? {} : { keepalive: options.keepalive }),
      ...(options.tuning === undefined ? {} : { tuning: options.tuning }),
    })
    ;(entry as { ready: Promise<HboneConnection> }).ready = ready
    all.add(entry)
    ready.then(
      (connection) => {
        entry.connection = connection
        if (closing || !entry.pooled) {
          if (entry.streams === 0) void connection.close()
        }
        void connection.closed.then((reason) => {
          unpool(entry)
          clearTimeout(entry.idleTimer)
          all.delete(entry)
          if (reason)
            log.info({ event: 'hbone_connection_closed', key, reason: reason.message, code: reason.code }, 'HBONE connection closed')
        })
      },
      (err: unknown) => {
        unpool(entry)
        all.delete(entry)
        log.info({ event: 'hbone_connect_failed', key, reason: errorMessage(err) }, 'HBONE connection failed')
      },
    )
    const list = byKey.get(key)
    if (list) list.push(entry)
    else byKey.set(key, [entry])
    return entry
  }

  // Picks (or makes) the connection for a tunnel and reserves one stream on it, synchronously.
  const reserve = (request: TunnelRequest): Entry => {
    const cert = certificates.get(request.source.toString())
    if (cert === undefined) {
      throw new AmbientError(HboneErrorCode.noCertificate, `no certificate for ${request.source.toString()}`, { side: 'internal' })
    }
    const key =
      poolKey(request.source, request.expectedIdentities, request.destination.host, request.destination.port) +
      (request.via === undefined ? '' : ` via ${request.via.key}`)
    let entry = byKey.get(key)?.find((e) => e.streams < maxStreams && !(e.connection?.draining ?? false))
    entry ??= newEntry(key, request, cert)
    entry.streams++
    clearTimeout(entry.idleTimer)
    entry.idleTimer = undefined
    return entry
  }

  const updateCertificate = (cert: WorkloadCertificate): void => {
    const identity = cert.identity.toString()
    certificates.set(identity, cert)
    for (const entry of all) {
      if (entry.identity !== identity || !entry.pooled) continue
      unpool(entry)
      if (entry.streams === 0) closeEntry(entry)
    }
    log.info({ event: 'hbone_certificate_updated', identity, serial: cert.serialNumber }, 'HBONE client certificate updated')
  }

  // Invariant 8: the source's current certificate; a new serial is a rotation (invariant 4).
  const fetchCertificate = async (source: CertificateSource, identity: SpiffeId): Promise<void> => {
    const cert = await source(identity)
    if (certificates.get(identity.toString())?.serialNumber !== cert.serialNumber) updateCertificate(cert)
  }

  return {
    async open(request) {
      if (closing) throw new AmbientError(HboneErrorCode.closed, 'HBONE pool is closed', { side: 'internal' })
      if (options.certificateSource !== undefined) {
        await fetchCertificate(options.certificateSource, request.source)
        if (closing) throw new AmbientError(HboneErrorCode.closed, 'HBONE pool is closed', { side: 'internal' })
      }
      const entry = reserve(request)
      let connection: HboneConnection
      try {
        connection = entry.connection ?? (await entry.ready)
      } catch (err) {
        release(entry)
        throw err
      }
      // The reservation ends when the tunnel's stream closes, or as soon as the CONNECT fails,
      // whichever comes first (once).
      let released = false
      const releaseOnce = (): void => {
        if (released) return
        released = true
        release(entry)
      }
      let stream: ClientHttp2Stream
      try {
        stream = await connection.open(request, releaseOnce)
      } catch (err) {
        releaseOnce()
        throw err
      }
      return { stream, peer: connection.peer, localSerial: connection.localSerial }
    },
    updateCertificate,
    stats() {
      let streams = 0
      for (const e of all) streams += e.streams
      return { connections: all.size, streams }
    },
    async close() {
      closing = true
      const entries = [...all]
      for (const entry of entries) {
        unpool(entry)
        clearTimeout(entry.idleTimer)
      }
      await Promise.all(
        entries.map(async (entry) => {
          const connection = await entry.ready.catch(() => undefined)
          if (!connection) return
          // Tunnels still open when the owner closes the pool are cut: the owner drained first.
          connection.destroy()
          await connection.closed
        }),
      )
    },
  }
}
