// Trace headers on each request through the waypoint, as Envoy does: keep an `x-request-id` or make
// one; continue the caller's W3C trace (a child span for this hop) or start one; write B3 headers
// for the same span. Pure over the header map; the random source is injectable for tests.
import type { RandomBytes, TraceContext } from '../observability/trace-context.js'
import type { ZipkinSpan } from './zipkin.js'
import { childTraceContext, formatTraceparent, generateTraceContext, isSampled, parseTraceparent } from '../observability/trace-context.js'

export interface HopTrace {
  readonly requestId: string
  readonly context: TraceContext
  /** The caller's `tracestate`, passed on with the trace it continues; else undefined. */
  readonly tracestate: string | undefined
}

/** Where a hop's ids come from: the request id's source, the random bytes (default the pool), the sampling draw. */
export interface TraceSources {
  readonly newRequestId: () => string
  readonly randomBytes?: RandomBytes | undefined
  /** Uniform in [0, 1): asked only when this hop starts a trace with a sampling percentage. */
  readonly random: () => number
}

/**
 * `samplingPercent`: the decision for a trace this hop starts (a continued trace keeps the caller's
 * flag, as Envoy honours an incoming sampling decision); null: sampled. The request's headers are
 * written later by writeTraceHeaders, straight into the upstream request's header object.
 */
export function traceHop(
  incoming: Readonly<Record<string, string | string[] | undefined>>,
  sources: TraceSources,
  samplingPercent: number | null,
): HopTrace {
  const requestId = first(incoming, 'x-request-id') ?? sources.newRequestId()
  const parent = parseTraceparent(first(incoming, 'traceparent'))
  if (parent !== undefined) {
    return { requestId, context: childTraceContext(parent, sources.randomBytes), tracestate: first(incoming, 'tracestate') }
  }
  const sampled = samplingPercent === null ? true : sources.random() * 100 < samplingPercent
  return { requestId, context: generateTraceContext({ sampled, randomBytes: sources.randomBytes }), tracestate: undefined }
}

function first(incoming: Readonly<Record<string, string | string[] | undefined>>, name: string): string | undefined {
  const v = incoming[name]
  return Array.isArray(v) ? v[0] : v
}

/**
 * The hop's trace headers set on `headers` (the request going upstream): `x-request-id`, W3C
 * `traceparent` (and the caller's `tracestate` when the trace is continued), B3 multi and single
 * header for the same span. In this order, as they were when built apart (b3FromTraceContext's).
 */
export function writeTraceHeaders(headers: Record<string, string | string[]>, trace: HopTrace): void {
  const ctx = trace.context
  const sampled = isSampled(ctx) ? '1' : '0'
  headers['x-request-id'] = trace.requestId
  headers.traceparent = formatTraceparent(ctx)
  headers['x-b3-traceid'] = ctx.traceId
  headers['x-b3-spanid'] = ctx.spanId
  headers['x-b3-sampled'] = sampled
  headers.b3 = `${ctx.traceId}-${ctx.spanId}-${sampled}${ctx.parentSpanId === undefined ? '' : `-${ctx.parentSpanId}`}`
  if (ctx.parentSpanId !== undefined) headers['x-b3-parentspanid'] = ctx.parentSpanId
  if (trace.tracestate !== undefined) headers.tracestate = trace.tracestate
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
