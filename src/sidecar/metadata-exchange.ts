// Istio's metadata exchange, as the sidecars use it for HTTP: the calling sidecar describes itself in
// two request headers (src/xds/peer-metadata.ts); the receiving sidecar reads them for the source_*
// labels of its reporter="destination" metrics and removes them before the app sees the request.
// Identity and namespace still come from the caller's certificate when there is one: the headers only
// add what a certificate does not say (workload, canonical service and revision, app, version,
// cluster). A missing or malformed header leaves those labels "unknown".
//
// Differences from Istio: only HTTP requests carry metadata (Istio's TCP exchange over the
// `istio-peer-exchange` ALPN is not done, so TCP flows keep "unknown" source workloads at the
// destination), and responses carry none (the caller already knows the destination from its config).
import type { SpiffeId } from '../identity/spiffe-id.js'
import type { SidecarConfig } from '../mesh/sidecar-config.js'
import type { FlowPeer } from '../observability/traffic-labels.js'
import { forwardableHeaders } from '../l7/http-headers.js'
import { withWorkloadMetadata } from '../l7/telemetry.js'
import {
  decodePeerMetadata,
  encodePeerMetadata,
  PEER_METADATA_HEADER,
  PEER_METADATA_ID_HEADER,
  sidecarNodeId,
} from '../xds/peer-metadata.js'

const CANONICAL_NAME = 'service.istio.io/canonical-name'
const CANONICAL_REVISION = 'service.istio.io/canonical-revision'

/** This sidecar's pod as one end of a flow. Without metadata in the config the pod name stands in for the workload. */
export function selfPeer(c: SidecarConfig, addr: string, identity: SpiffeId): FlowPeer {
  const peer: FlowPeer = { addr, identity, namespace: c.namespace, workload: c.name }
  const m = c.sidecar.pod.peer
  return m === undefined ? peer : withWorkloadMetadata(peer, m)
}

const headersByConfig = new WeakMap<SidecarConfig, Readonly<Record<string, string>>>()

/** The two headers this sidecar adds to every request it sends (computed once per config). */
export function metadataHeaders(c: SidecarConfig): Readonly<Record<string, string>> {
  let h = headersByConfig.get(c)
  if (h === undefined) {
    const p = c.sidecar.pod.peer
    const labels: Record<string, string> = {}
    if (p !== undefined) {
      // The canonical names stand in for app and version, as in ztunnel's reports.
      labels[CANONICAL_NAME] = labels.app = p.canonicalName
      labels[CANONICAL_REVISION] = labels.version = p.canonicalRevision
    }
    h = {
      [PEER_METADATA_ID_HEADER]: sidecarNodeId(c.sidecar.pod.podIp, c.sidecar.pod.name, c.namespace),
      [PEER_METADATA_HEADER]: encodePeerMetadata({
        name: c.sidecar.pod.name,
        namespace: c.namespace,
        workloadName: p?.workloadName ?? c.name,
        ...(p === undefined ? {} : { clusterId: p.clusterId }),
        labels,
      }),
    }
    headersByConfig.set(c, h)
  }
  return h
}

// A destination sees the same few callers' values again and again: decode each once. Bounded: past
// DECODED_MAX distinct values the cache starts over.
const DECODED_MAX = 256
const decoded = new Map<string, ReturnType<typeof decodePeerMetadata>>()
function decodeCached(value: string | undefined): ReturnType<typeof decodePeerMetadata> {
  if (value === undefined) return undefined
  if (decoded.has(value)) return decoded.get(value)
  const m = decodePeerMetadata(value)
  if (decoded.size >= DECODED_MAX) decoded.clear()
  decoded.set(value, m)
  return m
}

/** The two headers the receiving sidecar consumes: never passed on to the app. */
export const METADATA_HEADERS: ReadonlySet<string> = new Set([PEER_METADATA_HEADER, PEER_METADATA_ID_HEADER])

/**
 * What the app receives of an inbound request: its forwardable headers without the metadata ones, in
 * one copy (deleting them from a copy afterwards would turn it into a slow dictionary object).
 */
export function appHeaders(headers: Readonly<Record<string, string | string[] | undefined>>): Record<string, string | string[]> {
  return forwardableHeaders(headers, METADATA_HEADERS)
}

// Per `base` (one per inbound connection and config): the last header value and the peer it made.
// A keep-alive connection's requests carry the same value, so they report the same peer object (the
// request metrics find its labels' key once per object) and the value is neither hashed nor copied again.
const completed = new WeakMap<FlowPeer, { readonly raw: string; readonly peer: FlowPeer }>()

/**
 * The caller of an inbound request: `base` (its address, and identity and namespace from its
 * certificate) completed from the metadata headers (read, not removed: appHeaders leaves them out).
 * The same `base` and header value give the same peer object (never changed after).
 */
export function sourceMetadata(headers: Readonly<Record<string, string | string[] | undefined>>, base: FlowPeer): FlowPeer {
  const raw = headers[PEER_METADATA_HEADER]
  if (typeof raw !== 'string') return base
  const last = completed.get(base)
  if (last !== undefined && last.raw === raw) return last.peer
  const peer = completeSource(base, raw)
  completed.set(base, { raw, peer })
  return peer
}

function completeSource(base: FlowPeer, raw: string): FlowPeer {
  const m = decodeCached(raw)
  if (m === undefined) return base
  const peer: FlowPeer = { ...base }
  if (peer.namespace === undefined && m.namespace !== undefined) peer.namespace = m.namespace
  if (m.workloadName !== undefined) peer.workload = m.workloadName
  if (m.clusterId !== undefined) peer.cluster = m.clusterId
  const label = (k: string): string | undefined => m.labels[k]
  const canonical = label(CANONICAL_NAME)
  const revision = label(CANONICAL_REVISION)
  if (canonical !== undefined) peer.canonicalService = canonical
  if (revision !== undefined) peer.canonicalRevision = revision
  if (label('app') !== undefined) peer.app = label('app')!
  if (label('version') !== undefined) peer.version = label('version')!
  return peer
}
