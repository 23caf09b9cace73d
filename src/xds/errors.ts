// Error codes of the xDS plumbing. Mapping them (and identity errors) to gRPC statuses happens in
// one place per direction: ./grpc-status.ts (istiod answers), ./grpc/status.ts (proxies read).

export const XdsErrorCode = {
  /** A resource (or message) from the wire does not decode or breaks a domain invariant. */
  resourceInvalid: 'XDS_RESOURCE_INVALID',
  /** A domain value cannot be put on the wire (e.g. an address that is not IP text). */
  encodeInvalid: 'XDS_ENCODE_INVALID',
  /** The peer's bearer token is missing or not accepted. */
  unauthenticated: 'XDS_UNAUTHENTICATED',
  /** Authenticated, but not allowed (e.g. a node asking for another node's pod identity). */
  permissionDenied: 'XDS_PERMISSION_DENIED',
  /** A request that breaks the protocol (bad metadata, unknown type URL, bad validity). */
  badRequest: 'XDS_BAD_REQUEST',
  /** istiod could not be reached or failed the call (the caller retries). */
  unavailable: 'XDS_UNAVAILABLE',
  /** The object was closed. */
  closed: 'XDS_CLOSED',
} as const
