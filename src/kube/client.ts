// A small Kubernetes API client over node:http(s): JSON requests and watch streams.
//
// Why our own and not @kubernetes/client-node (~1.4.0 is the one that loads on Node 20): istiod needs
// six verbs (list, watch, get, create, patch, delete) plus TokenReview, and the watch semantics are
// what matter — resume from resourceVersion, bookmarks, 410 Gone → relist, reconnect — which the
// Reflector (reflector.ts) states in ~150 lines we can read and test against our fake API server.
// client-node would add a large dependency tree whose informer hides exactly those decisions.
import http from 'node:http'
import https from 'node:https'
import { AmbientError, errorMessage } from '../errors.js'
import type { KubeConnection } from './kubeconfig.js'

export const KubeErrorCode = {
  /** The API server answered with a non-2xx status (the Status object's reason/message kept). */
  status: 'KUBE_API_STATUS',
  /** The connection failed or the reply was not JSON. */
  transport: 'KUBE_API_TRANSPORT',
  badConfig: 'KUBE_CONFIG_INVALID',
} as const

export class KubeStatusError extends AmbientError {
  constructor(
    readonly statusCode: number,
    readonly reason: string,
    message: string,
  ) {
    super(KubeErrorCode.status, message, { side: 'upstream' })
  }
}

/** A Kubernetes object as JSON; only metadata is typed. */
export interface KubeObject {
  apiVersion?: string
  kind?: string
  metadata: {
    name: string
    namespace?: string
    resourceVersion?: string
    uid?: string
    labels?: Record<string, string>
    [k: string]: unknown
  }
  [k: string]: unknown
}

export interface KubeList {
  readonly metadata: { readonly resourceVersion: string }
  readonly items: KubeObject[]
}

export interface WatchEvent {
  readonly type: 'ADDED' | 'MODIFIED' | 'DELETED' | 'BOOKMARK' | 'ERROR'
  readonly object: KubeObject & { code?: number; reason?: string; message?: string }
}

export interface WatchHandle {
  /** Resolves when the stream ends (server closed it, or abort()). Rejects on transport errors. */
  readonly done: Promise<void>
  abort(): void
}

export type PatchType = 'merge' | 'strategic' | 'json'
const PATCH_TYPES: Record<PatchType, string> = {
  merge: 'application/merge-patch+json',
  strategic: 'application/strategic-merge-patch+json',
  json: 'application/json-patch+json',
}

export class KubeClient {
  constructor(readonly connection: KubeConnection) {}

  async request<T>(method: string, path: string, body?: unknown, contentType = 'application/json'): Promise<T> {
    const res = await this.#open(method, path, body, contentType)
    const text = await readAll(res)
    const status = res.statusCode ?? 0
    let json: unknown
    try {
      json = text === '' ? {} : JSON.parse(text)
    } catch (err) {
      throw new AmbientError(KubeErrorCode.transport, `${method} ${path}: HTTP ${status}, not JSON: ${errorMessage(err)}`, {
        side: 'upstream',
        cause: err,
      })
    }
    if (status < 200 || status >= 300) {
      const s = json as { reason?: string; message?: string }
      throw new KubeStatusError(status, s.reason ?? '', `${method} ${path}: HTTP ${status} ${s.reason ?? ''}: ${s.message ?? text}`)
    }
    return json as T
  }

  list(path: string, query: Record<string, string> = {}): Promise<KubeList> {
    return this.request('GET', withQuery(path, query))
  }

  get<T = KubeObject>(path: string): Promise<T> {
    return this.request('GET', path)
  }

  create<T = KubeObject>(path: string, body: unknown): Promise<T> {
    return this.request('POST', path, body)
  }

  replace<T = KubeObject>(path: string, body: unknown): Promise<T> {
    return this.request('PUT', path, body)
  }

  patch<T = KubeObject>(path: string, body: unknown, type: PatchType = 'merge'): Promise<T> {
    return this.request('PATCH', path, body, PATCH_TYPES[type])
  }

  delete(path: string): Promise<unknown> {
    return this.request('DELETE', path)
  }

  /** `?watch=1`: one JSON event per line, handed to `onEvent` as it arrives. */
  watch(path: string, query: Record<string, string>, onEvent: (e: WatchEvent) => void): WatchHandle {
    let aborted = false
    let response: http.IncomingMessage | undefined
    const done = (async () => {
      const res = await this.#open('GET', withQuery(path, { ...query, watch: '1' }), undefined, undefined)
      response = res
      if (aborted) return void res.destroy()
      if ((res.statusCode ?? 0) !== 200) {
        const text = await readAll(res)
        let s: { reason?: string; message?: string; code?: number } = {}
        try {
          s = JSON.parse(text) as typeof s
        } catch {
          /* not a Status */
        }
        throw new KubeStatusError(res.statusCode ?? 0, s.reason ?? '', `watch ${path}: HTTP ${res.statusCode} ${s.message ?? text}`)
      }
      res.setEncoding('utf8')
      let buf = ''
      for await (const chunk of res) {
        buf += chunk as string
        let nl: number
        while (!aborted && (nl = buf.indexOf('\n')) >= 0) {
          const line = buf.slice(0, nl).trim()
          buf = buf.slice(nl + 1)
          if (line !== '') onEvent(JSON.parse(line) as WatchEvent)
        }
        if (aborted) break
      }
    })().catch((err: unknown) => {
      if (aborted) return
      throw err
    })
    return {
      done,
      abort: () => {
        aborted = true
        response?.destroy()
      },
    }
  }

  #open(method: string, path: string, body: unknown, contentType: string | undefined): Promise<http.IncomingMessage> {
    const c = this.connection
    const url = new URL(path, c.server)
    const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body))
    const headers: Record<string, string> = { accept: 'application/json' }
    if (c.token !== undefined) headers.authorization = `Bearer ${c.token}`
    if (payload !== undefined) {
      headers['content-type'] = contentType ?? 'application/json'
      headers['content-length'] = String(payload.length)
    }
    const secure = url.protocol === 'https:'
    const options: https.RequestOptions = {
      method,
      headers,
      ...(secure ? { ca: c.caPem, cert: c.certPem, key: c.keyPem, rejectUnauthorized: c.insecure !== true } : {}),
    }
    return new Promise((resolve, reject) => {
      const req = (secure ? https : http).request(url, options, resolve)
      req.on('error', (err) =>
        reject(
          new AmbientError(KubeErrorCode.transport, `${method} ${url.pathname}: ${errorMessage(err)}`, { side: 'upstream', cause: err }),
        ),
      )
      req.end(payload)
    })
  }
}

function withQuery(path: string, query: Record<string, string>): string {
  const q = new URLSearchParams(query).toString()
  return q === '' ? path : `${path}${path.includes('?') ? '&' : '?'}${q}`
}

async function readAll(res: http.IncomingMessage): Promise<string> {
  res.setEncoding('utf8')
  let text = ''
  for await (const chunk of res) text += chunk as string
  return text
}
