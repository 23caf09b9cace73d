// The abort signals of one request's tries (./http-proxy.ts): the route deadline over all tries and
// each try's own timeout. One AbortController per try and one plain timer per timeout, instead of
// AbortSignal.timeout for each and AbortSignal.any to join them (two more signals, their listeners
// and weakly held timers per try); a request without timeouts shares one signal that never aborts,
// and the exchanges hang no listener on it. A fired timer aborts with the reason AbortSignal.timeout
// gives (a `TimeoutError` DOMException). The timers are cleared once the request is answered.
// A mirror, which has nothing to join, takes a plain AbortSignal.timeout (timeoutSignal) with the same rounding.
//
// The same object is the request's cancel handle (a DownstreamCancel): the downstream's 'close'
// listener (`downstreamClosed`, one per request) marks it gone and calls the reset that whoever
// holds the current try registered (the pool's queue, an exchange), or ends a retry's backoff;
// forward starts no try once it is gone. No AbortController for that either: a field and a callback.

/** Never aborts: the signal of every try without a timeout (no listener is ever added to it). */
export const NEVER_ABORTS: AbortSignal = new AbortController().signal

/** Whether hanging an abort listener on `signal` can ever matter. */
export function canAbort(signal: AbortSignal): boolean {
  return signal !== NEVER_ABORTS
}

function timeoutReason(): DOMException {
  return new DOMException('The operation was aborted due to timeout', 'TimeoutError')
}

/** Whole milliseconds, rounded up (deadlines here are fractional; AbortSignal.timeout takes whole ones). */
const wholeMs = (ms: number): number => Math.max(0, Math.ceil(ms))

function after(ms: number, fire: () => void): NodeJS.Timeout {
  return setTimeout(fire, wholeMs(ms)).unref()
}

/** A lone signal that aborts `ms` from now (a mirror's bound: nothing to join it with). */
export function timeoutSignal(ms: number): AbortSignal {
  return AbortSignal.timeout(wholeMs(ms))
}

/** A request's downstream side as its tries see it (TryTimers is one). */
export interface TryCancel {
  /** The downstream went away (its request reset, its connection closed): no try starts any more. */
  readonly downstreamGone: boolean
  /**
   * Resets the try in progress: set by whoever holds it (the pool's queue, an exchange) and cleared
   * (when still its own) once it lets go. Called at most once, when the downstream goes away.
   */
  resetTry: (() => void) | null
}

/**
 * A request's cancel handle without retries (a sidecar's inbound exchange with its app); TryTimers is
 * one with the tries' timers. `downstreamClosed` is the downstream's 'close' listener: before
 * `answered()`, the downstream went away, and the try in progress is reset.
 */
export class DownstreamCancel implements TryCancel {
  downstreamGone = false
  resetTry: (() => void) | null = null
  /** The request is answered: a later 'close' of the downstream is its normal end. */
  private isAnswered = false

  readonly downstreamClosed = (): void => {
    if (this.isAnswered || this.downstreamGone) return
    this.downstreamGone = true
    const reset = this.resetTry
    this.resetTry = null
    reset?.()
  }

  /** The request is answered (or given up): nothing is reset any more. */
  answered(): void {
    this.isAnswered = true
    this.resetTry = null
  }
}

export class TryTimers extends DownstreamCancel {
  /** The route deadline passed (its timer fired). */
  deadlineHit = false
  /** The current try's own timeout fired. */
  tryTimedOut = false
  private deadlineTimer: NodeJS.Timeout | null = null
  private tryTimer: NodeJS.Timeout | null = null
  private current: AbortController | null = null
  private backoffTimer: NodeJS.Timeout | null = null

  /** A retry's backoff: resolves after `ms`, or at once when the downstream goes away (its timer then cleared by `clear`). */
  backoff(ms: number): Promise<void> {
    return new Promise((resolve) => {
      if (this.downstreamGone) return resolve()
      this.resetTry = resolve
      this.backoffTimer = setTimeout(() => {
        this.backoffTimer = null
        if (this.resetTry === resolve) this.resetTry = null
        resolve()
      }, ms)
    })
  }

  /** Starts the route deadline, `ms` from now; null = none. */
  startDeadline(ms: number | null): void {
    if (ms === null || this.deadlineTimer !== null) return
    this.deadlineTimer = after(ms, () => {
      this.deadlineHit = true
      this.current?.abort(timeoutReason())
    })
  }

  /** The signal of the next try, bounded by the deadline and by `tryTimeoutMs` (null = no own timeout). */
  nextTry(tryTimeoutMs: number | null): AbortSignal {
    if (this.tryTimer !== null) clearTimeout(this.tryTimer)
    this.tryTimer = null
    this.tryTimedOut = false
    if (this.deadlineTimer === null && tryTimeoutMs === null) {
      this.current = null
      return NEVER_ABORTS
    }
    const controller = new AbortController()
    this.current = controller
    if (this.deadlineHit) controller.abort(timeoutReason())
    if (tryTimeoutMs !== null)
      this.tryTimer = after(tryTimeoutMs, () => {
        this.tryTimedOut = true
        controller.abort(timeoutReason())
      })
    return controller.signal
  }

  /** The request is answered: no timer fires any more. */
  clear(): void {
    if (this.deadlineTimer !== null) clearTimeout(this.deadlineTimer)
    if (this.tryTimer !== null) clearTimeout(this.tryTimer)
    if (this.backoffTimer !== null) clearTimeout(this.backoffTimer)
    this.deadlineTimer = this.tryTimer = this.backoffTimer = null
    this.current = null
    this.answered()
  }
}
