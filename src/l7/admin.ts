// An L7 proxy's HTTP endpoints on its pod IP (the waypoint's and each sidecar's), on Istio's ports:
// 15020 Prometheus (`/metrics`, `/stats/prometheus`) and 15021 readiness (`/healthz/ready`: 200
// `ready` once a config is loaded and the listeners are up, else 500 listing what is pending).
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import { errorMessage } from '../errors.js'
import { closeServer, listen } from '../net/listen.js'
import type { Logger } from '../observability/logger.js'
import type { Metrics } from '../observability/metrics.js'

/** The admin ports of a proxy. */
export interface AdminPorts {
  /** Default 15020. */
  readonly metrics?: number
  /** Default 15021. */
  readonly readiness?: number
}

export interface AdminAddresses {
  readonly metrics: AddressInfo
  readonly readiness: AddressInfo
}

export interface ProxyAdminOptions {
  readonly host: string
  readonly ports?: AdminPorts
  readonly metrics: Metrics
  readonly logger: Logger
  /** What still keeps the proxy from being ready; empty = ready. */
  readonly pending: () => readonly string[]
}

export interface ProxyAdmin {
  start(): Promise<AdminAddresses>
  close(): Promise<void>
}

export function createProxyAdmin(options: ProxyAdminOptions): ProxyAdmin {
  const send = (res: http.ServerResponse, status: number, body: string, type = 'text/plain; charset=utf-8'): void => {
    res.writeHead(status, { 'content-type': type })
    res.end(body)
  }
  const metrics = http.createServer((req, res) => {
    const path = new URL(req.url ?? '/', 'http://metrics').pathname
    if (path !== '/metrics' && path !== '/stats/prometheus') return send(res, 404, 'endpoints: /metrics, /stats/prometheus\n')
    options.metrics.render().then(
      (text) => send(res, 200, text, options.metrics.contentType),
      (err: unknown) => send(res, 500, `metrics failed: ${errorMessage(err)}\n`),
    )
  })
  const readiness = http.createServer((req, res) => {
    const path = new URL(req.url ?? '/', 'http://ready').pathname
    if (path !== '/healthz/ready') return send(res, 404, 'endpoints: /healthz/ready\n')
    const pending = options.pending()
    if (pending.length === 0) return send(res, 200, 'ready\n')
    send(res, 500, `not ready:\n${pending.map((p) => `  ${p}`).join('\n')}\n`)
  })
  const servers = [metrics, readiness]
  for (const s of servers)
    s.on('clientError', (err, socket) => {
      options.logger.debug({ event: 'admin_client_error', reason: err.message }, 'bad admin request')
      socket.destroy()
    })
  return {
    async start() {
      return {
        metrics: await listen(metrics, { host: options.host, port: options.ports?.metrics ?? 15020 }),
        readiness: await listen(readiness, { host: options.host, port: options.ports?.readiness ?? 15021 }),
      }
    },
    async close() {
      for (const s of servers) s.closeAllConnections()
      await Promise.all(servers.map((s) => closeServer(s)))
    },
  }
}
