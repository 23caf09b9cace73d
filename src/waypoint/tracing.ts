// Trace headers on each request through the waypoint, as Envoy does: keep an `x-request-id` or make
// one; continue the caller's W3C trace (a child span for this hop) or start one; write B3 headers
// for the same span. Pure over the header map; the random source is injectable for tests.
import type { RandomBytes, TraceContext } from '../observability/trace-context.js'
import { b3FromTraceContext, childTraceContext, formatTraceparent, generateTraceContext, parseTraceparent } from '../observability/trace-context.js'

export interface HopTrace {
  readonly requestId: string
  readonly context: TraceContext
  /** Headers to set on the upstream request. */
  readonly headers: Readonly<Record<string, string>>
}

export function traceHop(incoming: Readonly<Record<string, string | string[] | undefined>>, options: { randomBytes?: RandomBytes; newRequestId: () => string }): HopTrace {
  const first = (name: string): string | undefined => {
    const v = incoming[name]
    return Array.isArray(v) ? v[0] : v
  }
  const requestId = first('x-request-id') ?? options.newRequestId()
  const parent = parseTraceparent(first('traceparent'))
  const context = parent === undefined
    ? generateTraceContext(options.randomBytes === undefined ? {} : { randomBytes: options.randomBytes })
    : childTraceContext(parent, options.randomBytes)
  const headers: Record<string, string> = { 'x-request-id': requestId, traceparent: formatTraceparent(context), ...b3FromTraceContext(context) }
  const state = first('tracestate')
  if (state !== undefined && parent !== undefined) headers.tracestate = state
  return { requestId, context, headers }
}
