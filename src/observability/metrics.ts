// Istio-named metrics on prom-client. No global registry: each ztunnel or waypoint owns one (tests
// run several in one process, and the default registry would merge their series).
import { Counter, Histogram, Registry, processCollector } from './prom.js'
import { createRequestSeries, type RequestSeriesStats } from './request-series.js'
import { HTTP_LABEL_NAMES, TCP_LABEL_NAMES, type HttpLabelInput, type HttpLabelName, type TcpLabelName } from './traffic-labels.js'

/** prom-client's process metric collectors after the CPU counters, in its order; each registers itself. */
const PROCESS_COLLECTORS = [
  'processStartTime',
  'osMemoryHeap',
  'processOpenFileDescriptors',
  'processMaxFileDescriptors',
  'eventLoopLag',
  ...(typeof process.getActiveResourcesInfo === 'function' ? ['processResources'] : []),
  'processHandles',
  'processRequests',
  'heapSizeAndUsed',
  'heapSpacesSizeAndUsed',
  'version',
  'gc',
]

/**
 * How often the event-loop delay histogram (nodejs_eventloop_lag_*) samples, ms. Its timer wakes the
 * process each period: at prom-client's 10 ms an idle proxy spent ~0.6 % of a core on it alone (a bare
 * Node process: 0.61 % at 10 ms, 0.15 % at 100 ms, 0.04 % without), more than everything else an idle
 * ztunnel does. At 100 ms the lag gauges still show a proxy starved of CPU; a stall shorter than
 * the period may fall between two samples.
 */
export const EVENT_LOOP_MONITORING_PRECISION_MS = 100

/**
 * process_cpu_{user,system,}_seconds_total, then the rest of prom-client's process metrics: its own
 * CPU collector is the one that loads @opentelemetry/api (see ./prom.ts), so those three are here
 * (same names and help).
 */
function addProcessMetrics(registry: Registry): void {
  let last = process.cpuUsage()
  // The first counter's collect (run on each scrape) advances all three by the CPU used since the last.
  const user: Counter<never> = new Counter({
    name: 'process_cpu_user_seconds_total',
    help: 'Total user CPU time spent in seconds.',
    registers: [registry],
    collect() {
      const now = process.cpuUsage()
      const userSeconds = (now.user - last.user) / 1e6
      const systemSeconds = (now.system - last.system) / 1e6
      last = now
      user.inc(userSeconds)
      system.inc(systemSeconds)
      total.inc(userSeconds + systemSeconds)
    },
  })
  const system = new Counter({
    name: 'process_cpu_system_seconds_total',
    help: 'Total system CPU time spent in seconds.',
    registers: [registry],
  })
  const total = new Counter({
    name: 'process_cpu_seconds_total',
    help: 'Total user and system CPU time spent in seconds.',
    registers: [registry],
  })
  const config = { register: registry, eventLoopMonitoringPrecision: EVENT_LOOP_MONITORING_PRECISION_MS }
  for (const name of PROCESS_COLLECTORS) processCollector(name)(registry, config)
}

// Istio's default buckets for istio_request_duration_milliseconds (istio/proxy stats plugin).
export const REQUEST_DURATION_BUCKETS_MS = [
  0.5, 1, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 30000, 60000, 300000, 600000, 1800000, 3600000,
]
// Decades from 1 B to 100 MB. Our choice (the spec names no byte buckets): sizes span orders of
// magnitude, so exponential buckets keep the histogram small and still useful.
export const SIZE_BUCKETS_BYTES = [1, 10, 100, 1000, 10000, 100000, 1000000, 10000000, 100000000]

/**
 * Something holding byte counts not yet added to the counters (a live flow). Flows count bytes in
 * plain integers on the data path and hand them over here at close and whenever /metrics is scraped,
 * so a scrape shows long-lived flows' bytes without a label lookup per chunk.
 */
export interface PendingBytes {
  flushBytes(): void
}

export interface Metrics {
  readonly registry: Registry
  /** Content-Type for the /metrics response. */
  readonly contentType: string
  readonly tcp: {
    readonly opened: Counter<TcpLabelName>
    readonly closed: Counter<TcpLabelName>
    /** Server → client bytes. */
    readonly sentBytes: Counter<TcpLabelName>
    /** Client → server bytes. */
    readonly receivedBytes: Counter<TcpLabelName>
  }
  readonly http: {
    readonly requests: Counter<HttpLabelName>
    readonly durationMs: Histogram<HttpLabelName>
    readonly requestBytes: Histogram<HttpLabelName>
    readonly responseBytes: Histogram<HttpLabelName>
  }
  /** One L7 request into `http` (see recordRequest). */
  recordRequest(request: RequestRecord): void
  /** The request series handles recordRequest keeps (./request-series.ts). */
  requestSeriesStats(): RequestSeriesStats
  /** Register a live byte source to flush before each scrape; returns the unregister function. */
  trackPending(source: PendingBytes): () => void
  /** The Prometheus text exposition, after flushing pending bytes. */
  render(): Promise<string>
}

export interface MetricsOptions {
  /** Add prom-client's process metrics (CPU, RSS, event loop) to this registry. Default false. */
  processMetrics?: boolean
  /** Labels on every series, e.g. `{ node: 'node-1' }` when several proxies share a scrape. */
  defaultLabels?: Record<string, string>
}

export function createMetrics(options: MetricsOptions = {}): Metrics {
  const registry = new Registry()
  if (options.defaultLabels) registry.setDefaultLabels(options.defaultLabels)
  const pending = new Set<PendingBytes>()
  const flushPending = (): void => {
    for (const source of pending) source.flushBytes()
  }

  const tcpCounter = (name: string, help: string, flush = false): Counter<TcpLabelName> =>
    new Counter({
      name,
      help,
      labelNames: TCP_LABEL_NAMES,
      registers: [registry],
      // prom-client calls collect() on every scrape, whoever scrapes (render() or registry.metrics()).
      ...(flush ? { collect: flushPending } : {}),
    })
  const httpHistogram = (name: string, help: string, buckets: number[]): Histogram<HttpLabelName> =>
    new Histogram({ name, help, labelNames: HTTP_LABEL_NAMES, buckets, registers: [registry] })

  const tcp = {
    opened: tcpCounter('istio_tcp_connections_opened_total', 'TCP connections opened'),
    closed: tcpCounter('istio_tcp_connections_closed_total', 'TCP connections closed'),
    sentBytes: tcpCounter('istio_tcp_sent_bytes_total', 'Bytes sent to the client (server to client) over TCP connections', true),
    receivedBytes: tcpCounter(
      'istio_tcp_received_bytes_total',
      'Bytes received from the client (client to server) over TCP connections',
      true,
    ),
  }
  const http = {
    requests: new Counter({ name: 'istio_requests_total', help: 'Requests handled', labelNames: HTTP_LABEL_NAMES, registers: [registry] }),
    durationMs: httpHistogram('istio_request_duration_milliseconds', 'Request duration in milliseconds', REQUEST_DURATION_BUCKETS_MS),
    requestBytes: httpHistogram('istio_request_bytes', 'Request body sizes in bytes', SIZE_BUCKETS_BYTES),
    responseBytes: httpHistogram('istio_response_bytes', 'Response body sizes in bytes', SIZE_BUCKETS_BYTES),
  }
  if (options.processMetrics) addProcessMetrics(registry)
  const requestSeries = createRequestSeries(http)

  return {
    registry,
    contentType: registry.contentType,
    tcp,
    http,
    recordRequest: (request) => requestSeries.record(request, request),
    requestSeriesStats: () => requestSeries.stats(),
    trackPending(source) {
      pending.add(source)
      return () => void pending.delete(source)
    },
    render: () => registry.metrics(),
  }
}

export interface RequestRecord extends HttpLabelInput {
  durationMs: number
  requestBytes: number
  responseBytes: number
}

/**
 * One L7 request (waypoints, sidecars): the counter and the three histograms under one label set,
 * through a handle on that series (./request-series.ts), not four label lookups.
 */
export function recordRequest(metrics: Metrics, request: RequestRecord): void {
  metrics.recordRequest(request)
}
