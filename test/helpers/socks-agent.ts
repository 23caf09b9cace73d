// node:http over a pod's SOCKS5 capture, for tests: a keep-alive agent whose connections are
// opened by `open` (the SOCKS handshake to a fixed target), and one request read to the end.
import http from 'node:http'
import type net from 'node:net'
import type { Duplex } from 'node:stream'

export interface HttpReply {
  readonly status: number
  readonly body: string
  readonly headers: http.IncomingHttpHeaders
}

export class SocksAgent extends http.Agent {
  constructor(
    private readonly open: () => Promise<net.Socket>,
    maxSockets = 4,
  ) {
    super({ keepAlive: true, maxSockets })
  }

  override createConnection(_options: unknown, callback?: (err: Error | null, socket: Duplex) => void): Duplex | undefined {
    this.open().then(
      // The SOCKS client leaves the socket paused after the handshake; node:http reads with 'data'.
      (s) => {
        s.resume()
        callback?.(null, s)
      },
      (err: unknown) => callback?.(err instanceof Error ? err : new Error(String(err)), undefined as unknown as Duplex),
    )
    return undefined
  }
}

/** One HTTP/1.1 request, the answer read to the end. */
export function requestOnce(options: http.RequestOptions, body?: string): Promise<HttpReply> {
  return new Promise((resolve, reject) => {
    const req = http.request({ timeout: 10_000, ...options }, (res) => {
      const chunks: Buffer[] = []
      res.on('data', (c: Buffer) => chunks.push(c))
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString(), headers: res.headers }))
      res.on('error', reject)
    })
    req.on('timeout', () => req.destroy(new Error('request timed out')))
    req.on('error', reject)
    req.end(body)
  })
}
