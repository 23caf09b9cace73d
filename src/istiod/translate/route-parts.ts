// Pieces shared by the VirtualService and HTTPRoute translations: retry policies with Istio's
// defaults, header operations, weights, destination ports, string matches. Each function states
// the Istio rule it follows.
import type { Headers, HeaderOperations as ModelHeaderOps, HttpRetry, StringMatch as ModelStringMatch } from '../resources/model.js'
import type { ServiceEntry } from './clusters.js'
import type { HeaderOperations, HeaderOps, NameValue, RetryPolicy, StringMatch } from '../../mesh/waypoint-config.js'

/**
 * Istio's default retry policy for mesh routes (docs/istio-reference.md, "Default waypoint retries: 2,
 * on connect-failure, refused-stream, unavailable, cancelled, 503").
 */
export const DEFAULT_RETRY_ON: readonly string[] = Object.freeze([
  'connect-failure',
  'refused-stream',
  'unavailable',
  'cancelled',
  'retriable-status-codes',
])
export const DEFAULT_RETRIES: RetryPolicy = Object.freeze({
  attempts: 2,
  perTryTimeoutMs: null,
  retryOn: DEFAULT_RETRY_ON,
  retriableStatusCodes: Object.freeze([503]),
})

/**
 * A VirtualService `retries` block: absent = the defaults; `attempts: 0` = none; an empty
 * `retryOn` keeps the default conditions; numbers in `retryOn` are retriable status codes (Istio
 * adds Envoy's `retriable-status-codes` condition for them).
 */
export function retryPolicy(r: HttpRetry | undefined): RetryPolicy {
  if (r === undefined) return DEFAULT_RETRIES
  if (r.attempts === 0) return { attempts: 0, perTryTimeoutMs: null, retryOn: [], retriableStatusCodes: [] }
  const perTryTimeoutMs = r.perTryTimeoutMs === undefined || r.perTryTimeoutMs === 0 ? null : r.perTryTimeoutMs
  if (r.retryOn.length === 0) return { ...DEFAULT_RETRIES, attempts: r.attempts, perTryTimeoutMs }
  const codes = r.retryOn.filter((c) => /^\d{3}$/.test(c.trim())).map((c) => Number(c.trim()))
  const conditions = r.retryOn.map((c) => c.trim()).filter((c) => c !== '' && !/^\d{3}$/.test(c))
  if (codes.length > 0 && !conditions.includes('retriable-status-codes')) conditions.push('retriable-status-codes')
  return { attempts: r.attempts, perTryTimeoutMs, retryOn: conditions, retriableStatusCodes: codes }
}

export const NO_HEADER_OPS: HeaderOps = Object.freeze({ set: [], add: [], remove: [] })
export const NO_HEADERS: HeaderOperations = Object.freeze({ request: NO_HEADER_OPS, response: NO_HEADER_OPS })

function pairs(labels: Readonly<Record<string, string>>): NameValue[] {
  return Object.entries(labels).map(([name, value]) => ({ name: name.toLowerCase(), value }))
}

function ops(h: ModelHeaderOps): HeaderOps {
  return { set: pairs(h.set), add: pairs(h.add), remove: h.remove.map((n) => n.toLowerCase()) }
}

export function headerOperations(h: Headers | undefined): HeaderOperations {
  return h === undefined ? NO_HEADERS : { request: ops(h.request), response: ops(h.response) }
}

/**
 * Istio's weights: a lone destination gets 100; when none is written they share 100 evenly (the
 * remainder to the first ones); when some are written the others share what is left.
 */
export function weights(written: readonly (number | undefined)[]): number[] {
  if (written.length === 1 && written[0] === undefined) return [100]
  const given = written.reduce<number>((s, w) => s + (w ?? 0), 0)
  const missing = written.filter((w) => w === undefined).length
  if (missing === 0) return written.map((w) => w ?? 0)
  const left = Math.max(0, 100 - given)
  const share = Math.floor(left / missing)
  let extra = left - share * missing
  return written.map((w) => {
    if (w !== undefined) return w
    const out = share + (extra > 0 ? 1 : 0)
    extra--
    return out
  })
}

/**
 * The port a destination without one goes to: the port the request came in on when the target
 * Service has it, else the Service's only port, else the request port (Istio: "if a service exposes
 * only a single port it is not required to explicitly select the port").
 */
export function destinationPort(written: number | undefined, requestPort: number, target: ServiceEntry | undefined): number {
  if (written !== undefined) return written
  const ports = target?.mesh.ports ?? []
  if (ports.some((p) => p.servicePort === requestPort)) return requestPort
  if (ports.length === 1) return ports[0]!.servicePort
  return requestPort
}

export function stringMatch(m: ModelStringMatch): StringMatch {
  return { kind: m.kind, value: m.value }
}

/** Header names are case-insensitive (lower-cased); query parameter names are not. */
export function namedMatches(
  m: Readonly<Record<string, ModelStringMatch>>,
  kind: 'header' | 'query',
): { name: string; match: StringMatch }[] {
  return Object.entries(m).map(([name, v]) => ({ name: kind === 'header' ? name.toLowerCase() : name, match: stringMatch(v) }))
}
