// How a call ended: the status read from the trailers (or from the headers of a trailers-only
// response, or from the HTTP status when there is no `grpc-status`), and the coded error our
// callers see for a failed call — refusals keep their meaning, everything else is "unavailable",
// which the callers retry.
import { AmbientError } from '../../errors.js'
import { XdsErrorCode } from '../errors.js'
import { GrpcCode, grpcCodeFromHttpStatus, grpcCodeName } from './codes.js'

export interface GrpcStatus {
  readonly code: number
  readonly details: string
  /** What ended the call on our side (a framing error, a socket error), for logs. */
  readonly cause?: unknown
}

/** Header or trailer fields as node:http2 gives them. */
export type GrpcFields = Readonly<Record<string, string | string[] | number | undefined>>

function field(fields: GrpcFields, name: string): string | undefined {
  const v = fields[name]
  return v === undefined ? undefined : Array.isArray(v) ? v.join(',') : String(v)
}

/** `grpc-message` is percent-encoded UTF-8; a sequence that does not decode stays as sent. */
export function decodeGrpcMessage(raw: string): string {
  return raw.replace(/(?:%[0-9A-Fa-f]{2})+/g, (run) => {
    try {
      return decodeURIComponent(run)
    } catch {
      return run
    }
  })
}

/** `grpc-message` as sent: printable ASCII but `%` as is, everything else percent-encoded UTF-8. */
export function encodeGrpcMessage(text: string): string {
  return text.replace(/[^\x20-\x24\x26-\x7e]+/g, (run) => {
    try {
      return encodeURIComponent(run)
    } catch {
      return '?' // a lone surrogate has no UTF-8 form
    }
  })
}

/**
 * The status of a response, from the fields that carry it (trailers, or the headers of a
 * trailers-only response) and the HTTP status. A `grpc-status` always wins; without one the
 * HTTP status decides (gRPC's HTTP to gRPC table), 200 included.
 */
export function statusFromFields(httpStatus: number, fields: GrpcFields): GrpcStatus {
  const raw = field(fields, 'grpc-status')
  if (raw === undefined) {
    const code = grpcCodeFromHttpStatus(httpStatus)
    return { code, details: `HTTP status ${httpStatus} without grpc-status` }
  }
  if (!/^\d+$/.test(raw)) return { code: GrpcCode.UNKNOWN, details: `invalid grpc-status ${JSON.stringify(raw)}` }
  return { code: Number(raw), details: decodeGrpcMessage(field(fields, 'grpc-message') ?? '') }
}

/** `16 UNAUTHENTICATED: missing bearer token`: how a failed call reads in logs and lastError. */
export function describeStatus(status: GrpcStatus): string {
  return `${status.code} ${grpcCodeName(status.code)}: ${status.details}`
}

const TO_XDS_CODE: Readonly<Record<number, string>> = {
  [GrpcCode.UNAUTHENTICATED]: XdsErrorCode.unauthenticated,
  [GrpcCode.PERMISSION_DENIED]: XdsErrorCode.permissionDenied,
  [GrpcCode.INVALID_ARGUMENT]: XdsErrorCode.badRequest,
}

/** A failed call (`what`: which call, for the message) as our coded error. */
export function statusError(status: GrpcStatus, what: string): AmbientError {
  const code = TO_XDS_CODE[status.code] ?? XdsErrorCode.unavailable
  return new AmbientError(code, `${what}: ${grpcCodeName(status.code)} ${status.details}`, {
    side: 'upstream',
    ...(status.cause === undefined ? {} : { cause: status.cause }),
    details: { grpcCode: status.code },
  })
}
