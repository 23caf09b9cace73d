// The Delta ADS server (istiod's side of `DeltaAggregatedResources`). Per stream it tracks, per
// type URL, the version of every resource the client holds; a push recomputes each client's
// resources from the providers and sends only what differs, plus the names that disappeared.
//
// At scale (10,000s of resources, 100s of clients) two things are done once instead of per client:
// - encoding: each resource's entry is encoded once per (type, name, version) and the same bytes
//   go to every client (./resource-frames.ts);
// - the diff: a push compares the provider's resources with the previous push's once per type (a
//   snapshot), and a client that held exactly the previous snapshot only looks at the names that
//   changed. A client that did not (new stream, changed subscription, a provider that gives it its
//   own filtered map) gets the full per-client diff, as before, and is then in step again.
//
// Invariants:
// - `known` of a subscription is what we believe the client holds: the initial_resource_versions
//   of its (re)connect, then updated when we send. It is not rolled back on NACK (Istio does not
//   resend a rejected resource either; the client's next reconnect reports what it really holds).
// - The first request of each type always gets a response, even an empty one: clients wait for
//   it to call themselves synced.
// - A stream is served only after its bearer token authenticated; until then nothing is read.
import { randomUUID } from 'node:crypto'
import { errorMessage } from '../errors.js'
import { childLogger, createLogger } from '../observability/logger.js'
import type { Logger } from '../observability/logger.js'
import { bearerToken } from './bearer-token.js'
import { GrpcCode } from './grpc/codes.js'
import type { GrpcStatus } from './grpc/status.js'
import type { DeltaRequest } from './grpc-definitions.js'
import { CLUSTER_ID_HEADER } from './node-id.js'
import { AGGREGATED_DISCOVERY_SERVICE } from './grpc-definitions.js'
import type { GrpcServerCall, GrpcServiceBinding } from './grpc-server.js'
import type { AdsPeer, ResourceProvider, VersionedResource } from './resource-provider.js'
import { KnownVersions } from './known-versions.js'
import { deltaResponseParts, FrameJoiner, ResourceFrameCache } from './resource-frames.js'
import type { FrameJoinStats, ResourceFrameStats } from './resource-frames.js'

export interface DeltaAdsMetrics {
  pushed(e: { readonly typeUrl: string; readonly resources: number; readonly removals: number; readonly bytes: number }): void
  /** latencyMs: from sending the response to its ACK. */
  acked(e: { readonly typeUrl: string; readonly latencyMs: number }): void
  nacked(e: { readonly typeUrl: string }): void
  connectedProxies(count: number): void
}

export interface DeltaAdsServerOptions {
  readonly providers: readonly ResourceProvider[]
  /** The node a bearer token belongs to, or undefined to refuse the stream (UNAUTHENTICATED). */
  authenticate(token: string): string | undefined | Promise<string | undefined>
  readonly metrics?: DeltaAdsMetrics
  readonly logger?: Logger
  readonly now?: () => number
  /** How many NACKs status() remembers (most recent). Default 100. */
  readonly maxNackRecords?: number
  /** system_version_info of every response (Istio's istiod: its push version). Default: pushes so far. */
  readonly versionInfo?: () => string
}

export interface NackRecord {
  readonly nodeId: string
  readonly nodeName: string
  readonly typeUrl: string
  readonly nonce: string
  readonly code: number
  readonly reason: string
  readonly atMs: number
}

export interface SubscriptionStatus {
  readonly typeUrl: string
  readonly wildcard: boolean
  readonly resources: number
  readonly lastNonceSent: string | undefined
  readonly lastNonceAcked: string | undefined
}

export interface ConnectionStatus {
  readonly streamId: string
  readonly nodeId: string
  readonly nodeName: string
  /** The `clusterid` header Istio's proxies send (absent from our older clients). */
  readonly clusterId?: string
  /** The first request's node metadata, as strings (Istio's NAME, NAMESPACE, INSTANCE_IPS, …). */
  readonly nodeMetadata?: Readonly<Record<string, string>>
  readonly address: string
  readonly connectedAtMs: number
  readonly subscriptions: readonly SubscriptionStatus[]
}

export interface DeltaAdsStatus {
  readonly connections: readonly ConnectionStatus[]
  readonly nacks: readonly NackRecord[]
}

export interface DeltaAdsServer {
  /** Register on a gRPC server (./grpc-server.ts); its close() ends the streams. */
  readonly service: GrpcServiceBinding
  /** Providers changed: diff and send to every client subscribed to `typeUrl` (all types if absent). */
  push(typeUrl?: string): void
  status(): DeltaAdsStatus
  /** The encode-once cache: resources encoded so far, entries served from it, entries held. */
  encodeStats(): ResourceFrameStats
  /**
   * Response bodies joined from their entries, bodies shared again (clients sent the same entries),
   * and full sends repeated from the last one of their type without a lookup per resource.
   */
  joinStats(): FrameJoinStats & { readonly fullSendReuses: number }
  /** Ends every stream with UNAVAILABLE (clients reconnect elsewhere or later) and refuses new ones. */
  close(): void
}

interface Subscription {
  readonly typeUrl: string
  wildcard: boolean
  readonly names: Set<string>
  known: KnownVersions
  lastNonceSent: string | undefined
  lastNonceAcked: string | undefined
  /** The snapshot generation of this type that `known` is in step with (see Snapshot), if any. */
  basis: number | undefined
}

/**
 * The resources of one type as the last push saw them (name → version), and what that push changed.
 * A subscription whose `known` equals generation `gen - 1` (restricted to what it wants) only needs
 * `changed` and `removed` to be brought to `gen`.
 */
interface Snapshot {
  /** The provider's map this generation was read from: only clients given the same map can use it. */
  view: ReadonlyMap<string, VersionedResource> | undefined
  readonly versions: Map<string, string>
  gen: number
  /** The push (see `pushes`) that made this generation. */
  push: number
  changed: string[]
  removed: string[]
}

/**
 * The last full send of a type (a wildcard client holding nothing: every fresh client of a sync):
 * the provider's entries in order, what was sent for them, and the snapshot they joined. The next
 * such client given the same map with the same entries (the same VersionedResource objects, in
 * the same order: a sequential walk, no lookups) is sent the same, without a lookup per resource.
 */
interface FullSend {
  readonly view: ReadonlyMap<string, VersionedResource>
  readonly names: readonly string[]
  readonly resources: readonly VersionedResource[]
  readonly parts: readonly Buffer[]
  readonly bytes: number
  /** name → version of what was sent: the known versions every client given this send shares. */
  readonly known: ReadonlyMap<string, string>
  /** The snapshot generation (of `snapshots`) when this was computed, and the one the client joined then. */
  readonly snapshotGen: number | undefined
  readonly joined: number | undefined
}

interface Sent {
  readonly typeUrl: string
  readonly atMs: number
}

interface Stream {
  readonly id: string
  readonly call: GrpcServerCall
  readonly peer: AdsPeer & { nodeId: string }
  readonly clusterId: string | undefined
  nodeMetadata: Readonly<Record<string, string>> | undefined
  readonly connectedAtMs: number
  readonly subscriptions: Map<string, Subscription>
  /** Nonces awaiting (N)ACK; bounded, oldest dropped. */
  readonly inFlight: Map<string, Sent>
  nonces: number
}

const MAX_IN_FLIGHT = 64
const WILDCARD = '*'
const SHUTTING_DOWN: GrpcStatus = { code: GrpcCode.UNAVAILABLE, details: 'xDS server is shutting down' }
const METHOD = AGGREGATED_DISCOVERY_SERVICE.DeltaAggregatedResources

export function createDeltaAdsServer(options: DeltaAdsServerOptions): DeltaAdsServer {
  const log = childLogger(options.logger ?? createLogger({ component: 'xds', level: 'silent' }), 'xds')
  const now = options.now ?? Date.now
  const metrics = options.metrics
  const providers = new Map(options.providers.map((p) => [p.typeUrl, p]))
  const streams = new Set<Stream>()
  const nacks: NackRecord[] = []
  const maxNacks = options.maxNackRecords ?? 100
  let closed = false
  // Istio's istiod fills system_version_info with its push version; ours is the caller's (istiod:
  // the config version) or a count of pushes.
  let pushes = 0
  const versionInfo = (): string => options.versionInfo?.() ?? String(pushes)
  const frames = new ResourceFrameCache()
  const joiner = new FrameJoiner()
  const fullSends = new Map<string, FullSend>()
  let fullSendReuses = 0
  const snapshots = new Map<string, Snapshot>()

  function handle(call: GrpcServerCall): void {
    if (closed) return call.end(SHUTTING_DOWN)
    const token = bearerToken(call.metadata)
    const refuse = (details: string) => {
      log.warn({ event: 'xds_unauthenticated', peer: call.peer, reason: details }, 'xDS stream refused')
      call.end({ code: GrpcCode.UNAUTHENTICATED, details })
    }
    if (token === undefined) return refuse('missing bearer token (authorization: Bearer <token>)')
    Promise.resolve()
      .then(() => options.authenticate(token))
      .then(
        (nodeName) => {
          if (nodeName === undefined) return refuse('bearer token not accepted')
          if (call.ended) return
          if (closed) return call.end(SHUTTING_DOWN)
          serve(call, nodeName)
        },
        (err: unknown) => {
          log.error({ event: 'xds_authenticate_failed', err: errorMessage(err) }, 'authenticate threw')
          call.end({ code: GrpcCode.INTERNAL, details: 'authentication failed' })
        },
      )
  }

  function serve(call: GrpcServerCall, nodeName: string): void {
    const stream: Stream = {
      id: randomUUID(),
      call,
      peer: { nodeId: '', nodeName, address: call.peer },
      clusterId: headerValue(call, CLUSTER_ID_HEADER),
      nodeMetadata: undefined,
      connectedAtMs: now(),
      subscriptions: new Map(),
      inFlight: new Map(),
      nonces: 0,
    }
    streams.add(stream)
    metrics?.connectedProxies(streams.size)
    log.info({ event: 'xds_connected', stream: stream.id, node: nodeName, peer: stream.peer.address }, 'xDS stream connected')
    let gone = false
    const drop = (why: string) => {
      if (gone) return
      gone = true
      streams.delete(stream)
      metrics?.connectedProxies(streams.size)
      log.info({ event: 'xds_disconnected', stream: stream.id, node: stream.peer.nodeId, reason: why }, 'xDS stream closed')
    }
    const fail = (status: GrpcStatus) => {
      drop(status.details)
      call.end(status)
    }
    call.onCancel((reason) => drop(reason))
    call.read({
      onMessage: (bytes) => {
        let req: DeltaRequest
        try {
          req = METHOD.requestDeserialize(bytes)
        } catch (err) {
          log.warn({ event: 'xds_request_invalid', stream: stream.id, err: errorMessage(err) }, 'request does not decode')
          return fail({ code: GrpcCode.INTERNAL, details: `DeltaDiscoveryRequest does not decode: ${errorMessage(err)}` })
        }
        try {
          onRequest(stream, req)
        } catch (err) {
          log.error({ event: 'xds_request_failed', stream: stream.id, err: errorMessage(err) }, 'cannot handle request')
          fail({ code: GrpcCode.INTERNAL, details: 'cannot handle request' })
        }
      },
      onHalfClose: () => {
        drop('client closed')
        call.end({ code: GrpcCode.OK, details: '' })
      },
    })
  }

  function onRequest(stream: Stream, req: DeltaRequest): void {
    if (stream.peer.nodeId === '' && req.node?.id) {
      stream.peer.nodeId = req.node.id
      stream.nodeMetadata = structStrings(req.node.metadata)
    }
    const typeUrl = req.typeUrl ?? ''
    const nonce = req.responseNonce ?? ''
    if (nonce !== '') onAckOrNack(stream, typeUrl, nonce, req)
    let sub = stream.subscriptions.get(typeUrl)
    const subscribe = req.resourceNamesSubscribe ?? []
    const unsubscribe = req.resourceNamesUnsubscribe ?? []
    if (sub === undefined) {
      sub = {
        typeUrl,
        // Delta xDS: an empty first subscribe list, or "*", is a wildcard subscription.
        wildcard: subscribe.length === 0 || subscribe.includes(WILDCARD),
        names: new Set(subscribe.filter((n) => n !== WILDCARD)),
        known: KnownVersions.of(Object.entries(req.initialResourceVersions ?? {})),
        lastNonceSent: undefined,
        lastNonceAcked: undefined,
        basis: undefined,
      }
      stream.subscriptions.set(typeUrl, sub)
      if (!providers.has(typeUrl))
        log.warn({ event: 'xds_unknown_type', node: stream.peer.nodeId, typeUrl }, 'subscription to a type this server does not serve')
      send(stream, sub, true, [], false)
      return
    }
    if (subscribe.length === 0 && unsubscribe.length === 0) return
    for (const n of subscribe)
      if (n === WILDCARD) sub.wildcard = true
      else sub.names.add(n)
    for (const n of unsubscribe) {
      if (n === WILDCARD) sub.wildcard = false
      else {
        sub.names.delete(n)
        sub.known.delete(n) // the client forgets it: no removal is owed
      }
    }
    // Names subscribed explicitly are sent even if the client claims to have them (xDS spec).
    send(
      stream,
      sub,
      false,
      subscribe.filter((n) => n !== WILDCARD),
      false,
    )
  }

  function onAckOrNack(stream: Stream, typeUrl: string, nonce: string, req: DeltaRequest): void {
    const sent = stream.inFlight.get(nonce)
    stream.inFlight.delete(nonce)
    const sub = stream.subscriptions.get(typeUrl)
    const error = req.errorDetail
    if (error) {
      const record: NackRecord = {
        nodeId: stream.peer.nodeId,
        nodeName: stream.peer.nodeName,
        typeUrl,
        nonce,
        code: error.code ?? 0,
        reason: error.message ?? '',
        atMs: now(),
      }
      nacks.push(record)
      if (nacks.length > maxNacks) nacks.splice(0, nacks.length - maxNacks)
      metrics?.nacked({ typeUrl })
      log.warn({ event: 'xds_nack', node: record.nodeId, typeUrl, nonce, reason: record.reason }, 'client rejected a push (NACK)')
      return
    }
    if (sub) sub.lastNonceAcked = nonce
    if (sent) metrics?.acked({ typeUrl, latencyMs: now() - sent.atMs })
    log.debug({ event: 'xds_ack', node: stream.peer.nodeId, typeUrl, nonce }, 'ACK')
  }

  /**
   * The snapshot of `typeUrl` for the current push, read from `current` the first time the push asks
   * (once per type and push, however many clients).
   */
  function snapshotOf(typeUrl: string, current: ReadonlyMap<string, VersionedResource>): Snapshot {
    let snap = snapshots.get(typeUrl)
    if (snap === undefined) {
      snap = { view: undefined, versions: new Map(), gen: 0, push: -1, changed: [], removed: [] }
      snapshots.set(typeUrl, snap)
    }
    if (snap.push === pushes) return snap
    const changed: string[] = []
    const removed: string[] = []
    for (const [name, r] of current) {
      if (snap.versions.get(name) === r.version) continue
      changed.push(name)
      snap.versions.set(name, r.version)
    }
    if (snap.versions.size > current.size) {
      for (const name of snap.versions.keys()) {
        if (current.has(name)) continue
        removed.push(name)
        frames.forget(typeUrl, name)
      }
      for (const name of removed) snap.versions.delete(name)
    }
    snap.view = current
    snap.gen++
    snap.push = pushes
    snap.changed = changed
    snap.removed = removed
    return snap
  }

  /**
   * Diffs the provider's resources against `known` and sends the difference (always, if `initial`).
   * In a push (`inPush`), a subscription in step with the previous snapshot only diffs the names it changed.
   */
  function send(stream: Stream, sub: Subscription, initial: boolean, forced: readonly string[], inPush: boolean): void {
    const provider = providers.get(sub.typeUrl)
    let current: ReadonlyMap<string, VersionedResource>
    try {
      current = provider ? provider.resources(stream.peer.nodeId, stream.peer) : new Map()
    } catch (err) {
      log.error(
        { event: 'xds_provider_failed', typeUrl: sub.typeUrl, node: stream.peer.nodeId, err: errorMessage(err) },
        'resource provider threw; push skipped',
      )
      sub.basis = undefined
      if (!initial) return
      current = new Map()
    }
    const wanted = (name: string) => sub.wildcard || sub.names.has(name)
    // Only a push reads a snapshot; a client given another map than the snapshot's diffs in full.
    const snap = inPush && provider ? snapshotOf(sub.typeUrl, current) : undefined
    const inStep = snap !== undefined && snap.view === current
    const names: string[] = []
    const versions: string[] = []
    const parts: Buffer[] = []
    let bytes = 0
    const add = (name: string, r: VersionedResource): void => {
      names.push(name)
      versions.push(r.version)
      parts.push(frames.frame(sub.typeUrl, name, r))
      bytes += r.bytes.length
    }
    let removed: string[]
    let joined: number | undefined
    /** A full send: what goes out (the memo's parts), how many, and the known versions the client then shares. */
    let shared: { readonly parts: readonly Buffer[]; readonly count: number; readonly known: ReadonlyMap<string, string> } | undefined
    if (inStep && sub.basis === snap.gen) {
      removed = [] // already sent in this push (a client cannot be behind its own basis)
    } else if (inStep && sub.basis === snap.gen - 1) {
      for (const name of snap.changed) {
        if (!wanted(name)) continue
        const r = current.get(name)!
        if (sub.known.get(name) !== r.version) add(name, r)
      }
      removed = snap.removed.filter((name) => sub.known.has(name))
    } else {
      // Outside a push (a new subscription, a reconnect), the client may join the last push's
      // snapshot if the provider still serves that map with exactly its versions: otherwise the
      // next push would diff this client in full again.
      // Before the first push of a type, the first client's send makes its snapshot, so that clients
      // of the very first sync join one too.
      const last = !inPush && provider ? (snapshots.get(sub.typeUrl) ?? snapshotOf(sub.typeUrl, current)) : undefined
      const full = !inPush && provider !== undefined && sub.wildcard && sub.known.size === 0 && forced.length === 0
      const memo = full ? fullSends.get(sub.typeUrl) : undefined
      if (memo !== undefined && memo.snapshotGen === last?.gen && sameEntries(memo, current)) {
        shared = { parts: memo.parts, count: memo.names.length, known: memo.known }
        bytes = memo.bytes
        joined = memo.joined
        fullSendReuses++
      } else {
        let joins = last !== undefined && last.view === current && last.versions.size === current.size
        for (const [name, r] of current) {
          if (joins && last!.versions.get(name) !== r.version) joins = false
          if (!wanted(name)) continue
          if (sub.known.get(name) === r.version && !forced.includes(name)) continue
          add(name, r)
        }
        if (joins) joined = last!.gen
        if (full) {
          const memo: FullSend = {
            view: current,
            names: names.slice(),
            resources: [...current.values()],
            parts: Object.freeze(parts.slice()),
            bytes,
            known: new Map(names.map((name, i) => [name, versions[i]!])),
            snapshotGen: last?.gen,
            joined,
          }
          fullSends.set(sub.typeUrl, memo)
          shared = { parts: memo.parts, count: memo.names.length, known: memo.known }
        }
      }
      removed = sub.known.size === 0 ? [] : [...sub.known.keys()].filter((name) => !current.has(name) || !wanted(name))
    }
    sub.basis = inStep ? snap.gen : joined
    const count = shared?.count ?? names.length
    if (!initial && count === 0 && removed.length === 0) return
    // A full send goes to a client holding nothing (and nothing is removed): it holds exactly what was sent.
    if (shared !== undefined) sub.known = new KnownVersions(shared.known)
    else for (let i = 0; i < names.length; i++) sub.known.set(names[i]!, versions[i]!)
    for (const name of removed) sub.known.delete(name)
    const nonce = `${stream.id.slice(0, 8)}-${++stream.nonces}`
    sub.lastNonceSent = nonce
    stream.inFlight.set(nonce, { typeUrl: sub.typeUrl, atMs: now() })
    if (stream.inFlight.size > MAX_IN_FLIGHT) stream.inFlight.delete(stream.inFlight.keys().next().value!)
    stream.call.write(
      deltaResponseParts(
        { systemVersionInfo: versionInfo(), typeUrl: sub.typeUrl, nonce, removedResources: removed },
        joiner.join(sub.typeUrl, shared?.parts ?? parts),
      ),
    )
    metrics?.pushed({ typeUrl: sub.typeUrl, resources: count, removals: removed.length, bytes })
    log.debug(
      { event: 'xds_push', node: stream.peer.nodeId, typeUrl: sub.typeUrl, nonce, resources: count, removed: removed.length },
      'push',
    )
  }

  return {
    service: {
      methods: { [METHOD.path]: { kind: 'stream', handle } },
      close: () => closeAll(),
    },
    push(typeUrl?: string) {
      pushes++
      for (const stream of streams) {
        for (const sub of stream.subscriptions.values()) {
          if (typeUrl === undefined || sub.typeUrl === typeUrl) send(stream, sub, false, [], true)
        }
      }
    },
    status() {
      return {
        connections: [...streams].map((s) => ({
          streamId: s.id,
          nodeId: s.peer.nodeId,
          nodeName: s.peer.nodeName,
          address: s.peer.address,
          connectedAtMs: s.connectedAtMs,
          ...(s.clusterId === undefined ? {} : { clusterId: s.clusterId }),
          ...(s.nodeMetadata === undefined ? {} : { nodeMetadata: s.nodeMetadata }),
          subscriptions: [...s.subscriptions.values()].map((sub) => ({
            typeUrl: sub.typeUrl,
            wildcard: sub.wildcard,
            resources: sub.known.size,
            lastNonceSent: sub.lastNonceSent,
            lastNonceAcked: sub.lastNonceAcked,
          })),
        })),
        nacks: [...nacks],
      }
    },
    encodeStats: () => frames.stats(),
    joinStats: () => ({ ...joiner.stats(), fullSendReuses }),
    close: () => closeAll(),
  }

  function closeAll(): void {
    closed = true
    for (const s of [...streams]) s.call.end(SHUTTING_DOWN)
    streams.clear()
    metrics?.connectedProxies(0)
  }
}

/** `current` is the map of `memo`, holding the same resource objects under the same names in the same order. */
function sameEntries(memo: FullSend, current: ReadonlyMap<string, VersionedResource>): boolean {
  if (memo.view !== current || current.size !== memo.names.length) return false
  let i = 0
  for (const [name, r] of current) {
    if (memo.resources[i] !== r || memo.names[i] !== name) return false
    i++
  }
  return true
}

function headerValue(call: GrpcServerCall, name: string): string | undefined {
  const v = call.metadata[name]
  const first = Array.isArray(v) ? v[0] : v
  return typeof first === 'string' && first !== '' ? first : undefined
}

/** The string fields of a google.protobuf.Struct (Istio's node metadata is strings). */
function structStrings(m: NonNullable<DeltaRequest['node']>['metadata']): Record<string, string> | undefined {
  const fields = m?.fields
  if (!fields) return undefined
  const out: Record<string, string> = {}
  for (const [k, v] of Object.entries(fields)) if (typeof v.stringValue === 'string') out[k] = v.stringValue
  return out
}
