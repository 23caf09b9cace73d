// Codes of our gRPC client's own protocol checks. They end a call with a gRPC status (see call.ts);
// callers see the status's coded error (XDS_UNAVAILABLE), with one of these as its cause.

export const GrpcClientErrorCode = {
  /** A message with the compressed flag set: we never offer compression, so none may come. */
  compressed: 'GRPC_MESSAGE_COMPRESSED',
  /** A message flag byte other than 0 or 1. */
  badFlag: 'GRPC_MESSAGE_BAD_FLAG',
  /** A length prefix above the receive limit. */
  tooLarge: 'GRPC_MESSAGE_TOO_LARGE',
  /** The stream ended inside a message. */
  truncated: 'GRPC_MESSAGE_TRUNCATED',
} as const
