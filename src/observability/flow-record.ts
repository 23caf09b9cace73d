// One record per connection (style rule 7, ztunnel's ConnectionResult). Whatever ends a flow (a
// clean FIN, a reset, a policy re-check, a drain, a failed connect), the first close() writes the one
// `connection complete` access-log line and counts the close; later calls are ignored. Callers never
// log or count connections themselves.
//
// Bytes: addSent/addReceived only add to plain integers; the counters get the difference when
// /metrics is scraped and at close. Istio reports TCP bytes periodically and at close as well
// (Envoy's tcp_reporting_duration, ztunnel at the end of the copy), and a Prometheus label lookup per
// chunk would sit on the hottest path we have.
import { randomUUID } from 'node:crypto'
import { epochNow } from '../clock.js'
import { errorCode, errorMessage } from '../errors.js'
import { childLogger, type Logger } from './logger.js'
import type { Metrics } from './metrics.js'
import { responseFlagFor } from './response-flags.js'
import {
  tcpLabels,
  type ConnectionSecurityPolicy,
  type FlowPeer,
  type Reporter,
  type ResponseFlag,
  type TcpLabels,
} from './traffic-labels.js'

// Callers build peers next to the flow they open.
export type { FlowPeer } from './traffic-labels.js'

export type FlowDirection = 'outbound' | 'inbound'

export interface FlowOptions {
  reporter: Reporter
  direction: FlowDirection
  src: FlowPeer
  dst: FlowPeer
  /** The HBONE endpoint (`ip:15008` of the pod or waypoint) when the flow is tunnelled. */
  dstHboneAddr?: string
  securityPolicy: ConnectionSecurityPolicy
  /** Any logger of the tree; the record logs under scope `access`, like ztunnel. */
  logger: Logger
  metrics: Metrics
  /** Milliseconds since the epoch; injected by tests. */
  now?: () => number
  id?: string
}

export interface FlowCloseOptions {
  /** Why the flow failed; absent for a flow that ended normally. */
  error?: unknown
  /** Overrides the flag derived from `error`. */
  responseFlags?: ResponseFlag
}

export interface FlowResult {
  id: string
  bytesSent: number
  bytesReceived: number
  durationMs: number
  responseFlags: ResponseFlag
  error?: unknown
}

export interface Flow {
  readonly id: string
  readonly reporter: Reporter
  readonly direction: FlowDirection
  readonly src: FlowPeer
  readonly dst: FlowPeer
  readonly dstHboneAddr: string | undefined
  readonly securityPolicy: ConnectionSecurityPolicy
  readonly startedAtMs: number
  /** Server → client bytes so far. */
  readonly bytesSent: number
  /** Client → server bytes so far. */
  readonly bytesReceived: number
  /** Set once closed. */
  readonly result: FlowResult | undefined
  addSent(n: number): void
  addReceived(n: number): void
  /**
   * While the flow is open and nothing was added yet, `bytesSent`/`bytesReceived` also read these
   * live counts (the pipe's or the socket's), so views of live flows (`zc connections`, the admin
   * config dump) show bytes moving on busy connections; the first add or the close stops it (the
   * final counts are then added as before; metrics only ever count what was added).
   */
  watchBytes(read: () => { readonly sent: number; readonly received: number }): void
  /** Ends the flow; true when this call ended it, false when it was already closed. */
  close(options?: FlowCloseOptions): boolean
  /** Called once, synchronously, when the flow closes (at once if it already has). */
  onClose(listener: (result: FlowResult) => void): void
  /** Milliseconds since the flow opened. */
  elapsedMs(): number
}

export function openFlow(options: FlowOptions): Flow {
  const now = options.now ?? epochNow
  const { metrics } = options
  const log = childLogger(options.logger, 'access')
  const labelInput = { reporter: options.reporter, src: options.src, dst: options.dst, securityPolicy: options.securityPolicy }
  const openLabels = tcpLabels(labelInput)
  const startedAtMs = now()
  const listeners: Array<(result: FlowResult) => void> = []
  let sent = 0
  let received = 0
  let flushedSent = 0
  let flushedReceived = 0
  let result: FlowResult | undefined
  let live: (() => { readonly sent: number; readonly received: number }) | undefined

  const flushBytes = (labels: TcpLabels): void => {
    if (sent > flushedSent) metrics.tcp.sentBytes.inc(labels, sent - flushedSent)
    if (received > flushedReceived) metrics.tcp.receivedBytes.inc(labels, received - flushedReceived)
    flushedSent = sent
    flushedReceived = received
  }
  const untrack = metrics.trackPending({ flushBytes: () => flushBytes(openLabels) })
  metrics.tcp.opened.inc(openLabels)

  const flow: Flow = {
    id: options.id ?? randomUUID(),
    reporter: options.reporter,
    direction: options.direction,
    src: options.src,
    dst: options.dst,
    dstHboneAddr: options.dstHboneAddr,
    securityPolicy: options.securityPolicy,
    startedAtMs,
    get bytesSent() {
      return sent + (live?.().sent ?? 0)
    },
    get bytesReceived() {
      return received + (live?.().received ?? 0)
    },
    get result() {
      return result
    },
    addSent(n) {
      live = undefined
      if (result === undefined && n > 0) sent += n
    },
    addReceived(n) {
      live = undefined
      if (result === undefined && n > 0) received += n
    },
    watchBytes(read) {
      if (result === undefined) live = read
    },
    elapsedMs: () => now() - startedAtMs,
    onClose(listener) {
      if (result !== undefined) listener(result)
      else listeners.push(listener)
    },
    close(closeOptions = {}) {
      if (result !== undefined) return false
      live = undefined
      const { error } = closeOptions
      const responseFlags = closeOptions.responseFlags ?? (error === undefined ? '-' : responseFlagFor(error))
      result = { id: flow.id, bytesSent: sent, bytesReceived: received, durationMs: round3(now() - startedAtMs), responseFlags }
      if (error !== undefined) result.error = error
      untrack()
      const closeLabels = tcpLabels({ ...labelInput, responseFlags })
      // Bytes first, so that a scrape never sees a closed flow whose bytes are missing.
      flushBytes(closeLabels)
      metrics.tcp.closed.inc(closeLabels)
      logComplete(log, flow, result)
      for (const listener of listeners.splice(0)) listener(result)
      return true
    },
  }
  return flow
}

// The access log line, with ztunnel's field names. Unknown values are left out rather than written
// as "unknown": a log reader should see what we knew, not a placeholder.
function logComplete(log: Logger, flow: Flow, result: FlowResult): void {
  const { src, dst } = flow
  const fields: Record<string, unknown> = {
    'src.addr': src.addr,
    'src.workload': src.workload,
    'src.namespace': src.namespace,
    'src.identity': src.identity?.toString(),
    'dst.addr': dst.addr,
    'dst.hbone_addr': flow.dstHboneAddr,
    'dst.service': dst.service?.hostname,
    'dst.workload': dst.workload,
    'dst.namespace': dst.namespace,
    'dst.identity': dst.identity?.toString(),
    direction: flow.direction,
    bytes_sent: result.bytesSent,
    bytes_recv: result.bytesReceived,
    duration: result.durationMs,
  }
  if (result.error === undefined) {
    log.info(fields, 'connection complete')
    return
  }
  // Beyond ztunnel's fields: the code and flag, so tools and tests match on codes, not text.
  fields.error = errorMessage(result.error)
  fields.error_code = errorCode(result.error)
  fields.response_flags = result.responseFlags
  log.error(fields, 'connection complete')
}

function round3(ms: number): number {
  return Math.round(ms * 1000) / 1000
}
