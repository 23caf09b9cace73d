// Trace context an app must copy from the request it serves onto the requests it makes, or the
// mesh's spans do not join up (Istio's "distributed tracing" FAQ: the proxies cannot do it for the
// app). The list is what Istio's docs and bookinfo's productpage propagate: Envoy's request id, W3C
// trace context, B3 in both forms, and the OpenTelemetry baggage header.
import type { IncomingHttpHeaders } from 'node:http'

export const TRACE_HEADERS = [
  'x-request-id',
  'traceparent',
  'tracestate',
  'x-b3-traceid',
  'x-b3-spanid',
  'x-b3-parentspanid',
  'x-b3-sampled',
  'x-b3-flags',
  'b3',
  'baggage',
  'x-ot-span-context',
] as const

/** The trace headers of an incoming request, ready to pass to the next hop. */
export function traceHeadersOf(headers: IncomingHttpHeaders): Record<string, string> {
  const out: Record<string, string> = {}
  for (const h of TRACE_HEADERS) {
    const v = headers[h]
    if (typeof v === 'string') out[h] = v
  }
  return out
}
