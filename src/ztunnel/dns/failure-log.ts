// One log line per kind of DNS failure per interval: a pod whose resolver retries a failing name
// (or a broken upstream, which fails every forwarded query) must not flood the log. The first
// failure of a kind is logged at once; later ones within the interval are counted and the count is
// reported on the next line of that kind.
import type { Logger } from '../../observability/logger.js'

export const DEFAULT_FAILURE_LOG_INTERVAL_MS = 10_000

export interface FailureLog {
  /** `kind` is the rate-limit key (e.g. `upstream_timeout`); `fields` go on the line. */
  failure(kind: string, fields: Record<string, unknown>, message: string): void
}

export function createFailureLog(logger: Logger, intervalMs = DEFAULT_FAILURE_LOG_INTERVAL_MS, now: () => number = Date.now): FailureLog {
  const last = new Map<string, { at: number; suppressed: number }>()
  return {
    failure(kind, fields, message) {
      const t = now()
      const entry = last.get(kind)
      if (entry !== undefined && t - entry.at < intervalMs) {
        entry.suppressed += 1
        return
      }
      const suppressed = entry?.suppressed ?? 0
      last.set(kind, { at: t, suppressed: 0 })
      logger.warn({ event: 'dns_failure', kind, ...fields, ...(suppressed > 0 ? { suppressed } : {}) }, message)
    },
  }
}
