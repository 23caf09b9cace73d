// One access-log line per request when the waypoint's Telemetry turns it on (WaypointConfig
// `telemetry.accessLog`): Envoy's default access-log fields, as one structured `info` record.
import type { Logger } from '../observability/logger.js'

export interface AccessLogEntry {
  readonly method: string
  readonly path: string
  readonly authority: string
  readonly protocol: string
  readonly responseCode: number
  /** Envoy's flags text (`-` for none). */
  readonly responseFlags: string
  readonly durationMs: number
  readonly bytesReceived: number
  readonly bytesSent: number
  /** `ip:port` of the endpoint, or undefined for a local reply. */
  readonly upstreamHost: string | undefined
  readonly upstreamCluster: string | undefined
  readonly requestId: string | undefined
  readonly traceId: string | undefined
  readonly sourcePrincipal: string
  readonly downstreamRemoteAddress: string
}

export function writeAccessLog(logger: Logger, e: AccessLogEntry): void {
  logger.info(
    {
      event: 'access_log',
      method: e.method,
      path: e.path,
      authority: e.authority,
      protocol: e.protocol,
      response_code: e.responseCode,
      response_flags: e.responseFlags,
      duration: Math.round(e.durationMs),
      bytes_received: e.bytesReceived,
      bytes_sent: e.bytesSent,
      upstream_host: e.upstreamHost ?? '-',
      upstream_cluster: e.upstreamCluster ?? '-',
      x_request_id: e.requestId ?? '-',
      trace_id: e.traceId ?? '-',
      source_principal: e.sourcePrincipal,
      downstream_remote_address: e.downstreamRemoteAddress,
    },
    'request complete',
  )
}
