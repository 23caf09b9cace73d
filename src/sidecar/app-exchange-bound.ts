// The inbound sidecar's bound on each exchange with its app (10 minutes, response body included):
// a hung app ends as a 503 (or a reset mid-body) instead of holding the caller forever.
//
// One AbortController and one timer per request cost more than the rest of the bound's work (the
// controller's creation, the timer set and cleared, on every request). Here exchanges share them:
// the exchanges that start within one slot (1/600 of the bound, so one second for 10 minutes) get the
// slot's signal, whose one timer fires `slot + bound` after the slot opened. Each exchange is so
// bounded by at least the bound and at most one slot more (10 min to 10 min 1 s), and a fired signal
// aborts only exchanges that ran past the bound. A slot is dropped (its timer cleared) once it is no
// longer the current one and its last exchange ended; so under steady load one or two slots live.
import { setMaxListeners } from 'node:events'

/** The clock and timer the bound runs on (injected: tests drive a fake one). */
export interface BoundClock {
  now(): number
  /** Calls `fire` after `ms`; the returned function cancels it. Must not keep the process alive. */
  setTimer(fire: () => void, ms: number): () => void
}

/** One started exchange's hold on its slot: `signal` aborts it, `end()` is called once when it ended. */
export interface BoundExchange {
  readonly signal: AbortSignal
  end(): void
}

export interface AppExchangeBound {
  /** An exchange starts now. */
  begin(): BoundExchange
  /** Live slots (each holds one timer), for tests. */
  slots(): number
  /** Clears every timer (the sidecar closes; live exchanges are torn down by the close itself). */
  close(): void
}

export const realClock: BoundClock = {
  now: () => performance.now(),
  setTimer(fire, ms) {
    const t = setTimeout(fire, ms).unref()
    return () => clearTimeout(t)
  },
}

/** The reason a fired bound aborts with: what AbortSignal.timeout gives (a `TimeoutError`). */
function timeoutReason(): DOMException {
  return new DOMException('The operation was aborted due to timeout', 'TimeoutError')
}

/** The slot width for a bound: 1/600 of it, at least 1 ms. */
export function slotWidthMs(boundMs: number): number {
  return Math.max(1, Math.ceil(boundMs / 600))
}

export function createAppExchangeBound(boundMs: number, clock: BoundClock = realClock): AppExchangeBound {
  const widthMs = slotWidthMs(boundMs)
  const live = new Set<Slot>()
  let current: Slot | null = null

  class Slot implements BoundExchange {
    inflight = 0
    readonly closesAt: number
    private readonly controller = new AbortController()
    private cancel: (() => void) | null
    constructor(openedAt: number) {
      this.closesAt = openedAt + widthMs
      // Every exchange of the slot listens on this one signal.
      setMaxListeners(0, this.controller.signal)
      this.cancel = clock.setTimer(() => {
        this.cancel = null
        this.controller.abort(timeoutReason())
        if (this.inflight === 0) this.drop()
      }, widthMs + boundMs)
      live.add(this)
    }
    get signal(): AbortSignal {
      return this.controller.signal
    }
    end(): void {
      if (--this.inflight === 0 && this !== current) this.drop()
    }
    drop(): void {
      this.cancel?.()
      this.cancel = null
      live.delete(this)
      if (current === this) current = null
    }
  }

  return {
    begin() {
      let s = current
      if (s === null || s.signal.aborted || clock.now() >= s.closesAt) {
        if (s !== null && s.inflight === 0) s.drop()
        s = current = new Slot(clock.now())
      }
      s.inflight++
      return s
    },
    slots: () => live.size,
    close() {
      for (const s of [...live]) s.drop()
    },
  }
}
