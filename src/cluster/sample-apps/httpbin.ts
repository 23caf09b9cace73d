// An httpbin-like app (the subset Istio's tasks use): /get, /headers, /ip, /status/N, /delay/N,
// /anything. Enough to see headers a waypoint adds, to inject errors and to trip timeouts.
import type { IncomingMessage } from 'node:http'
import { setTimeout as delay } from 'node:timers/promises'
import type { AppReply, SampleApp } from './sample-app.js'

/** httpbin caps /delay at 10 s; so do we. */
const MAX_DELAY_S = 10

function headersOf(req: IncomingMessage): Record<string, string> {
  const out: Record<string, string> = {}
  for (let i = 0; i < req.rawHeaders.length; i += 2) out[req.rawHeaders[i]!] = req.rawHeaders[i + 1]!
  return out
}

export const httpbin: SampleApp = {
  defaultPort: 80,
  handle: async (req, ctx): Promise<AppReply> => {
    const url = new URL(req.url ?? '/', 'http://httpbin')
    const path = url.pathname
    const origin = req.socket.remoteAddress ?? ''
    if (path === '/get' || path.startsWith('/anything')) {
      return {
        status: 200,
        body: {
          args: Object.fromEntries(url.searchParams),
          headers: headersOf(req),
          origin,
          url: `http://${req.headers.host ?? 'httpbin'}${req.url ?? ''}`,
          method: req.method,
          pod: ctx.pod.name,
        },
      }
    }
    if (path === '/headers') return { status: 200, body: { headers: headersOf(req) } }
    if (path === '/ip') return { status: 200, body: { origin } }
    const status = /^\/status\/(\d{3})$/.exec(path)
    if (status !== null) return { status: Number(status[1]), body: {} }
    const wait = /^\/delay\/(\d+(?:\.\d+)?)$/.exec(path)
    if (wait !== null) {
      const seconds = Math.min(Number(wait[1]), MAX_DELAY_S)
      await delay(seconds * 1000)
      return { status: 200, body: { delayed: seconds, headers: headersOf(req), origin } }
    }
    if (path === '/' || path === '/health')
      return { status: 200, body: { pod: ctx.pod.name, endpoints: ['/get', '/headers', '/ip', '/status/N', '/delay/N', '/anything'] } }
    return { status: 404, body: { error: `no route for ${path}` } }
  },
}
