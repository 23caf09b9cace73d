// Our error codes as gRPC statuses: istiod's handlers answer with `toGrpcStatus(err)`. The way back
// (a failed call as a coded error) is the proxies' client's: ./grpc/status.ts.
import { errorCode, errorMessage } from '../errors.js'
import { XdsErrorCode } from './errors.js'
import { GrpcCode } from './grpc/codes.js'
import type { GrpcStatus } from './grpc/status.js'

const TO_STATUS: Record<string, number> = {
  [XdsErrorCode.unauthenticated]: GrpcCode.UNAUTHENTICATED,
  [XdsErrorCode.permissionDenied]: GrpcCode.PERMISSION_DENIED,
  [XdsErrorCode.badRequest]: GrpcCode.INVALID_ARGUMENT,
  [XdsErrorCode.resourceInvalid]: GrpcCode.INVALID_ARGUMENT,
  [XdsErrorCode.closed]: GrpcCode.UNAVAILABLE,
  // Identity errors the CA raises for a bad request (src/identity/csr.ts, ca.ts).
  IDENTITY_CSR_INVALID: GrpcCode.INVALID_ARGUMENT,
  IDENTITY_TTL_INVALID: GrpcCode.INVALID_ARGUMENT,
  IDENTITY_TRUST_DOMAIN_MISMATCH: GrpcCode.PERMISSION_DENIED,
  IDENTITY_CSR_IDENTITY_MISMATCH: GrpcCode.PERMISSION_DENIED,
  IDENTITY_SPIFFE_INVALID: GrpcCode.INVALID_ARGUMENT,
}

/** What a handler sends: our code's status (INTERNAL for anything unexpected) and the message. */
export function toGrpcStatus(err: unknown): GrpcStatus {
  const code = TO_STATUS[errorCode(err)] ?? GrpcCode.INTERNAL
  return { code, details: code === GrpcCode.INTERNAL ? `internal error: ${errorCode(err)}` : errorMessage(err) }
}
