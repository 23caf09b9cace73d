// An answer the L7 engines decide the proxy gives itself instead of forwarding, with the Envoy
// response flag it is reported with (the vocabulary and its meanings: src/observability/traffic-labels.ts
// HTTP_RESPONSE_FLAGS). The engines decide NR (no route, 404), UO (circuit breaking or retry budget,
// 503), URX (retry limit), UT (timeout, 504), UH (no healthy upstream, 503), DI/FI (fault delay and
// abort) and RBAC (403 `RBAC: access denied`); the data path adds what only it sees (UF, UC, DC).
// The flag goes to the access log and to `istio_requests_total{response_flags}`.
// Source: Envoy access-log format docs, "%RESPONSE_FLAGS%".
import type { HttpResponseFlag } from '../../observability/traffic-labels.js'

/** An answer the proxy gives itself instead of forwarding. */
export interface LocalReply {
  readonly status: number
  readonly body: string
  readonly responseFlag: HttpResponseFlag
}
