// `ambient ui`: the dashboard (127.0.0.1:20001 by default). node:http, no framework. Serves one
// static page (src/ui/page: index.html, app.js and layout.js (ES modules), style.css; plain files read from disk, also from
// dist/ui, which finds them in ../../src/ui/page) and JSON APIs over what src/ui/collector.ts
// polls every second:
//
//   GET /api/state          the run state (or why there is none) and the last poll's problems
//   GET /api/graph          nodes (workloads, services, waypoints) and edges with rate, error rate,
//                           mTLS, via-waypoint and denied (over the last few seconds)
//   GET /api/flows          live connections and recent flows with verdicts and reasons
//   GET /api/policies       authorization policies as istiod serves them, where they apply, analysis
//   GET /api/certificates   the workload certificates each ztunnel holds
//   GET /api/explain?from=&to=&method=&path=   `ambient explain`'s hop-by-hop prediction (src/inspect)
import { existsSync } from 'node:fs'
import { readFile } from 'node:fs/promises'
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { errorMessage } from '../errors.js'
import { closeServer, listen } from '../net/listen.js'
import { createCollector, type Collector } from './collector.js'
import { explainFromCluster, type Explainer } from './explain.js'

export type { ExplainQuery, Explainer } from './explain.js'

export const UI_DEFAULT_PORT = 20001

export interface UiServerOptions {
  readonly stateDir: string
  readonly host?: string
  readonly port?: number
  readonly pollIntervalMs?: number
  readonly windowMs?: number
  /** Edges idle this long leave the graph (default: 3 windows). */
  readonly idleMs?: number
  /** Default: `ambient explain`'s prediction from the cluster's istiod state (src/inspect). */
  readonly explain?: Explainer
  /** Where index.html, app.js, layout.js and style.css are; found next to the sources by default. */
  readonly pageDir?: string
}

export interface UiServer {
  start(): Promise<AddressInfo>
  /** Polls now (tests use it instead of waiting for the timer). */
  poll(): Promise<void>
  readonly collector: Collector
  close(): Promise<void>
}

const PAGE_FILES: Record<string, { file: string; type: string }> = {
  '/': { file: 'index.html', type: 'text/html; charset=utf-8' },
  '/index.html': { file: 'index.html', type: 'text/html; charset=utf-8' },
  '/app.js': { file: 'app.js', type: 'text/javascript; charset=utf-8' },
  '/layout.js': { file: 'layout.js', type: 'text/javascript; charset=utf-8' },
  '/style.css': { file: 'style.css', type: 'text/css; charset=utf-8' },
}

export function findPageDir(): string {
  const candidates = [new URL('./page/', import.meta.url), new URL('../../src/ui/page/', import.meta.url)].map((u) => fileURLToPath(u))
  return candidates.find((d) => existsSync(join(d, 'index.html'))) ?? candidates[0]!
}

export function createUiServer(options: UiServerOptions): UiServer {
  const collector = createCollector({
    stateDir: options.stateDir,
    ...(options.windowMs === undefined ? {} : { windowMs: options.windowMs }),
    ...(options.idleMs === undefined ? {} : { idleMs: options.idleMs }),
  })
  const pageDir = options.pageDir ?? findPageDir()
  const intervalMs = options.pollIntervalMs ?? 1_000
  let timer: NodeJS.Timeout | undefined
  let polling: Promise<void> | undefined
  const poll = (): Promise<void> =>
    (polling ??= collector.poll().finally(() => {
      polling = undefined
    }))

  const send = (res: http.ServerResponse, status: number, body: string | Buffer, type: string): void => {
    res.writeHead(status, { 'content-type': type, 'cache-control': 'no-store' })
    res.end(body)
  }
  const json = (res: http.ServerResponse, status: number, value: unknown): void =>
    send(res, status, `${JSON.stringify(value)}\n`, 'application/json')

  const explain = async (url: URL, res: http.ServerResponse): Promise<void> => {
    const from = url.searchParams.get('from') ?? ''
    const to = url.searchParams.get('to') ?? ''
    if (from === '' || to === '') return json(res, 400, { message: 'from and to are required (e.g. from=curl&to=productpage:9080)' })
    const method = url.searchParams.get('method') ?? undefined
    const path = url.searchParams.get('path') ?? undefined
    try {
      const result = await (options.explain ?? explainFromCluster)(
        { from, to, ...(method ? { method } : {}), ...(path ? { path } : {}) },
        options.stateDir,
      )
      json(res, 200, { result })
    } catch (err) {
      json(res, 422, { message: errorMessage(err) })
    }
  }

  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://ui')
    if (req.method !== 'GET' && req.method !== 'HEAD') return send(res, 405, 'GET only\n', 'text/plain')
    const page = PAGE_FILES[url.pathname]
    if (page !== undefined) {
      readFile(join(pageDir, page.file)).then(
        (body) => send(res, 200, body, page.type),
        (err: unknown) => send(res, 500, `page file missing: ${errorMessage(err)}\n`, 'text/plain'),
      )
      return
    }
    switch (url.pathname) {
      case '/api/state':
        return json(res, 200, collector.status())
      case '/api/graph':
        return json(res, 200, collector.graph())
      case '/api/flows':
        return json(res, 200, collector.flows())
      case '/api/policies':
        return json(res, 200, collector.policies())
      case '/api/certificates':
        return json(res, 200, collector.certificates())
      case '/api/explain':
        return void explain(url, res)
      case '/healthz':
        return send(res, 200, 'ok\n', 'text/plain')
      default:
        return send(
          res,
          404,
          'not found: the page is at /, the APIs under /api (state, graph, flows, policies, certificates, explain)\n',
          'text/plain',
        )
    }
  })
  server.on('clientError', (_err, socket) => socket.destroy())

  return {
    collector,
    poll,
    async start() {
      const address = await listen(server, { host: options.host ?? '127.0.0.1', port: options.port ?? UI_DEFAULT_PORT })
      await poll()
      const tick = (): void => {
        timer = setTimeout(
          () =>
            void poll().finally(() => {
              if (timer !== undefined) tick()
            }),
          intervalMs,
        )
      }
      tick()
      return address
    },
    async close() {
      const t = timer
      timer = undefined
      if (t !== undefined) clearTimeout(t)
      await polling
      server.closeAllConnections()
      await closeServer(server)
    },
  }
}
