// HTTP/1.1 GET through a pod's SOCKS5 listener, as an app with ALL_PROXY=socks5h://<pod IP>:15080
// would do it: the hostname goes to the proxy unresolved (socks5h), so mesh names resolve there.
import http from 'node:http'
import type { Socket } from 'node:net'
import { connect as socksConnect, SocksClientError } from '../../capture/socks5-client.js'

export interface SocksProxy {
  readonly host: string
  readonly port: number
}

export interface HttpResult {
  readonly status: number
  readonly body: string
}

/** SOCKS reply 0x02 "connection not allowed by ruleset" is how ztunnel reports a policy denial. */
export function isPolicyDenial(err: unknown): boolean {
  return err instanceof SocksClientError && err.replyCode === 0x02
}

export interface HttpGetOptions {
  readonly headers?: Record<string, string>
  readonly timeoutMs?: number
}

/**
 * One HTTP/1.1 GET (`connection: close`), the whole body read. `createConnection` makes the socket
 * (through a proxy, inside a pod); without it Node connects to the URL's host itself.
 */
export function httpGet(
  url: string,
  options: HttpGetOptions = {},
  createConnection?: http.RequestOptions['createConnection'],
): Promise<HttpResult> {
  const u = new URL(url)
  return new Promise((resolve, reject) => {
    const req = http.request(
      {
        method: 'GET',
        host: u.hostname,
        port: Number(u.port || 80),
        path: `${u.pathname}${u.search}`,
        headers: { connection: 'close', ...options.headers },
        ...(createConnection === undefined ? {} : { createConnection }),
      },
      (res) => {
        const chunks: Buffer[] = []
        res.on('data', (c: Buffer) => chunks.push(c))
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString() }))
        res.on('error', reject)
      },
    )
    req.setTimeout(options.timeoutMs ?? 5_000, () => req.destroy(new Error(`GET ${url} timed out`)))
    req.on('error', reject)
    req.end()
  })
}

export function httpGetViaSocks(proxy: SocksProxy, url: string, options: HttpGetOptions = {}): Promise<HttpResult> {
  const u = new URL(url)
  const port = Number(u.port || 80)
  const target = /^\d+\.\d+\.\d+\.\d+$/.test(u.hostname) ? { ip: u.hostname, port } : { host: u.hostname, port }
  return httpGet(url, options, (_opts: unknown, done: (err: Error | null, socket: Socket) => void) => {
    socksConnect(proxy.host, proxy.port, target).then(
      (s) => {
        done(null, s)
        s.resume()
      },
      (err: Error) => done(err, undefined as never),
    )
    return undefined
  })
}

/**
 * A plain HTTP/1.1 GET, as an unmodified app makes it: in-pod capture redirects it in the kernel
 * (the pod's rules), and the name resolves through the pod's resolver (its hosts file).
 */
export function httpGetPlain(url: string, options: HttpGetOptions = {}): Promise<HttpResult> {
  return httpGet(url, options)
}
