// Spans as Zipkin v2 JSON (https://zipkin.io/zipkin-api/#/default/post_spans), reported to a file
// (one JSON span per line) or to a collector (`POST /api/v2/spans`, a JSON array per batch).
// The collector sink batches: a bounded queue (overflow dropped), one POST in flight, failed
// batches dropped; both counted in `dropped`. Reporting never slows or fails a request.
import { appendFile } from 'node:fs/promises'

export interface ZipkinSpan {
  readonly traceId: string
  readonly id: string
  readonly parentId?: string
  readonly name: string
  readonly kind: 'SERVER' | 'CLIENT'
  /** Microseconds since the epoch. */
  readonly timestamp: number
  /** Microseconds. */
  readonly duration: number
  readonly localEndpoint: { readonly serviceName: string }
  readonly remoteEndpoint?: { readonly serviceName?: string; readonly ipv4?: string; readonly port?: number }
  readonly tags: Readonly<Record<string, string>>
}

export interface SpanSink {
  report(span: ZipkinSpan): void
  /** Spans lost: queue overflow or failed writes/POSTs. */
  readonly dropped: number
  /** Writes/POSTs what is queued, then stops. */
  close(): Promise<void>
}

export const DEFAULT_MAX_QUEUE = 1000
export const DEFAULT_BATCH_DELAY_MS = 50

interface QueueOptions {
  readonly maxQueue?: number
  readonly batchDelayMs?: number
}

function batchingSink(send: (spans: ZipkinSpan[]) => Promise<void>, options: QueueOptions): SpanSink {
  const maxQueue = options.maxQueue ?? DEFAULT_MAX_QUEUE
  const delay = options.batchDelayMs ?? DEFAULT_BATCH_DELAY_MS
  let queue: ZipkinSpan[] = []
  let dropped = 0
  let timer: NodeJS.Timeout | undefined
  let inFlight: Promise<void> = Promise.resolve()
  const flush = (): Promise<void> => {
    timer = undefined
    if (queue.length === 0) return inFlight
    const batch = queue
    queue = []
    inFlight = inFlight
      .then(() => send(batch))
      .catch(() => {
        dropped += batch.length
      })
    return inFlight
  }
  return {
    report(span) {
      if (queue.length >= maxQueue) {
        dropped++
        return
      }
      queue.push(span)
      if (timer === undefined) {
        timer = setTimeout(() => void flush(), delay)
        timer.unref()
      }
    },
    get dropped() {
      return dropped
    },
    async close() {
      if (timer !== undefined) clearTimeout(timer)
      await flush()
    },
  }
}

/** JSON lines appended to `file`. */
export function zipkinFileSink(file: string, options: QueueOptions = {}): SpanSink {
  return batchingSink((spans) => appendFile(file, spans.map((s) => `${JSON.stringify(s)}\n`).join('')), options)
}

/** POSTs batches to a Zipkin collector, e.g. `http://127.0.0.1:9411/api/v2/spans`. */
export function zipkinHttpSink(url: string, options: QueueOptions & { timeoutMs?: number } = {}): SpanSink {
  return batchingSink(async (spans) => {
    const res = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(spans),
      signal: AbortSignal.timeout(options.timeoutMs ?? 5_000),
    })
    await res.arrayBuffer()
    if (!res.ok) throw new Error(`zipkin collector answered ${res.status}`)
  }, options)
}

/** From options, else `AMBIENT_ZIPKIN_FILE` / `AMBIENT_ZIPKIN_URL` of `env` (src/cli passes its env); undefined when neither is set. */
export function spanSinkFrom(
  options: { file?: string | undefined; url?: string | undefined },
  env: Readonly<Record<string, string | undefined>> = {},
): SpanSink | undefined {
  const file = options.file ?? env.AMBIENT_ZIPKIN_FILE
  const url = options.url ?? env.AMBIENT_ZIPKIN_URL
  if (file !== undefined && file !== '') return zipkinFileSink(file)
  if (url !== undefined && url !== '') return zipkinHttpSink(url)
  return undefined
}
