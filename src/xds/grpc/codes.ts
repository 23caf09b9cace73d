// gRPC status codes (the numbers are the wire values of `grpc-status`) and the table a client uses
// when a response carries no `grpc-status` at all (gRPC's "HTTP to gRPC status code mapping": an
// intermediary answered, not the gRPC server). Used by our node:http2 client and the L7 engine's
// gRPC fault aborts; istiod's server (../grpc-server.ts) sends the same codes.

export const GrpcCode = Object.freeze({
  OK: 0,
  CANCELLED: 1,
  UNKNOWN: 2,
  INVALID_ARGUMENT: 3,
  DEADLINE_EXCEEDED: 4,
  NOT_FOUND: 5,
  ALREADY_EXISTS: 6,
  PERMISSION_DENIED: 7,
  RESOURCE_EXHAUSTED: 8,
  FAILED_PRECONDITION: 9,
  ABORTED: 10,
  OUT_OF_RANGE: 11,
  UNIMPLEMENTED: 12,
  INTERNAL: 13,
  UNAVAILABLE: 14,
  DATA_LOSS: 15,
  UNAUTHENTICATED: 16,
} as const)

export type GrpcCodeName = keyof typeof GrpcCode

const NAMES = new Map<number, GrpcCodeName>(Object.entries(GrpcCode).map(([name, code]) => [code, name as GrpcCodeName]))

/** `UNAUTHENTICATED` for 16; a code outside the table prints as its number. */
export function grpcCodeName(code: number): string {
  return NAMES.get(code) ?? String(code)
}

const FROM_HTTP: Readonly<Record<number, number>> = {
  400: GrpcCode.INTERNAL,
  401: GrpcCode.UNAUTHENTICATED,
  403: GrpcCode.PERMISSION_DENIED,
  404: GrpcCode.UNIMPLEMENTED,
  429: GrpcCode.UNAVAILABLE,
  502: GrpcCode.UNAVAILABLE,
  503: GrpcCode.UNAVAILABLE,
  504: GrpcCode.UNAVAILABLE,
}

/** The status of a response without `grpc-status`, from its HTTP status (200 too: a real OK always says so). */
export function grpcCodeFromHttpStatus(httpStatus: number): number {
  return FROM_HTTP[httpStatus] ?? GrpcCode.UNKNOWN
}
