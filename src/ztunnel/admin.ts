// ztunnel's node-level HTTP endpoints, on Istio's ports: admin 15000 (loopback only: /config_dump,
// /logging, /quitquitquit; bound on the node IP when that is a loopback address, else on 127.0.0.1,
// as ztunnel binds localhost; a request with a foreign Origin or a Host that is not a loopback
// address or `localhost` gets 403 with a code, so a web page cannot POST /quitquitquit or /logging
// by cross-origin form or DNS rebinding), metrics 15020 (/metrics, /stats/prometheus) and readiness 15021
// (/healthz/ready: 200 `ready` once state is loaded and every listener is up, else 500 listing what
// is pending).
import http from 'node:http'
import { isIP, type AddressInfo } from 'node:net'
import { errorCode, errorMessage } from '../errors.js'
import type { CertificateManager } from '../identity/cert-manager.js'
import type { MeshView, Service, Workload } from '../mesh/types.js'
import { closeServer, listen } from '../net/listen.js'
import type { Logger } from '../observability/logger.js'
import { getLevels, setLevel } from '../observability/logger.js'
import { limitedWarn } from '../observability/log-limiter.js'
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

export function configDump(
  o: Pick<AdminOptions, 'mesh' | 'ztunnel' | 'certificates' | 'config' | 'configStatus'>,
): Record<string, unknown> {
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
  return {
    ...w,
    services: Object.fromEntries(
      [...w.services].map(([k, ports]) => [k, Object.fromEntries(ports.map((p) => [p.servicePort, p.targetPort]))]),
    ),
  }
}

export function serviceJson(s: Service): Record<string, unknown> {
  return { ...s }
}

export const AdminErrorCode = {
  foreignOrigin: 'ADMIN_FOREIGN_ORIGIN',
  unexpectedHost: 'ADMIN_UNEXPECTED_HOST',
} as const

function isLoopbackHost(hostname: string): boolean {
  const h = hostname.replace(/^\[(.*)\]$/, '$1').toLowerCase()
  if (h === 'localhost') return true
  if (isIP(h) === 4) return h.startsWith('127.')
  return h === '::1' || h === '::ffff:127.0.0.1' || /^::ffff:127\./.test(h)
}

/** Where the admin port listens: the node IP if it is a loopback address, else 127.0.0.1. */
export function adminBindHost(nodeIp: string): string {
  return isIP(nodeIp.replace(/^\[(.*)\]$/, '$1')) !== 0 && isLoopbackHost(nodeIp) ? nodeIp : '127.0.0.1'
}

/** Why a request to the admin port is refused, or undefined: the Host must name a loopback address
 * (or localhost), never a DNS name (DNS rebinding); an Origin, when sent, must be this same host. */
export function adminRefusal(headers: http.IncomingHttpHeaders): { code: string; error: string } | undefined {
  const host = headers.host
  let hostname: string | undefined
  try {
    hostname = host === undefined ? undefined : new URL(`http://${host}`).hostname
  } catch {
    /* malformed */
  }
  if (host === undefined || hostname === undefined || !isLoopbackHost(hostname)) {
    return {
      code: AdminErrorCode.unexpectedHost,
      error: `Host ${JSON.stringify(host ?? null)} is not a loopback address: the admin port answers only requests addressed to loopback`,
    }
  }
  const origin = headers.origin
  if (origin !== undefined && origin !== `http://${host}`) {
    return {
      code: AdminErrorCode.foreignOrigin,
      error: `Origin ${JSON.stringify(origin)} is not http://${host}: the admin port refuses requests from web pages`,
    }
  }
  return undefined
}

export function createAdminServers(options: AdminOptions): AdminServers {
  const log = options.logger
  // A web page can send refused requests in a loop: per code, a few lines, then one "suppressed".
  const refusedWarn = limitedWarn(log)
  const send = (res: http.ServerResponse, status: number, body: string, type = 'text/plain; charset=utf-8'): void => {
    res.writeHead(status, { 'content-type': type })
    res.end(body)
  }
  const json = (res: http.ServerResponse, status: number, value: unknown): void =>
    send(res, status, JSON.stringify(value, null, 2) + '\n', 'application/json')

  const admin = http.createServer((req, res) => {
    const refusal = adminRefusal(req.headers)
    if (refusal !== undefined) {
      refusedWarn.warn(
        refusal.code,
        {
          event: 'admin_request_refused',
          code: refusal.code,
          method: req.method,
          path: req.url,
          host: req.headers.host,
          origin: req.headers.origin,
        },
        'admin request refused',
      )
      return json(res, 403, refusal)
    }
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
  for (const s of servers)
    s.on('clientError', (err, socket) => {
      log.debug({ event: 'admin_client_error', reason: err.message }, 'bad admin request')
      socket.destroy()
    })
  return {
    async start() {
      const { host, ports } = options
      try {
        return {
          admin: await listen(admin, { host: adminBindHost(host), port: ports.admin }),
          metrics: await listen(metrics, { host, port: ports.metrics }),
          readiness: await listen(readiness, { host, port: ports.readiness }),
        }
      } catch (err) {
        await Promise.all(servers.map(closeServer))
        throw err
      }
    },
    async close() {
      refusedWarn.flush()
      for (const s of servers) s.closeAllConnections()
      await Promise.all(servers.map(closeServer))
    },
  }
}
