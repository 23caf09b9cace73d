// The frame every sample app runs in: an HTTP server on the pod-local address (as a container binds
// inside its pod), JSON answers, and outbound calls through the pod's SOCKS5 capture with the trace
// headers of the request being served (the apps propagate them, as the seed says real apps must).
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import { errorMessage } from '../../errors.js'
import { closeServer, listen } from '../../net/listen.js'
import { httpGetPlain, httpGetViaSocks, isPolicyDenial, type SocksProxy } from './http-client.js'
import { traceHeadersOf } from './trace-headers.js'

/** Who the app is: what a container reads from its environment (POD_NAME, ...). */
export interface PodIdentity {
  readonly name: string
  readonly namespace: string
  readonly serviceAccount: string
}

export interface AppContext {
  readonly pod: PodIdentity
  /** The image's version (v1, v2, ...) where the image has one. */
  readonly version: string
  /** The pod's capture (ALL_PROXY); undefined = this app makes no outbound calls. */
  readonly proxy: SocksProxy | undefined
  readonly upstreamTimeoutMs: number
}

export interface AppReply {
  readonly status: number
  readonly body: unknown
}

export interface SampleApp {
  /** The port the image listens on when the container declares none. */
  readonly defaultPort: number | undefined
  /** undefined handle = an idle container (curl/sleep): nothing listens. */
  readonly handle?: (req: http.IncomingMessage, ctx: AppContext) => AppReply | Promise<AppReply>
}

export type UpstreamResult =
  { readonly ok: true; readonly status: number; readonly body: unknown } | { readonly ok: false; readonly error: string }

/**
 * GET through the pod's capture, carrying the served request's trace headers. A non-2xx answer
 * (a waypoint's 403 RBAC, a 503) and a refused connection (ztunnel's SOCKS "not allowed") are
 * reported as errors with the reason.
 */
export async function callUpstream(ctx: AppContext, served: http.IncomingMessage, url: string): Promise<UpstreamResult> {
  try {
    // No ALL_PROXY: a plain request (in-pod capture catches it in the kernel; a pod outside the
    // mesh in socks mode has no resolver for mesh names and fails here, as it would without ztunnel).
    const get = { headers: traceHeadersOf(served.headers), timeoutMs: ctx.upstreamTimeoutMs }
    const r = ctx.proxy === undefined ? await httpGetPlain(url, get) : await httpGetViaSocks(ctx.proxy, url, get)
    if (r.status < 200 || r.status > 299) return { ok: false, error: `${r.status} ${r.body.trim().slice(0, 120)}` }
    try {
      return { ok: true, status: r.status, body: JSON.parse(r.body) as unknown }
    } catch {
      return { ok: true, status: r.status, body: r.body }
    }
  } catch (err) {
    return { ok: false, error: isPolicyDenial(err) ? 'connection denied by policy' : errorMessage(err) }
  }
}

export interface RunningApp {
  readonly address: AddressInfo
  close(): Promise<void>
}

export async function serveApp(app: SampleApp, ctx: AppContext, where: { host: string; port: number }): Promise<RunningApp> {
  const handle = app.handle
  if (handle === undefined) throw new Error('an idle app does not serve')
  const server = http.createServer((req, res) => {
    const reply = (r: AppReply): void => {
      const text = `${JSON.stringify(r.body)}\n`
      // Echo the trace headers back: lets a client (and the tests) see the context went through.
      res.writeHead(r.status, {
        'content-type': 'application/json',
        'content-length': Buffer.byteLength(text),
        ...traceHeadersOf(req.headers),
      })
      res.end(text)
    }
    req.resume()
    Promise.resolve()
      .then(() => handle(req, ctx))
      .then(reply, (err: unknown) => reply({ status: 500, body: { error: errorMessage(err) } }))
  })
  server.keepAliveTimeout = 5_000
  const address = await listen(server, where)
  return {
    address,
    async close() {
      server.closeAllConnections()
      await closeServer(server)
    },
  }
}
