// ztunnel's node-level HTTP endpoints, on Istio's ports: admin 15000 (loopback only: /config_dump,
// /logging, /quitquitquit), metrics 15020 (/metrics, /stats/prometheus) and readiness 15021
// (/healthz/ready: 200 `ready` once state is loaded and every listener is up, else 500 listing what
// is pending).
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import { errorCode, errorMessage } from '../errors.js'
import type { CertificateManager } from '../identity/cert-manager.js'
import type { MeshView, Service, Workload } from '../mesh/types.js'
import { closeServer, listen } from '../net/listen.js'
import type { Logger } from '../observability/logger.js'
import { getLevels, setLevel } from '../observability/logger.js'
import type { Ztunnel } from './ztunnel.js'

export interface AdminOptions {
  readonly host: string
  readonly ports: { readonly admin: number; readonly metrics: number; readonly readiness: number }
  readonly ztunnel: Ztunnel
  readonly mesh: MeshView
  readonly certificates: CertificateManager
  readonly logger: Logger
  /** Whether mesh state has been loaded at least once (local file read, or first xDS push). */
  readonly stateLoaded: () => boolean
  /** The effective configuration, shown under `config`. */
  readonly config: Record<string, unknown>
  /** The last config load (applied, or rejected with its errors), shown under `configStatus`. */
  readonly configStatus?: () => unknown
  /** /quitquitquit asks the process to stop (the CLI drains and exits). */
  readonly onQuit: () => void
}

export interface AdminServers {
  start(): Promise<{ admin: AddressInfo; metrics: AddressInfo; readiness: AddressInfo }>
  close(): Promise<void>
}

export function configDump(o: Pick<AdminOptions, 'mesh' | 'ztunnel' | 'certificates' | 'config' | 'configStatus'>): Record<string, unknown> {
  return {
    workloads: o.mesh.workloads().map(workloadJson),
    services: o.mesh.services().map(serviceJson),
    policies: o.mesh.policies(),
    certificates: o.certificates.dump(),
    pods: o.ztunnel.pods(),
    connections: o.ztunnel.flows.list(),
    config: o.config,
    ...(o.configStatus === undefined ? {} : { configStatus: o.configStatus() ?? null }),
  }
}

export function workloadJson(w: Workload): Record<string, unknown> {
  return { ...w, services: Object.fromEntries([...w.services].map(([k, ports]) => [k, Object.fromEntries(ports.map((p) => [p.servicePort, p.targetPort]))])) }
}

export function serviceJson(s: Service): Record<string, unknown> {
  return { ...s }
}

export function createAdminServers(options: AdminOptions): AdminServers {
  const log = options.logger
  const send = (res: http.ServerResponse, status: number, body: string, type = 'text/plain; charset=utf-8'): void => {
    res.writeHead(status, { 'content-type': type })
    res.end(body)
  }
  const json = (res: http.ServerResponse, status: number, value: unknown): void => send(res, status, JSON.stringify(value, null, 2) + '\n', 'application/json')

  const admin = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://admin')
    if (url.pathname === '/config_dump') return json(res, 200, configDump(options))
    if (url.pathname === '/logging') {
      const spec = url.searchParams.get('level')
      if (spec === null) return json(res, 200, getLevels(options.logger))
      if (req.method !== 'POST') return send(res, 405, 'use POST /logging?level=<spec>\n')
      try {
        return json(res, 200, setLevel(options.logger, spec))
      } catch (err) {
        return json(res, 400, { code: errorCode(err), error: errorMessage(err) })
      }
    }
    if (url.pathname === '/quitquitquit') {
      if (req.method !== 'POST') return send(res, 405, 'use POST /quitquitquit\n')
      send(res, 200, 'OK\n')
      options.onQuit()
      return
    }
    send(res, 404, 'endpoints: /config_dump, /logging, /quitquitquit\n')
  })

  const metrics = http.createServer((req, res) => {
    const path = new URL(req.url ?? '/', 'http://metrics').pathname
    if (path !== '/metrics' && path !== '/stats/prometheus') return send(res, 404, 'endpoints: /metrics, /stats/prometheus\n')
    options.ztunnel.metrics.render().then(
      (text) => send(res, 200, text, options.ztunnel.metrics.contentType),
      (err: unknown) => send(res, 500, `metrics failed: ${errorMessage(err)}\n`),
    )
  })

  const readiness = http.createServer((req, res) => {
    const path = new URL(req.url ?? '/', 'http://ready').pathname
    if (path !== '/healthz/ready') return send(res, 404, 'endpoints: /healthz/ready\n')
    const pending: string[] = []
    if (!options.stateLoaded()) pending.push('state not loaded')
    pending.push(...options.ztunnel.ready().pending)
    if (pending.length === 0) return send(res, 200, 'ready\n')
    send(res, 500, `not ready:\n${pending.map((p) => `  ${p}`).join('\n')}\n`)
  })

  const servers = [admin, metrics, readiness]
  for (const s of servers) s.on('clientError', (err, socket) => {
    log.debug({ event: 'admin_client_error', reason: err.message }, 'bad admin request')
    socket.destroy()
  })
  return {
    async start() {
      const { host, ports } = options
      try {
        return {
          admin: await listen(admin, { host, port: ports.admin }),
          metrics: await listen(metrics, { host, port: ports.metrics }),
          readiness: await listen(readiness, { host, port: ports.readiness }),
        }
      } catch (err) {
        await Promise.all(servers.map(closeServer))
        throw err
      }
    },
    async close() {
      for (const s of servers) s.closeAllConnections()
      await Promise.all(servers.map(closeServer))
    },
  }
}
