// Stable codes of the HBONE layer (tests and response flags match on these).
import { AmbientError } from '../errors.js'
import type { AmbientErrorOptions } from '../errors.js'

export const HboneErrorCode = {
  /** The server's URI SAN is none of the expected identities: nothing was sent. */
  identityMismatch: 'HBONE_IDENTITY_MISMATCH',
  /** TCP or TLS to the peer's 15008 failed (refused, timeout, handshake, certificate rejected). */
  connectFailed: 'HBONE_CONNECT_FAILED',
  /** TCP + TLS to the peer's 15008 did not complete in time (no answer: often a NetworkPolicy). */
  connectTimeout: 'HBONE_CONNECT_TIMEOUT',
  /** The server answered the CONNECT with a non-200 status (see HboneStatusError.status). */
  rejected: 'HBONE_CONNECT_REJECTED',
  /** The session went away before the CONNECT was answered. */
  streamFailed: 'HBONE_STREAM_FAILED',
  /** No PING reply within the keepalive timeout. */
  keepaliveTimeout: 'HBONE_KEEPALIVE_TIMEOUT',
  /** The pool has no certificate for the source identity (fail closed). */
  noCertificate: 'HBONE_NO_CERTIFICATE',
  /** The pool or server was closed. */
  closed: 'HBONE_CLOSED',
} as const

export class HboneStatusError extends AmbientError {
  readonly status: number

  constructor(status: number, message: string, options: AmbientErrorOptions = {}) {
    super(HboneErrorCode.rejected, message, { side: 'upstream', ...options, details: { status, ...options.details } })
    this.name = 'HboneStatusError'
    this.status = status
  }
}
