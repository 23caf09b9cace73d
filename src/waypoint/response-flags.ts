// Envoy's response flags for HTTP requests through the waypoint (what Istio's waypoint reports in
// `response_flags` and access logs): the engines' decisions (engines/response-flag.ts) plus what only
// the data path sees (connect failures, resets). The observability layer's ResponseFlag covers
// ztunnel's L4 values only. Several flags join with `,` as Envoy prints them.
import type { ResponseFlag } from './engines/response-flag.js'
//
// | flag | meaning (Envoy)                                                            |
// | ---- | -------------------------------------------------------------------------- |
// | UO   | upstream overflow: the circuit breaker refused the request                  |
// | UF   | upstream connection failure                                                 |
// | URX  | upstream retry limit exceeded (the last try's failure was retriable)        |
// | UC   | upstream connection terminated (reset after the request was sent)           |
// | UT   | upstream request timeout                                                    |
// | UH   | no healthy upstream host                                                    |
// | NR   | no route configured                                                         |
// | DI   | the request was delayed by fault injection                                  |
// | FI   | the request was aborted by fault injection                                  |
// | DC   | downstream connection termination                                           |
// | RBAC | denied by L7 authorization (403 `RBAC: access denied`)                     |
// | RL   | rate limited (not produced: no rate-limit config in the contract yet)       |
export type L7ResponseFlag = ResponseFlag | 'UF' | 'UC' | 'DC' | 'RL'

// Envoy's print order for the flags we produce.
const ORDER: readonly L7ResponseFlag[] = ['UH', 'UF', 'UO', 'NR', 'URX', 'UC', 'DC', 'UT', 'RL', 'DI', 'FI', 'RBAC']

export function formatResponseFlags(flags: ReadonlySet<L7ResponseFlag>): string {
  if (flags.size === 0) return '-'
  return ORDER.filter((f) => flags.has(f)).join(',')
}
