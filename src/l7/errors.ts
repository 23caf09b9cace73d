// Stable codes of the L7 proxy (tests, logs and response flags match on these, never on text). The
// values keep their WAYPOINT_ prefix: the sidecar reports the same codes from the same engine.
export const L7ErrorCode = {
  /** The config file or push is not a WaypointConfig we understand. */
  configInvalid: 'WAYPOINT_CONFIG_INVALID',
  /** No config loaded yet: fail closed (a waypoint without config must not skip L7 policy). */
  notReady: 'WAYPOINT_NOT_READY',
  /** Opening the HBONE tunnel (or the plain TCP leg) to the endpoint failed. */
  upstreamConnectFailed: 'WAYPOINT_UPSTREAM_CONNECT_FAILED',
  /** The upstream reset or closed the exchange before a complete response. */
  upstreamReset: 'WAYPOINT_UPSTREAM_RESET',
  /** A try exceeded its per-try timeout or the route timeout. */
  upstreamTimeout: 'WAYPOINT_UPSTREAM_TIMEOUT',
  /** The cluster has no healthy endpoint. */
  noHealthyUpstream: 'WAYPOINT_NO_HEALTHY_UPSTREAM',
  /** The circuit breaker refused the request. */
  overflow: 'WAYPOINT_UPSTREAM_OVERFLOW',
  /** The downstream went away before its answer: the try is not made (or was reset). */
  downstreamGone: 'WAYPOINT_DOWNSTREAM_GONE',
  /** The request body is larger than the waypoint buffers. */
  requestTooLarge: 'WAYPOINT_REQUEST_TOO_LARGE',
} as const
