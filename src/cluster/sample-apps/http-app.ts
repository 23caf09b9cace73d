// A tiny HTTP app for demos and tests: it answers with who it is (pod, version) and, when it has
// upstreams, what they answered: enough to watch load balancing, canaries and denials. It binds the
// pod-local address it is given, like a container in a pod, and reaches other services through the
// pod's SOCKS5 capture (when `proxy` is set), propagating the trace headers as apps must.
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import { closeServer, listen } from '../../net/listen.js'
import { httpGetViaSocks, type SocksProxy } from './http-client.js'

export const TRACE_HEADERS = ['x-request-id', 'traceparent', 'tracestate', 'x-b3-traceid', 'x-b3-spanid', 'x-b3-parentspanid', 'x-b3-sampled', 'b3', 'baggage'] as const

export interface HttpAppOptions {
  readonly host: string
  readonly port: number
  readonly pod: string
  readonly version?: string
  /** Services this app calls on every request, e.g. `http://ratings:9080/ratings`. */
  readonly upstreams?: readonly string[]
  readonly proxy?: SocksProxy
}

export interface HttpApp {
  readonly address: AddressInfo
  readonly requests: number
  close(): Promise<void>
}

export async function startHttpApp(options: HttpAppOptions): Promise<HttpApp> {
  let requests = 0
  const server = http.createServer((req, res) => {
    requests++
    void answer(options, req).then((body) => {
      res.writeHead(200, { 'content-type': 'application/json' })
      res.end(JSON.stringify(body) + '\n')
    })
  })
  server.keepAliveTimeout = 5_000
  const address = await listen(server, { host: options.host, port: options.port })
  return {
    address,
    get requests() {
      return requests
    },
    async close() {
      server.closeAllConnections()
      await closeServer(server)
    },
  }
}

async function answer(options: HttpAppOptions, req: http.IncomingMessage): Promise<Record<string, unknown>> {
  const body: Record<string, unknown> = { pod: options.pod, version: options.version ?? 'v1', path: req.url }
  if (!options.upstreams?.length || !options.proxy) return body
  const headers: Record<string, string> = {}
  for (const h of TRACE_HEADERS) {
    const v = req.headers[h]
    if (typeof v === 'string') headers[h] = v
  }
  body.upstreams = await Promise.all(options.upstreams.map(async (url) => {
    try {
      const r = await httpGetViaSocks(options.proxy!, url, { headers, timeoutMs: 2_000 })
      return { url, status: r.status }
    } catch (err) {
      return { url, error: (err as Error).message }
    }
  }))
  return body
}
