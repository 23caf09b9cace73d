// Rate limit for repeated log lines, for warn sites that a peer can trigger once per connection (a
// malformed SOCKS client, a failed HBONE handshake, a refused admin request): per key, the first
// `perInterval` lines of each interval are written; the rest are counted, and the next line of that
// key after the interval (or `flush()`, e.g. at close) writes one "suppressed K similar" line first.
// The clock is injected (tests drive it); no timers. Keys are bounded (`maxKeys`): the oldest key is
// flushed and forgotten first.

export interface LogLimiterOptions {
  /** Lines written per key and interval (default 5). */
  readonly perInterval?: number
  /** Default 10 s. */
  readonly intervalMs?: number
  /** Default 1000 keys. */
  readonly maxKeys?: number
  readonly now?: () => number
}

/** What to do with one line: write it or not, and first report `suppressed` earlier lines (when > 0). */
export interface LimitDecision {
  readonly write: boolean
  readonly suppressed: number
}

interface Window {
  start: number
  written: number
  suppressed: number
}

export class LogLimiter {
  readonly perInterval: number
  readonly intervalMs: number
  readonly #maxKeys: number
  readonly #now: () => number
  readonly #windows = new Map<string, Window>()

  constructor(options: LogLimiterOptions = {}) {
    this.perInterval = options.perInterval ?? 5
    this.intervalMs = options.intervalMs ?? 10_000
    this.#maxKeys = options.maxKeys ?? 1000
    this.#now = options.now ?? Date.now
  }

  /** Decides one line of `key`. */
  decide(key: string): LimitDecision {
    const now = this.#now()
    let w = this.#windows.get(key)
    let suppressed = 0
    if (w !== undefined && now - w.start >= this.intervalMs) {
      suppressed = w.suppressed
      w = undefined
    }
    if (w === undefined) {
      w = { start: now, written: 0, suppressed: 0 }
      this.#windows.delete(key)
      this.#windows.set(key, w)
    }
    if (w.written < this.perInterval) {
      w.written++
      return { write: true, suppressed }
    }
    w.suppressed++
    return { write: false, suppressed }
  }

  /** Keys with lines suppressed and not yet reported, with their counts; resets them. Also drops
   * keys beyond `maxKeys` (oldest first), returning their counts. */
  flush(all = true): Array<[string, number]> {
    const out: Array<[string, number]> = []
    if (all) {
      for (const [key, w] of this.#windows) if (w.suppressed > 0) out.push([key, w.suppressed])
      this.#windows.clear()
      return out
    }
    while (this.#windows.size > this.#maxKeys) {
      const [key, w] = this.#windows.entries().next().value as [string, Window]
      this.#windows.delete(key)
      if (w.suppressed > 0) out.push([key, w.suppressed])
    }
    return out
  }
}

/** The logger shape the limited sites use (pino's, or the capture's narrower one). */
export interface WarnLogger {
  warn(fields: Record<string, unknown>, message: string): void
}

/** A warn() that goes through a limiter: `warn(key, fields, message)`. The "suppressed" line carries
 * `event: 'log_suppressed'`, the key and the count. */
export interface LimitedWarn {
  warn(key: string, fields: Record<string, unknown>, message: string): void
  /** Writes the pending "suppressed" lines (at close). */
  flush(): void
}

export function limitedWarn(logger: WarnLogger, options: LogLimiterOptions = {}): LimitedWarn {
  const limiter = new LogLimiter(options)
  const report = (key: string, count: number): void => {
    logger.warn(
      { event: 'log_suppressed', key, suppressed: count, intervalMs: limiter.intervalMs },
      `suppressed ${count} similar lines (${key})`,
    )
  }
  return {
    warn(key, fields, message) {
      const d = limiter.decide(key)
      if (d.suppressed > 0) report(key, d.suppressed)
      if (d.write) logger.warn(fields, message)
      for (const [k, n] of limiter.flush(false)) report(k, n)
    },
    flush() {
      for (const [k, n] of limiter.flush()) report(k, n)
    },
  }
}
