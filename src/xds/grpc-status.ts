// Our error codes as gRPC statuses: istiod's handlers answer with `toGrpcStatus(err)`. The way back
// (a failed call as a coded error) is the proxies' client's: ./grpc-client/status.ts.
import { status as Status } from '@grpc/grpc-js'
import type { StatusObject } from '@grpc/grpc-js'
import { errorCode, errorMessage } from '../errors.js'
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
