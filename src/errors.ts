// The one error shape of the project. Every error that crosses a module boundary carries a stable
// `code` (tests and tools match on it, never on message text), the `side` that caused it, and an
// optional cause. Mapping errors to the wire (HBONE status, response flag, SOCKS reply, exit code)
// happens in one function per wire, never at throw sites.
//
// This module depends on nothing of ours, so every layer (identity and net included) may use it.

/** Who is at fault: the peer that connected to us, the peer we connected to, us, or the user's config. */
export type ErrorSide = 'downstream' | 'upstream' | 'internal' | 'config'

export interface AmbientErrorOptions {
  side?: ErrorSide
  cause?: unknown
  /** Structured context for logs: never parsed by callers. */
  details?: Record<string, unknown>
}

export class AmbientError extends Error {
  readonly code: string
  readonly side: ErrorSide
  readonly details: Record<string, unknown> | undefined

  constructor(code: string, message: string, options: AmbientErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause })
    this.name = 'AmbientError'
    this.code = code
    this.side = options.side ?? 'internal'
    this.details = options.details
  }
}

export function isAmbientError(err: unknown, code?: string): err is AmbientError {
  return err instanceof AmbientError && (code === undefined || err.code === code)
}

/** The code of any error (ours, or Node's `err.code`), for logs and metrics. */
export function errorCode(err: unknown): string {
  if (err instanceof AmbientError) return err.code
  if (err && typeof err === 'object' && 'code' in err && typeof err.code === 'string') return err.code
  return 'UNKNOWN'
}

export function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err)
}

/** Exhaustiveness guard for switches over discriminated unions. */
export function assertNever(value: never, what = 'value'): never {
  throw new AmbientError('INTERNAL_UNREACHABLE', `unexpected ${what}: ${JSON.stringify(value)}`)
}
