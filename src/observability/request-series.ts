// Istio's per-request metrics (istio_requests_total and the three histograms, one label set of 25
// labels) without prom-client's per-call work. Each prom-client `inc`/`observe` checks every label
// name against the label list and builds a ~1 KB string key from all 25 names and values, then looks
// it up in an object: four times per request, ≈ 10-25 µs, most of the metrics cost a waypoint paid
// per request (issue 14). Here a request's series is found by one shorter key in a bounded Map (the
// source and destination peers' parts built once per peer object: a tunnel's or connection's source,
// an endpoint's destination) and updated in place:
// a handle on the very values prom-client keeps for that series, updated with prom-client's own
// arithmetic in the same order, so the scraped text is byte for byte what prom-client alone would
// print. The first request of a series (and the first after its handle was evicted) goes through
// prom-client's API, which creates the series and yields its key (`inc` returns it).
//
// The handles read prom-client's per-metric `hashMap` (its series store, pinned prom-client 15):
// test/unit/observability/request-series.test.ts fails if that ever stops matching the public path.
import type { Counter, Histogram } from './prom.js'
import type { FlowPeer, HttpLabelInput, HttpLabelName } from './traffic-labels.js'
import { formatResponseFlags, httpLabels } from './traffic-labels.js'

/** What one request adds: the counter by one, each histogram by its value. */
export interface RequestValues {
  durationMs: number
  requestBytes: number
  responseBytes: number
}

export interface RequestMetricSet {
  readonly requests: Counter<HttpLabelName>
  readonly durationMs: Histogram<HttpLabelName>
  readonly requestBytes: Histogram<HttpLabelName>
  readonly responseBytes: Histogram<HttpLabelName>
}

export interface RequestSeriesStats {
  /** Handles held now (≤ the cap). */
  readonly size: number
  /** Handles dropped to stay under the cap (their series stay; the next request of one re-finds it). */
  readonly evictions: number
}

/** Distinct label sets kept with a handle; more (a label churning per request) evict the oldest. */
export const MAX_REQUEST_SERIES_HANDLES = 2048

interface CounterValue {
  value: number
}
interface HistogramValue {
  sum: number
  count: number
  bucketValues: Record<string, number>
}
/** The part of a prom-client metric the handles use. */
interface SeriesStore<V> {
  hashMap: Record<string, V>
}

interface Handle {
  readonly maps: readonly [object, object, object, object]
  readonly requests: CounterValue
  readonly durationMs: HistogramValue
  readonly requestBytes: HistogramValue
  readonly responseBytes: HistogramValue
}

/** A (source, destination) pair's last key and the values it was built from. */
interface KeyMemo {
  readonly reporter: string
  readonly securityPolicy: string | undefined
  readonly requestProtocol: string
  readonly responseCode: number
  readonly grpcResponseStatus: number | undefined
  readonly flags: string
  readonly key: string
}

export interface RequestSeries {
  record(input: HttpLabelInput, values: RequestValues): void
  stats(): RequestSeriesStats
}

export function createRequestSeries(metrics: RequestMetricSet, maxHandles = MAX_REQUEST_SERIES_HANDLES): RequestSeries {
  const handles = new Map<string, Handle>()
  let evictions = 0
  const stores = [metrics.requests, metrics.durationMs, metrics.requestBytes, metrics.responseBytes] as unknown as [
    SeriesStore<CounterValue>,
    SeriesStore<HistogramValue>,
    SeriesStore<HistogramValue>,
    SeriesStore<HistogramValue>,
  ]
  const bounds = [metrics.durationMs, metrics.requestBytes, metrics.responseBytes].map(bucketKeys) as [Bucket[], Bucket[], Bucket[]]

  // The first request of a series: prom-client's own path, then a handle on what it stored.
  const open = (key: string, input: HttpLabelInput, values: RequestValues): void => {
    const labels = httpLabels(input)
    const labelHash = (metrics.requests.inc(labels) as unknown as { labelHash?: unknown } | undefined)?.labelHash
    metrics.durationMs.observe(labels, values.durationMs)
    metrics.requestBytes.observe(labels, values.requestBytes)
    metrics.responseBytes.observe(labels, values.responseBytes)
    const [c, d, q, s] = stores
    if (typeof labelHash !== 'string') return // not the prom-client the handles know: its API only
    const [requests, durationMs, requestBytes, responseBytes] = [
      c.hashMap[labelHash],
      d.hashMap[labelHash],
      q.hashMap[labelHash],
      s.hashMap[labelHash],
    ]
    if (requests === undefined || durationMs === undefined || requestBytes === undefined || responseBytes === undefined) return
    const handle: Handle = { maps: [c.hashMap, d.hashMap, q.hashMap, s.hashMap], requests, durationMs, requestBytes, responseBytes }
    if (handles.size >= maxHandles) {
      // Oldest first (Map order): a bounded cache, never a bounded set of series.
      handles.delete(handles.keys().next().value as string)
      evictions++
    }
    handles.set(key, handle)
  }

  // A request's key: its source's id, its destination's id, then the rest of its label values. A
  // source peer lives as long as its tunnel or connection, a waypoint's destination peer as long as
  // its endpoint and service config objects (telemetry's endpointDestinationPeer): each peer's id is
  // found once per peer object, and the same labels get the same id (a sidecar builds its peers per
  // request). Each value is length-prefixed, so no value (a baggage-supplied workload name, say) can
  // make two label sets share a key. A peer object is never changed once recorded (sourcePeer,
  // selfPeer, destinationPeer and the sidecar build them whole; endpointDestinationPeer freezes them).
  const peerIds = new WeakMap<FlowPeer, string>()
  const labelIds = new Map<string, string>()
  let nextId = 0
  const peerId = (peer: FlowPeer): string => {
    let id = peerIds.get(peer)
    if (id !== undefined) return id
    const labels = peerKey(peer)
    id = labelIds.get(labels)
    if (id === undefined) {
      // Ids are never reused, so a cleared table only costs new ids (and handles) for the same labels.
      if (labelIds.size >= maxHandles) labelIds.clear()
      labelIds.set(labels, (id = `${nextId++}|`))
    }
    peerIds.set(peer, id)
    return id
  }
  const buildKey = (input: HttpLabelInput, flags: string): string =>
    peerId(input.src) +
    peerId(input.dst) +
    part(input.reporter) +
    part(input.securityPolicy) +
    part(input.requestProtocol) +
    part(String(input.responseCode)) +
    part(input.grpcResponseStatus === undefined ? '' : String(input.grpcResponseStatus)) +
    part(flags)
  // The last key per (source, destination) peer objects, when the destination is frozen (a
  // waypoint's endpointDestinationPeer, which lives with its config objects): the next request
  // between them with the same values (most: same code, no flags) takes the key as it is, with no
  // string built. A destination made per request (a sidecar's) is not remembered: it would only add.
  const lastKeys = new WeakMap<FlowPeer, WeakMap<FlowPeer, KeyMemo>>()
  const seriesKey = (input: HttpLabelInput): string => {
    const flags = formatResponseFlags(input.responseFlags)
    if (!Object.isFrozen(input.dst)) return buildKey(input, flags)
    let byDst = lastKeys.get(input.src)
    if (byDst === undefined) lastKeys.set(input.src, (byDst = new WeakMap()))
    const m = byDst.get(input.dst)
    if (
      m !== undefined &&
      m.reporter === input.reporter &&
      m.securityPolicy === input.securityPolicy &&
      m.requestProtocol === input.requestProtocol &&
      m.responseCode === input.responseCode &&
      m.grpcResponseStatus === input.grpcResponseStatus &&
      m.flags === flags
    )
      return m.key
    const key = buildKey(input, flags)
    const memo: KeyMemo = {
      reporter: input.reporter,
      securityPolicy: input.securityPolicy,
      requestProtocol: input.requestProtocol,
      responseCode: input.responseCode,
      grpcResponseStatus: input.grpcResponseStatus,
      flags,
      key,
    }
    byDst.set(input.dst, memo)
    return key
  }

  return {
    record(input, values) {
      const key = seriesKey(input)
      const h = handles.get(key)
      // A reset metric (registry.resetMetrics) has a new store: the handle would count into the old one.
      if (h === undefined || !current(h, stores) || !finite(values)) {
        if (h !== undefined) handles.delete(key)
        return open(key, input, values)
      }
      h.requests.value += 1
      observe(h.durationMs, bounds[0], values.durationMs)
      observe(h.requestBytes, bounds[1], values.requestBytes)
      observe(h.responseBytes, bounds[2], values.responseBytes)
    },
    stats: () => ({ size: handles.size, evictions }),
  }
}

function current(h: Handle, stores: readonly SeriesStore<unknown>[]): boolean {
  return (
    h.maps[0] === stores[0]!.hashMap &&
    h.maps[1] === stores[1]!.hashMap &&
    h.maps[2] === stores[2]!.hashMap &&
    h.maps[3] === stores[3]!.hashMap
  )
}

/** prom-client refuses non-finite values (TypeError): those take its path, which throws as before. */
function finite(v: RequestValues): boolean {
  return Number.isFinite(v.durationMs) && Number.isFinite(v.requestBytes) && Number.isFinite(v.responseBytes)
}

/** An upper bound and its key in a series' `bucketValues`. */
interface Bucket {
  readonly bound: number
  readonly key: string
}

function bucketKeys(h: Histogram<HttpLabelName>): Bucket[] {
  return ((h as unknown as { upperBounds: number[] }).upperBounds ?? []).map((bound) => ({ bound, key: String(bound) }))
}

/** prom-client's observe on one series: the first bucket whose bound is ≥ the value (none: +Inf only), sum, count. */
function observe(v: HistogramValue, buckets: readonly Bucket[], value: number): void {
  v.sum += value
  v.count += 1
  for (let i = 0; i < buckets.length; i++) {
    const b = buckets[i]!
    if (value <= b.bound) {
      v.bucketValues[b.key]! += 1
      return
    }
  }
}

function peerKey(p: FlowPeer): string {
  return (
    part(p.workload) +
    part(p.canonicalService) +
    part(p.canonicalRevision) +
    part(p.namespace) +
    part(p.identity?.toString()) +
    part(p.app) +
    part(p.version) +
    part(p.cluster) +
    part(p.service?.hostname) +
    part(p.service?.namespace) +
    part(p.service?.name)
  )
}

/** `undefined` and `''` alike: both are the label value `unknown` (traffic-labels' `known`). */
function part(v: string | undefined): string {
  return v === undefined ? '0:' : `${v.length}:${v}`
}
