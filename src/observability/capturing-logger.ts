// Logs as data for tests: a pino destination that keeps every line as a parsed object, so a test
// asserts `{ msg: 'connection complete', 'src.identity': ... }` instead of grepping text, and waits
// for a record instead of sleeping (style rule 10).
import { AmbientError } from '../errors.js'
import { createLogger, type LogLevel, type Logger } from './logger.js'

/** One JSON log line. `level` is the level name (see createLogger's formatter). */
export interface LogRecord {
  level: LogLevel
  time: string
  msg?: string
  component?: string
  scope?: string
  [key: string]: unknown
}

export interface CapturingLogger {
  logger: Logger
  /** Every record so far, oldest first; live (new records are appended). */
  readonly records: LogRecord[]
  /** The first record (already logged or future) matching `predicate`; rejects after `timeoutMs`. */
  waitFor(predicate: (r: LogRecord) => boolean, timeoutMs?: number): Promise<LogRecord>
  /** Records a JSON log line another process wrote (a proxy run as a child process), as if logged here. */
  ingest(line: string): void
  /** Records matching `predicate`, for "exactly one" assertions. */
  filter(predicate: (r: LogRecord) => boolean): LogRecord[]
  clear(): void
}

export interface CapturingLoggerOptions {
  /** Default `trace`: tests want to see everything. */
  level?: LogLevel
  component?: string
}

export function createCapturingLogger(options: CapturingLoggerOptions = {}): CapturingLogger {
  const records: LogRecord[] = []
  const waiters = new Set<{ predicate: (r: LogRecord) => boolean; resolve: (r: LogRecord) => void }>()
  const destination = {
    write(line: string): void {
      const record = JSON.parse(line) as LogRecord
      records.push(record)
      for (const w of waiters) {
        if (w.predicate(record)) {
          waiters.delete(w)
          w.resolve(record)
        }
      }
    },
  }
  const logger = createLogger({ level: options.level ?? 'trace', component: options.component ?? 'test', destination })

  return {
    logger,
    records,
    ingest: (line) => destination.write(line),
    filter: (predicate) => records.filter(predicate),
    clear: () => void records.splice(0),
    waitFor(predicate, timeoutMs = 5000) {
      const seen = records.find(predicate)
      if (seen) return Promise.resolve(seen)
      return new Promise<LogRecord>((resolve, reject) => {
        const timer = setTimeout(() => {
          waiters.delete(waiter)
          reject(new AmbientError('TEST_LOG_TIMEOUT', `no matching log record within ${timeoutMs} ms (${records.length} records seen)`))
        }, timeoutMs)
        const waiter = {
          predicate,
          resolve: (r: LogRecord) => {
            clearTimeout(timer)
            resolve(r)
          },
        }
        waiters.add(waiter)
      })
    },
  }
}
