// Fault injection for a request (Envoy's HTTP fault filter, as Istio configures it from a route's
// `fault`): the delay and the abort are decided independently, each with its own percentage and
// its own draw, in Envoy's order: first the delay (if it fires, the request waits `fixedDelayMs`),
// then the abort (if it fires, the waypoint answers itself and never contacts the upstream).
// Both can fire on one request. Response flags: `DI` delayed, `FI` aborted.
// An HTTP abort answers `httpStatus` with Envoy's body `fault filter abort`; a gRPC abort answers
// HTTP 200 with `grpc-status` set (trailers-only), the status name mapped to its code.
import type { FaultInjection } from '../../mesh/waypoint-config.js'
import { chance, type Random } from '../../random.js'
import type { HttpResponseFlag } from '../../observability/traffic-labels.js'
import { GrpcCode } from '../../xds/grpc/codes.js'

export const FAULT_ABORT_BODY = 'fault filter abort'

/** gRPC status names (Istio writes them in `abort.grpcStatus`) to codes: the wire values of `grpc-status`. */
export const GRPC_STATUS_CODES: Readonly<Record<string, number>> = GrpcCode

export interface FaultAbort {
  readonly httpStatus: number
  /** Set for gRPC aborts (then httpStatus is 200). */
  readonly grpcStatus: number | null
  readonly body: string
}

export interface FaultDecision {
  readonly delayMs: number | null
  readonly abort: FaultAbort | null
  /** `DI` and/or `FI`, in that order. */
  readonly responseFlags: readonly HttpResponseFlag[]
  readonly reason: string
}

const NO_FAULT: FaultDecision = Object.freeze({
  delayMs: null,
  abort: null,
  responseFlags: Object.freeze([]),
  reason: 'no fault configured',
})

export function decideFault(fault: FaultInjection | null, random: Random): FaultDecision {
  if (fault === null || (fault.delay === null && fault.abort === null)) return NO_FAULT
  const flags: HttpResponseFlag[] = []
  const why: string[] = []
  let delayMs: number | null = null
  if (fault.delay !== null) {
    if (chance(random, fault.delay.percentage) && fault.delay.fixedDelayMs > 0) {
      delayMs = fault.delay.fixedDelayMs
      flags.push('DI')
      why.push(`delayed ${delayMs} ms (${fault.delay.percentage} %)`)
    } else {
      why.push(`not delayed (${fault.delay.percentage} %)`)
    }
  }
  let abort: FaultAbort | null = null
  if (fault.abort !== null) {
    if (chance(random, fault.abort.percentage)) {
      abort = toAbort(fault.abort)
      flags.push('FI')
      why.push(
        abort.grpcStatus === null
          ? `aborted with ${abort.httpStatus} (${fault.abort.percentage} %)`
          : `aborted with grpc-status ${abort.grpcStatus} (${fault.abort.percentage} %)`,
      )
    } else {
      why.push(`not aborted (${fault.abort.percentage} %)`)
    }
  }
  return { delayMs, abort, responseFlags: flags, reason: why.join(', ') }
}

function toAbort(a: NonNullable<FaultInjection['abort']>): FaultAbort {
  if (a.grpcStatus !== null) {
    // An unknown name is treated as UNKNOWN (2); istiod validates names, so this is a safety net.
    return { httpStatus: 200, grpcStatus: GRPC_STATUS_CODES[a.grpcStatus.toUpperCase()] ?? 2, body: '' }
  }
  return { httpStatus: a.httpStatus ?? 503, grpcStatus: null, body: FAULT_ABORT_BODY }
}
