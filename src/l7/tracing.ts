// Trace headers on each request through the waypoint, as Envoy does: keep an `x-request-id` or make
// one; continue the caller's W3C trace (a child span for this hop) or start one; write B3 headers
// for the same span. Pure over the header map; the random source is injectable for tests.
import type { RandomBytes, TraceContext } from '../observability/trace-context.js'
import type { ZipkinSpan } from './zipkin.js'
import {
  b3FromTraceContext,
  childTraceContext,
  formatTraceparent,
  generateTraceContext,
  parseTraceparent,
} from '../observability/trace-context.js'

export interface HopTrace {
  readonly requestId: string
  readonly context: TraceContext
  /** Headers to set on the upstream request. */
  readonly headers: Readonly<Record<string, string>>
}

/**
 * `sampled`: the decision for a trace this hop starts (a continued trace keeps the caller's flag,
 * as Envoy honours an incoming sampling decision); default sampled.
 */
export function traceHop(
  incoming: Readonly<Record<string, string | string[] | undefined>>,
  options: { randomBytes?: RandomBytes; newRequestId: () => string; sampled?: () => boolean },
): HopTrace {
  const first = (name: string): string | undefined => {
    const v = incoming[name]
    return Array.isArray(v) ? v[0] : v
  }
  const requestId = first('x-request-id') ?? options.newRequestId()
  const parent = parseTraceparent(first('traceparent'))
  const context =
    parent === undefined
      ? generateTraceContext({
          ...(options.randomBytes === undefined ? {} : { randomBytes: options.randomBytes }),
          ...(options.sampled === undefined ? {} : { sampled: options.sampled() }),
        })
      : childTraceContext(parent, options.randomBytes)
  const headers: Record<string, string> = {
    'x-request-id': requestId,
    traceparent: formatTraceparent(context),
    ...b3FromTraceContext(context),
  }
  const state = first('tracestate')
  if (state !== undefined && parent !== undefined) headers.tracestate = state
  return { requestId, context, headers }
}

/** The waypoint's span for one request (Envoy's SERVER span of the hop), in Zipkin v2 form. */
export function hopSpan(
  trace: HopTrace,
  r: {
    serviceName: string
    method: string
    path: string
    authority: string
    status: number
    responseFlags: string
    startedMs: number
    durationMs: number
    upstream?: string | undefined
    requestBytes: number
    responseBytes: number
  },
): ZipkinSpan {
  const tags: Record<string, string> = {
    'http.method': r.method,
    'http.url': `http://${r.authority}${r.path}`,
    'http.status_code': String(r.status),
    'http.protocol': 'HTTP/1.1',
    request_size: String(r.requestBytes),
    response_size: String(r.responseBytes),
    response_flags: r.responseFlags,
    'guid:x-request-id': trace.requestId,
    component: 'proxy',
  }
  if (r.upstream !== undefined) tags['upstream_cluster.name'] = r.upstream
  if (r.status >= 500 || r.status === 0) tags.error = 'true'
  return {
    traceId: trace.context.traceId,
    id: trace.context.spanId,
    ...(trace.context.parentSpanId === undefined ? {} : { parentId: trace.context.parentSpanId }),
    name: `${r.authority}/*`,
    kind: 'SERVER',
    timestamp: Math.round(r.startedMs * 1000),
    duration: Math.max(1, Math.round(r.durationMs * 1000)),
    localEndpoint: { serviceName: r.serviceName },
    tags,
  }
}
