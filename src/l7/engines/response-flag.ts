// Envoy's access-log response flags the waypoint's engines can decide on, and the local reply
// they come with. The data path maps a decision to the wire; the flag goes to the access log and
// to `istio_requests_total{response_flags}` (Istio writes `-` when there is none).
// Source: Envoy access-log format docs, "%RESPONSE_FLAGS%".

export type ResponseFlag =
  /** No route configured for the request (404). */
  | 'NR'
  /** Upstream overflow: circuit breaking (503), or a retry refused by the retry budget. */
  | 'UO'
  /** Upstream retry limit exceeded: the last try's answer is returned. */
  | 'URX'
  /** Upstream request timeout (504): the route timeout, or the last per-try timeout. */
  | 'UT'
  /** No healthy upstream host (503). */
  | 'UH'
  /** The request was delayed by fault injection. */
  | 'DI'
  /** The request was aborted by fault injection. */
  | 'FI'
  /** Denied by RBAC (403 `RBAC: access denied`); Envoy's long form is `RBAC_ACCESS_DENIED`, short `RBAC`. */
  | 'RBAC'

/** An answer the waypoint gives itself instead of forwarding. */
export interface LocalReply {
  readonly status: number
  readonly body: string
  readonly responseFlag: ResponseFlag
}
