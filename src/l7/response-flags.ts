// Envoy's response flags for HTTP requests through the waypoint (what Istio's waypoint reports in
// `response_flags` and access logs): the engines' decisions (engines/response-flag.ts) plus what only
// the data path sees (connect failures, resets). The flag vocabulary and its print order are
// observability's (traffic-labels.ts HTTP_RESPONSE_FLAGS, with the table of meanings); several flags
// join with `,` as Envoy prints them. RL (rate limited) is in the vocabulary but not produced: the
// config contract has no rate limits yet.
import type { HttpResponseFlag } from '../observability/traffic-labels.js'
import { HTTP_RESPONSE_FLAGS } from '../observability/traffic-labels.js'

/** Every engine flag (engines/response-flag.ts) is one of these: the data path adds them to a Set of this type. */
export type L7ResponseFlag = HttpResponseFlag

/** The flags in Envoy's print order. */
export function orderedResponseFlags(flags: ReadonlySet<L7ResponseFlag>): L7ResponseFlag[] {
  return HTTP_RESPONSE_FLAGS.filter((f) => flags.has(f))
}

export function formatResponseFlags(flags: ReadonlySet<L7ResponseFlag>): string {
  const ordered = orderedResponseFlags(flags)
  return ordered.length === 0 ? '-' : ordered.join(',')
}
