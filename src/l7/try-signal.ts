// The abort signals of one request's tries (./http-proxy.ts): the route deadline over all tries and
// each try's own timeout. One AbortController per try and one plain timer per timeout, instead of
// AbortSignal.timeout for each and AbortSignal.any to join them (two more signals, their listeners
// and weakly held timers per try); a request without timeouts shares one signal that never aborts,
// and the exchanges hang no listener on it. A fired timer aborts with the reason AbortSignal.timeout
// gives (a `TimeoutError` DOMException). The timers are cleared once the request is answered.
// A mirror, which has nothing to join, takes a plain AbortSignal.timeout (timeoutSignal) with the same rounding.

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

export class TryTimers {
  /** The route deadline passed (its timer fired). */
  deadlineHit = false
  /** The current try's own timeout fired. */
  tryTimedOut = false
  private deadlineTimer: NodeJS.Timeout | null = null
  private tryTimer: NodeJS.Timeout | null = null
  private current: AbortController | null = null

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
    this.deadlineTimer = this.tryTimer = null
    this.current = null
  }
}
