// The Delta ADS client (ztunnel's and the waypoint's side of `DeltaAggregatedResources`).
// It wildcard-subscribes to the given type URLs, decodes each response with the type's decoder,
// hands the batch to the handler, and ACKs, or NACKs with the reason when decoding or the handler
// fails. It remembers the version of every resource it accepted and reports them as
// initial_resource_versions when it reconnects, so an unchanged resource is not sent twice.
//
// Invariants:
// - versions change only when the handler accepted a batch: they always describe the state the
//   handler holds, which is what the server is told on reconnect.
// - Losing istiod never clears anything: the handler keeps serving its last state, and a later
//   connection resyncs by difference (Istio: "keep serving the last good config").
// - Responses are handled one at a time, in order, even when the handler is async.
//
// The stream runs on node:http2 (./grpc/): a proxy fed by istiod never loads grpc-js.
import type { ClientHttp2Session } from 'node:http2'
import { errorMessage } from '../errors.js'
import { childLogger, createLogger } from '../observability/logger.js'
import type { Logger } from '../observability/logger.js'
import { Backoff } from './backoff.js'
import type { BackoffOptions } from './backoff.js'
import { bearerHeaders, resolveToken } from './bearer-headers.js'
import type { TokenSource } from './bearer-headers.js'
import type { ChannelTls } from './channel-tls.js'
import { startCall, type GrpcCall } from './grpc/call.js'
import { GrpcCode } from './grpc/codes.js'
import { openSession } from './grpc/session.js'
import { describeStatus } from './grpc/status.js'
import type { DeltaRequest } from './grpc-definitions.js'
import { deltaResponseView } from './delta-response-bytes.js'
import type { DeltaResponseView } from './delta-response-bytes.js'
import { AGGREGATED_DISCOVERY_SERVICE } from './grpc-definitions.js'
import { presentFields } from '../optional.js'
import { KnownVersions, SentVersions } from './known-versions.js'

/**
 * The largest DeltaDiscoveryResponse a proxy accepts, as Istio's ztunnel sets on its ADS stream (200 MiB).
 * gRPC's usual 4 MiB would refuse the first sync of a mesh past ~13,000 workloads (about 250 bytes each).
 */
export const ADS_MAX_MESSAGE_BYTES = 200 * 1024 * 1024

/** How to turn one resource's bytes into a trusted value; throwing refuses the whole response. */
export interface ResourceDecoder<T> {
  readonly typeUrl: string
  decode(bytes: Uint8Array): T
  /** decode(bytes.subarray(start, end)) without the subarray: a sync's resources are ranges of one message. */
  decodeIn?(bytes: Uint8Array, start: number, end: number): T
}

export interface DeltaUpsert<T> {
  readonly name: string
  readonly version: string
  readonly value: T
}

/** One response of one type: `kind` is the key the caller gave the type in `types`. */
export type DeltaBatch<M> = {
  [K in keyof M & string]: {
    readonly kind: K
    readonly typeUrl: string
    readonly upserts: readonly DeltaUpsert<M[K]>[]
    /** Names the client held and the server removed. */
    readonly removals: readonly string[]
  }
}[keyof M & string]

/** Accept (return nothing) or reject (return or throw an Error: its message is the NACK's reason). */
export type DeltaHandler<M> = (batch: DeltaBatch<M>) => void | Error | Promise<void | Error>

/** The connection part of a component's xDS source options: istiod, how to reach it, as whom, logs, retries. */
export interface DeltaConnectionOptions {
  /** istiod's `host:port`. */
  readonly target: string
  readonly tls: ChannelTls
  readonly token: TokenSource
  /** The node id sent to istiod. */
  readonly nodeId: string
  readonly nodeMetadata?: Readonly<Record<string, string>>
  /** Extra call metadata next to the bearer token (Istio's proxies: `clusterid`). */
  readonly headers?: Readonly<Record<string, string>>
  readonly logger: Logger
  readonly backoff?: BackoffOptions
}

export interface DeltaAdsClientOptions<M> extends Omit<DeltaConnectionOptions, 'logger'> {
  readonly types: { readonly [K in keyof M & string]: ResourceDecoder<M[K]> }
  readonly handler: DeltaHandler<M>
  readonly logger?: Logger
}

/** The connection fields of a source's options, as createDeltaAdsClient takes them (an unset backoff stays unset). */
export function deltaConnection(
  options: DeltaConnectionOptions,
): Pick<DeltaAdsClientOptions<never>, 'target' | 'tls' | 'token' | 'nodeId' | 'nodeMetadata' | 'headers' | 'logger' | 'backoff'> {
  return {
    target: options.target,
    tls: options.tls,
    token: options.token,
    nodeId: options.nodeId,
    logger: options.logger,
    ...presentFields({ nodeMetadata: options.nodeMetadata, headers: options.headers, backoff: options.backoff }),
  }
}

export type DeltaClientState = 'connecting' | 'connected' | 'disconnected' | 'closed'

export interface DeltaClientStats {
  readonly connects: number
  readonly responses: number
  /** Resources received (not counting removals) and their encoded bytes. */
  readonly resources: number
  readonly bytes: number
  readonly removals: number
  readonly acks: number
  readonly nacks: number
}

export interface DeltaAdsClient {
  start(): void
  readonly state: DeltaClientState
  /** True once every type has had a response on some connection (ztunnel's readiness). */
  readonly synced: boolean
  /** The versions held for a type: what initial_resource_versions will say. */
  versions(typeUrl: string): ReadonlyMap<string, string>
  stats(): DeltaClientStats
  /** The last error that ended a connection, for diagnostics. */
  readonly lastError: string | undefined
  close(): Promise<void>
}

export function createDeltaAdsClient<M>(options: DeltaAdsClientOptions<M>): DeltaAdsClient {
  const log = childLogger(options.logger ?? createLogger({ component: 'xds', level: 'silent' }), 'xds')
  const kinds = Object.keys(options.types) as (keyof M & string)[]
  const byTypeUrl = new Map<string, keyof M & string>(kinds.map((k) => [options.types[k].typeUrl, k]))
  const versions = new Map<string, KnownVersions>(kinds.map((k) => [options.types[k].typeUrl, new KnownVersions()]))
  const syncedTypes = new Set<string>()
  const backoff = new Backoff(options.backoff)
  const stats = { connects: 0, responses: 0, resources: 0, bytes: 0, removals: 0, acks: 0, nacks: 0 }
  let state: DeltaClientState = 'disconnected'
  let started = false
  let lastError: string | undefined
  let session: ClientHttp2Session | undefined
  let call: GrpcCall | undefined
  let timer: NodeJS.Timeout | undefined
  let attempt = 0

  async function connect(): Promise<void> {
    if (state === 'closed') return
    const id = ++attempt
    state = 'connecting'
    let token: string
    try {
      token = await resolveToken(options.token)
    } catch (err) {
      return lost(id, `token unavailable: ${errorMessage(err)}`)
    }
    if (id !== attempt) return // closed, or superseded while the token was fetched
    // A fresh connection per attempt: our backoff decides when to retry.
    const method = AGGREGATED_DISCOVERY_SERVICE.DeltaAggregatedResources
    session = openSession(options.target, options.tls)
    session.on('error', () => undefined) // the call reports it
    let queue = Promise.resolve()
    const c = startCall(
      session,
      { path: method.path, metadata: bearerHeaders(token, options.headers), maxMessageBytes: ADS_MAX_MESSAGE_BYTES },
      {
        onMessage: (bytes) => {
          let res: DeltaResponseView
          try {
            res = deltaResponseView(bytes)
          } catch (err) {
            return lost(id, `${GrpcCode.INTERNAL} INTERNAL: response does not decode: ${errorMessage(err)}`)
          }
          queue = queue.then(() => onResponse(id, c, res))
        },
        onStatus: (s) => lost(id, s.code === GrpcCode.OK ? 'server ended the stream' : describeStatus(s)),
      },
    )
    call = c
    stats.connects++
    let first = true
    for (const kind of kinds) {
      const typeUrl = options.types[kind].typeUrl
      c.write(
        method.requestSerialize({
          ...(first ? { node: { id: options.nodeId, metadata: struct(options.nodeMetadata ?? {}) } } : {}),
          typeUrl,
          resourceNamesSubscribe: ['*'],
          initialResourceVersions: Object.fromEntries(versions.get(typeUrl)!.entries()),
        }),
      )
      first = false
    }
  }

  async function onResponse(id: number, c: GrpcCall, res: DeltaResponseView): Promise<void> {
    if (id !== attempt || state === 'closed') return
    if (state !== 'connected') {
      state = 'connected'
      log.info({ event: 'xds_connected', target: options.target }, 'connected to istiod')
    }
    backoff.reset()
    stats.responses++
    const typeUrl = res.typeUrl
    const nonce = res.nonce
    const reply = (error?: string) => {
      if (id !== attempt || c.ended) return
      const ack: DeltaRequest = {
        typeUrl,
        responseNonce: nonce,
        ...(error === undefined ? {} : { errorDetail: { code: 3, message: error } }),
      }
      c.write(AGGREGATED_DISCOVERY_SERVICE.DeltaAggregatedResources.requestSerialize(ack))
      if (error === undefined) stats.acks++
      else stats.nacks++
    }
    const kind = byTypeUrl.get(typeUrl)
    if (kind === undefined) return reply(`unexpected type ${typeUrl}`)
    const held = versions.get(typeUrl)!
    const decoder = options.types[kind]
    const upserts: DeltaUpsert<M[typeof kind]>[] = []
    let error: string | undefined
    for (let i = 0; i < res.names.length; i++) {
      const name = res.names[i]!
      const source = res.sources[i]!
      const start = res.starts[i]!
      const end = res.ends[i]!
      const anyType = res.anyTypes[i]
      stats.resources++
      stats.bytes += end - start
      if (anyType !== undefined && anyType !== '' && anyType !== typeUrl) {
        error = `resource ${name}: type ${anyType} in a ${typeUrl} response`
        break
      }
      try {
        const value = decoder.decodeIn ? decoder.decodeIn(source, start, end) : decoder.decode(source.subarray(start, end))
        upserts.push({ name, version: res.versions[i]!, value })
      } catch (err) {
        error = `resource ${name}: ${errorMessage(err)}`
        break
      }
    }
    const removals = res.removedResources.filter((n) => held.has(n))
    stats.removals += removals.length
    if (error === undefined) {
      try {
        const result = await options.handler({ kind, typeUrl, upserts, removals } as DeltaBatch<M>)
        if (result instanceof Error) error = result.message
      } catch (err) {
        error = errorMessage(err)
      }
    }
    if (error !== undefined) {
      log.warn({ event: 'xds_nack', typeUrl, nonce, reason: error }, 'rejected a push (NACK)')
      return reply(error)
    }
    if (held.isEmpty && removals.length === 0 && upserts.length === res.names.length) {
      // A first sync: what the client holds is this response's names and versions, kept as read.
      versions.set(typeUrl, new KnownVersions(new SentVersions(res.names, res.versions)))
    } else {
      for (const u of upserts) held.set(u.name, u.version)
      for (const n of removals) held.delete(n)
    }
    syncedTypes.add(typeUrl)
    reply()
  }

  function lost(id: number, reason: string): void {
    if (id !== attempt || state === 'closed') return
    attempt++ // late events of this attempt are ignored from now on
    lastError = reason
    teardown()
    state = 'disconnected'
    const delay = backoff.next()
    log.warn({ event: 'xds_disconnected', target: options.target, reason, retryInMs: delay }, 'lost istiod; keeping the last state')
    timer = setTimeout(() => void connect(), delay)
  }

  function teardown(): void {
    const c = call
    const s = session
    call = undefined
    session = undefined
    c?.cancel() // RST_STREAM CANCEL; its CANCELLED status comes to an attempt nobody listens to
    s?.close() // after the reset is sent; a peer that never answers does not keep the socket
    if (s !== undefined) setTimeout(() => s.destroy(), 1000).unref()
  }

  return {
    start() {
      if (started) return
      started = true
      void connect()
    },
    get state() {
      return state
    },
    get synced() {
      return kinds.every((k) => syncedTypes.has(options.types[k].typeUrl))
    },
    versions(typeUrl: string) {
      return new Map(versions.get(typeUrl)?.entries() ?? [])
    },
    stats() {
      return { ...stats }
    },
    get lastError() {
      return lastError
    },
    async close() {
      if (state === 'closed') return
      state = 'closed'
      attempt++
      if (timer) clearTimeout(timer)
      teardown()
    },
  }
}

function struct(fields: Readonly<Record<string, string>>) {
  return { fields: Object.fromEntries(Object.entries(fields).map(([k, v]) => [k, { stringValue: v }])) }
}
