// istiod's 15014: debug views and metrics (Istio serves the same port with /debug/* and /metrics).
//   /debug/config?node=N   what node N is served: every workload, service, policy and waypoint
//                          config (istiod sends all of them to every node), with N's own workloads
//                          listed; without ?node, the same for the whole translation
//   /debug/analysis        the analysis of the current config (JSON; ?format=text for istioctl-like lines)
//   /debug/connections     connected proxies, their subscriptions and the recent NACKs
//   /metrics, /stats/prometheus
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import { errorMessage } from '../errors.js'
import type { Logger } from '../observability/logger.js'
import type { DeltaAdsStatus } from '../xds/delta-server.js'
import { formatJson, formatText, type AnalysisMessage } from './analysis/index.js'
import type { IstiodMetrics } from './metrics.js'
import type { Translation } from './translate/index.js'

export interface DebugServerOptions {
  readonly host: string
  readonly port: number
  readonly logger: Logger
  readonly metrics: IstiodMetrics
  /** The translation being served and the config version it came from. */
  state(): { readonly version: number; readonly translation: Translation | undefined }
  analysis(): readonly AnalysisMessage[]
  connections(): DeltaAdsStatus
  /** Known node names (node-1..node-N). */
  readonly nodes: readonly string[]
}

export interface DebugServer {
  start(): Promise<AddressInfo>
  close(): Promise<void>
}

export function createDebugServer(options: DebugServerOptions): DebugServer {
  const server = http.createServer((req, res) => {
    handle(req, res).catch((err: unknown) => {
      options.logger.error({ event: 'debug_request_failed', url: req.url, err: errorMessage(err) }, 'debug request failed')
      if (!res.headersSent) send(res, 500, 'text/plain', `${errorMessage(err)}\n`)
      else res.destroy()
    })
  })

  async function handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://istiod')
    if (req.method !== 'GET') return send(res, 405, 'text/plain', 'GET only\n')
    switch (url.pathname) {
      case '/debug/config': {
        const node = url.searchParams.get('node') ?? undefined
        if (node !== undefined && !options.nodes.includes(node))
          return send(res, 404, 'text/plain', `unknown node "${node}" (nodes: ${options.nodes.join(', ')})\n`)
        return send(res, 200, 'application/json', toJson(configView(options.state(), node)))
      }
      case '/debug/analysis': {
        const messages = options.analysis()
        if (url.searchParams.get('format') === 'text')
          return send(res, 200, 'text/plain', messages.map((m) => `${formatText(m)}\n`).join(''))
        return send(res, 200, 'application/json', `${formatJson(messages)}\n`)
      }
      case '/debug/connections':
        return send(res, 200, 'application/json', toJson(options.connections()))
      case '/metrics':
      case '/stats/prometheus':
        return send(res, 200, options.metrics.contentType, await options.metrics.render())
      default:
        return send(
          res,
          404,
          'text/plain',
          'endpoints: /debug/config[?node=N], /debug/analysis[?format=text], /debug/connections, /metrics\n',
        )
    }
  }

  return {
    start: () =>
      new Promise<AddressInfo>((resolve, reject) => {
        server.once('error', reject)
        server.listen(options.port, options.host, () => {
          server.off('error', reject)
          resolve(server.address() as AddressInfo)
        })
      }),
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve())
        server.closeAllConnections()
      }),
  }
}

function configView(state: ReturnType<DebugServerOptions['state']>, node: string | undefined) {
  const t = state.translation
  return {
    node: node ?? null,
    configVersion: state.version,
    localWorkloads: node === undefined || t === undefined ? null : t.mesh.workloads.filter((w) => w.node === node).map((w) => w.uid),
    workloads: t?.mesh.workloads ?? [],
    services: t?.mesh.services ?? [],
    policies: t?.mesh.policies ?? [],
    waypoints: t?.waypoints ?? [],
  }
}

/** JSON with Maps as objects and Sets as arrays (domain values use both). */
function toJson(value: unknown): string {
  return `${JSON.stringify(value, (_k, v: unknown) => (v instanceof Map ? Object.fromEntries(v) : v instanceof Set ? [...v] : v), 2)}\n`
}

function send(res: http.ServerResponse, status: number, contentType: string, body: string): void {
  res.writeHead(status, { 'content-type': contentType, 'content-length': Buffer.byteLength(body) })
  res.end(body)
}
