// The waypoint's view of a request's two ends, and the one record per request: Istio's L7 metrics
// with reporter="waypoint". The source comes from the HBONE peer (its verified SPIFFE ID) and the
// `baggage` ztunnel put on the CONNECT; the destination from the service and endpoint chosen.
import { parseBaggage } from '../hbone/headers.js'
import type { SpiffeId } from '../identity/spiffe-id.js'
import { SpiffeId as SpiffeIdClass } from '../identity/spiffe-id.js'
import type { Endpoint, ServedService, WorkloadMetadata } from '../mesh/waypoint-config.js'
import type { Metrics } from '../observability/metrics.js'
import { recordRequest } from '../observability/metrics.js'
import type { FlowPeer, HttpResponseFlag } from '../observability/traffic-labels.js'
import { formatHostPort } from '../net/address.js'

export function sourcePeer(options: { addr: string; identity: SpiffeId; baggageHeader: string | undefined }): FlowPeer {
  const baggage = parseBaggage(options.baggageHeader)
  const workload = baggage['k8s.deployment.name'] ?? baggage['k8s.pod.name'] ?? firstWorkloadName(baggage)
  const peer: FlowPeer = {
    addr: options.addr,
    identity: options.identity,
    namespace: baggage['k8s.namespace.name'] ?? options.identity.namespace,
  }
  if (workload !== undefined) peer.workload = workload
  const service = baggage['service.name']
  if (service !== undefined) {
    peer.canonicalService = service
    peer.app = service
  }
  const version = baggage['service.version']
  if (version !== undefined) {
    peer.canonicalRevision = version
    peer.version = version
  }
  const cluster = baggage['k8s.cluster.name']
  if (cluster !== undefined) peer.cluster = cluster
  return peer
}

function firstWorkloadName(baggage: Record<string, string>): string | undefined {
  for (const [k, v] of Object.entries(baggage))
    if (/^k8s\.[a-z]+\.name$/.test(k) && !['k8s.namespace.name', 'k8s.cluster.name', 'k8s.pod.name'].includes(k)) return v
  return undefined
}

export function destinationPeer(options: {
  addr: string
  service?: Pick<ServedService, 'name' | 'namespace' | 'hostname'>
  endpoint?: Endpoint
}): FlowPeer {
  const peer: FlowPeer = { addr: options.addr }
  if (options.service)
    peer.service = { name: options.service.name, namespace: options.service.namespace, hostname: options.service.hostname }
  const ep = options.endpoint
  if (ep) {
    peer.workload = ep.name
    peer.namespace = ep.namespace
    if (ep.metadata !== undefined) withWorkloadMetadata(peer, ep.metadata)
    const identity = endpointIdentity(ep)
    if (identity !== null) peer.identity = identity
  } else if (options.service) {
    peer.namespace = options.service.namespace
  }
  return peer
}

type ServiceRef = Pick<ServedService, 'name' | 'namespace' | 'hostname'>

// Per endpoint object, then per service object (or none): the peer built once. Both are config
// objects, replaced whole when config changes and never changed in place, so a new config gets new
// peers and an old one's peers go with it.
const endpointPeers = new WeakMap<Endpoint, WeakMap<object, FlowPeer>>()
const NO_SERVICE: object = {}

/**
 * `destinationPeer` of a chosen endpoint (its address `address:targetPort`), one frozen object per
 * (endpoint, service) pair of config objects: a request's destination is then the same object as the
 * previous request's to that endpoint, and the metrics find its series key by identity.
 */
export function endpointDestinationPeer(endpoint: Endpoint, service: ServiceRef | undefined): FlowPeer {
  let byService = endpointPeers.get(endpoint)
  if (byService === undefined) endpointPeers.set(endpoint, (byService = new WeakMap()))
  const key = service ?? NO_SERVICE
  let peer = byService.get(key)
  if (peer === undefined) {
    const addr = formatHostPort(endpoint.address, endpoint.targetPort)
    peer = Object.freeze(destinationPeer(service === undefined ? { addr, endpoint } : { addr, service, endpoint }))
    byService.set(key, peer)
  }
  return peer
}

// Endpoints are config objects that live across requests: their identity is parsed once.
const parsedIdentities = new WeakMap<Endpoint, SpiffeId | null>()

function endpointIdentity(ep: Endpoint): SpiffeId | null {
  let id = parsedIdentities.get(ep)
  if (id === undefined) {
    try {
      id = SpiffeIdClass.parse(ep.identity)
    } catch {
      id = null // a malformed identity in config only loses the label
    }
    parsedIdentities.set(ep, id)
  }
  return id
}

/**
 * A peer's workload labels from its metadata: the workload name, the canonical service and revision
 * (also app and version, as ztunnel reports them), the cluster. Fields that are not strings are skipped.
 */
export function withWorkloadMetadata(peer: FlowPeer, m: WorkloadMetadata): FlowPeer {
  const text = (v: unknown): v is string => typeof v === 'string' && v !== ''
  if (text(m.workloadName)) peer.workload = m.workloadName
  if (text(m.canonicalName)) peer.canonicalService = peer.app = m.canonicalName
  if (text(m.canonicalRevision)) peer.canonicalRevision = peer.version = m.canonicalRevision
  if (text(m.clusterId)) peer.cluster = m.clusterId
  return peer
}

/** Sidecars report `source` (outbound) and `destination` (inbound), as Istio's do. */
export type RequestReporter = 'waypoint' | 'source' | 'destination'

export interface WaypointRequestRecord {
  /** Default `waypoint`. */
  readonly reporter?: RequestReporter | undefined
  readonly src: FlowPeer
  readonly dst: FlowPeer
  readonly requestProtocol: 'http' | 'grpc'
  readonly responseCode: number
  readonly grpcStatus?: number | undefined
  /** Envoy's flags in print order (empty = `-`). */
  readonly responseFlags: readonly HttpResponseFlag[]
  readonly durationMs: number
  readonly requestBytes: number
  readonly responseBytes: number
}

/** One request: istio_requests_total and the three histograms under one label set (reporter="waypoint"). */
export function recordWaypointRequest(metrics: Metrics, r: WaypointRequestRecord): void {
  recordRequest(metrics, {
    reporter: r.reporter ?? 'waypoint',
    src: r.src,
    dst: r.dst,
    securityPolicy: 'mutual_tls',
    requestProtocol: r.requestProtocol,
    responseCode: r.responseCode,
    grpcResponseStatus: r.grpcStatus,
    responseFlags: r.responseFlags,
    durationMs: r.durationMs,
    requestBytes: r.requestBytes,
    responseBytes: r.responseBytes,
  })
}
