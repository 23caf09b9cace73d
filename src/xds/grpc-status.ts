// The one mapping between our error codes and gRPC statuses, both ways: server handlers answer
// with `toGrpcStatus(err)`, clients turn a failed call back into a coded AmbientError.
import { status as Status } from '@grpc/grpc-js'
import type { ServiceError, StatusObject } from '@grpc/grpc-js'
import { AmbientError, errorCode, errorMessage } from '../errors.js'
import { XdsErrorCode } from './errors.js'

const TO_STATUS: Record<string, Status> = {
  [XdsErrorCode.unauthenticated]: Status.UNAUTHENTICATED,
  [XdsErrorCode.permissionDenied]: Status.PERMISSION_DENIED,
  [XdsErrorCode.badRequest]: Status.INVALID_ARGUMENT,
  [XdsErrorCode.resourceInvalid]: Status.INVALID_ARGUMENT,
  [XdsErrorCode.closed]: Status.UNAVAILABLE,
  // Identity errors the CA raises for a bad request (src/identity/csr.ts, ca.ts).
  IDENTITY_CSR_INVALID: Status.INVALID_ARGUMENT,
  IDENTITY_TTL_INVALID: Status.INVALID_ARGUMENT,
  IDENTITY_TRUST_DOMAIN_MISMATCH: Status.PERMISSION_DENIED,
  IDENTITY_CSR_IDENTITY_MISMATCH: Status.PERMISSION_DENIED,
  IDENTITY_SPIFFE_INVALID: Status.INVALID_ARGUMENT,
}

/** What a handler sends: our code's status (INTERNAL for anything unexpected) and the message. */
export function toGrpcStatus(err: unknown): Pick<StatusObject, 'code' | 'details'> {
  const code = TO_STATUS[errorCode(err)] ?? Status.INTERNAL
  return { code, details: code === Status.INTERNAL ? `internal error: ${errorCode(err)}` : errorMessage(err) }
}

const FROM_STATUS: Partial<Record<Status, string>> = {
  [Status.UNAUTHENTICATED]: XdsErrorCode.unauthenticated,
  [Status.PERMISSION_DENIED]: XdsErrorCode.permissionDenied,
  [Status.INVALID_ARGUMENT]: XdsErrorCode.badRequest,
}

/** A failed call as a coded error: refusals keep their meaning, the rest is "unavailable". */
export function fromGrpcError(err: ServiceError, what: string): AmbientError {
  const code = FROM_STATUS[err.code as Status] ?? XdsErrorCode.unavailable
  return new AmbientError(code, `${what}: ${Status[err.code] ?? err.code} ${err.details}`, {
    side: 'upstream',
    cause: err,
    details: { grpcCode: err.code },
  })
}
