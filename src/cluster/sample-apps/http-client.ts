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

export function httpGetViaSocks(
  proxy: SocksProxy,
  url: string,
  options: { headers?: Record<string, string>; timeoutMs?: number } = {},
): Promise<HttpResult> {
  const u = new URL(url)
  const port = Number(u.port || 80)
  const target = /^\d+\.\d+\.\d+\.\d+$/.test(u.hostname) ? { ip: u.hostname, port } : { host: u.hostname, port }
  return new Promise((resolve, reject) => {
    const req = http.request(
      {
        method: 'GET',
        host: u.hostname,
        port,
        path: `${u.pathname}${u.search}`,
        headers: { connection: 'close', ...options.headers },
        createConnection: (_opts: unknown, done: (err: Error | null, socket: Socket) => void) => {
          socksConnect(proxy.host, proxy.port, target).then(
            (s) => {
              done(null, s)
              s.resume()
            },
            (err: Error) => done(err, undefined as never),
          )
          return undefined
        },
      } as http.RequestOptions,
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

/**
 * A plain HTTP/1.1 GET, as an unmodified app makes it: in-pod capture redirects it in the kernel
 * (the pod's rules), and the name resolves through the pod's resolver (its hosts file).
 */
export function httpGetPlain(url: string, options: { headers?: Record<string, string>; timeoutMs?: number } = {}): Promise<HttpResult> {
  return new Promise((resolve, reject) => {
    const req = http.get(url, { headers: { connection: 'close', ...options.headers } }, (res) => {
      const chunks: Buffer[] = []
      res.on('data', (c: Buffer) => chunks.push(c))
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString() }))
      res.on('error', reject)
    })
    req.setTimeout(options.timeoutMs ?? 5_000, () => req.destroy(new Error(`GET ${url} timed out`)))
    req.on('error', reject)
  })
}
