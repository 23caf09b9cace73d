// A small httpbin-like app for behaviour tests, one per pod: every request is recorded, and the
// path says what to answer, so a test needs no per-test handler and no config change:
//   /status/<code>        answer <code>
//   /delay/<ms>           answer 200 after <ms> (bounded by 10 s)
//   /flaky/<key>/<n>      answer 503 to the first <n> requests with this <key> (across pods), then 200
//   /hold/<key>           held until release(<key>) (the test decides when, no sleeps)
//   /hold-at/<pod>/<key>  held as /hold/<key> at that pod only; 200 at once elsewhere
//   /fail-at/<pod>/<code> answer <code> at that pod only; 200 elsewhere
//   anything else         200, a JSON echo: pod, version, method, url, host
// The command may follow other segments (/mirror/status/500 is /status/500), so routes without a
// rewrite can use it too.
import type http from 'node:http'

export interface SeenRequest {
  readonly pod: string
  readonly method: string
  readonly url: string
  readonly headers: http.IncomingHttpHeaders
}

export interface HttpbinApps {
  /** Requests each pod's app saw, in order. */
  readonly seen: ReadonlyMap<string, SeenRequest[]>
  /** All requests whose path starts with `prefix`, across pods. */
  seenUnder(prefix: string): SeenRequest[]
  handler(pod: string): http.RequestListener
  /** Requests held under `key` right now. */
  held(key: string): number
  /** Answers every request held under `key` with 200. */
  release(key: string): void
  /** Answers everything still held (teardown). */
  releaseAll(): void
}

const COMMANDS = new Set(['status', 'delay', 'flaky', 'hold', 'hold-at', 'fail-at'])

export function createHttpbinApps(pods: readonly string[]): HttpbinApps {
  const seen = new Map<string, SeenRequest[]>(pods.map((p) => [p, []]))
  const failures = new Map<string, number>()
  const holds = new Map<string, (() => void)[]>()
  const answer = (res: http.ServerResponse, status: number, body: unknown): void => {
    const text = typeof body === 'string' ? body : JSON.stringify(body)
    res.writeHead(status, {
      'content-type': typeof body === 'string' ? 'text/plain' : 'application/json',
      'content-length': Buffer.byteLength(text),
    })
    res.end(text)
  }
  const release = (key: string): void => {
    for (const done of holds.get(key)?.splice(0) ?? []) done()
  }
  return {
    seen,
    seenUnder: (prefix) => [...seen.values()].flat().filter((r) => r.url.startsWith(prefix)),
    held: (key) => holds.get(key)?.length ?? 0,
    release,
    releaseAll: () => {
      for (const key of holds.keys()) release(key)
    },
    handler: (pod) => (req, res) => {
      const url = req.url ?? '/'
      let list = seen.get(pod)
      if (list === undefined) seen.set(pod, (list = []))
      list.push({ pod, method: req.method ?? '', url, headers: req.headers })
      req.resume()
      req.on('end', () => {
        const all = url
          .split('?')[0]!
          .split('/')
          .filter((p) => p !== '')
        const at = all.findIndex((p) => COMMANDS.has(p))
        const parts = at < 0 ? [] : all.slice(at)
        if (parts[0] === 'hold-at') {
          if (parts[1] !== pod) parts.length = 0
          else parts.splice(0, 2, 'hold')
        }
        const echo = { pod, version: pod.slice(pod.lastIndexOf('-') + 1), method: req.method, url, host: req.headers.host }
        if (parts[0] === 'status' && /^\d{3}$/.test(parts[1] ?? '')) return answer(res, Number(parts[1]), echo)
        if (parts[0] === 'fail-at' && /^\d{3}$/.test(parts[2] ?? '')) return answer(res, parts[1] === pod ? Number(parts[2]) : 200, echo)
        if (parts[0] === 'delay') {
          const ms = Math.min(Number(parts[1]) || 0, 10_000)
          const timer = setTimeout(() => answer(res, 200, echo), ms)
          res.on('close', () => clearTimeout(timer))
          return
        }
        if (parts[0] === 'flaky') {
          const key = parts[1] ?? ''
          const n = failures.get(key) ?? 0
          failures.set(key, n + 1)
          return answer(res, n < Number(parts[2] ?? 0) ? 503 : 200, echo)
        }
        if (parts[0] === 'hold') {
          const key = parts[1] ?? ''
          let waiting = holds.get(key)
          if (waiting === undefined) holds.set(key, (waiting = []))
          const done = (): void => {
            if (!res.writableEnded && !res.destroyed) answer(res, 200, echo)
          }
          waiting.push(done)
          res.on('close', () => {
            const i = waiting.indexOf(done)
            if (i >= 0) waiting.splice(i, 1)
          })
          return
        }
        answer(res, 200, echo)
      })
    },
  }
}
