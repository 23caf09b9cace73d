// The HTTP/1.1 pieces of `bench:ztunnel`: a minimal keep-alive client over raw sockets (no pipelining:
// one request outstanding per connection, a fixed pool of connections), the 1 KiB response the app
// sends, and a one-way bulk transfer to the app's sink. The same client code runs in both modes; only
// how a socket is obtained differs (a direct connect, or SOCKS5 to the client pod's capture listener).
// Every wait is bounded in time.
import net from 'node:net'
import { connect as socksConnect } from '../capture/socks5-client.js'
import { loadCaptureAddon, netnsPath, socketFromFd } from '../capture/inpod/addon.js'
import { sendToSink, sinkAcknowledged } from './sink.js'

export const RESPONSE_BODY_BYTES = 1024

/**
 * How the load generator reaches the app: straight to its address, through a pod's SOCKS5 listener,
 * or (in-pod capture, root) a plain connect from a socket made inside a pod's network namespace,
 * which the pod's rules capture like any of its app's connections.
 */
export type Route =
  | { kind: 'direct'; host: string; port: number }
  | { kind: 'socks'; proxyHost: string; proxyPort: number; ip: string; port: number }
  | { kind: 'netns'; netns: string; ip: string; port: number }

export function describeRoute(r: Route): string {
  if (r.kind === 'netns') return `${r.ip}:${r.port} from netns ${r.netns}`
  return r.kind === 'direct' ? `${r.host}:${r.port}` : `socks5://${r.proxyHost}:${r.proxyPort} → ${r.ip}:${r.port}`
}

/** Opens one TCP connection along `route` (Nagle off), bounded by `timeoutMs`. */
export async function openSocket(route: Route, timeoutMs = 5000): Promise<net.Socket> {
  let timer: NodeJS.Timeout | undefined
  let socket: net.Socket | undefined
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      socket?.destroy()
      reject(new Error(`connect via ${describeRoute(route)} timed out after ${timeoutMs} ms`))
    }, timeoutMs)
  })
  const attempt =
    route.kind === 'socks'
      ? socksConnect(route.proxyHost, route.proxyPort, { ip: route.ip, port: route.port })
      : new Promise<net.Socket>((resolve, reject) => {
          const s =
            route.kind === 'netns'
              ? socketFromFd(loadCaptureAddon().socketTcp(netnsPath(route.netns), 4, 0, false, '', 0)).connect(route.port, route.ip)
              : net.connect({ host: route.host, port: route.port, noDelay: true })
          socket = s
          s.once('error', reject)
          s.once('connect', () => {
            s.off('error', reject)
            resolve(s)
          })
        })
  try {
    const s = await Promise.race([attempt, deadline])
    s.setNoDelay(true)
    // The SOCKS client returns a paused socket: data handlers below resume it.
    return s
  } finally {
    clearTimeout(timer)
    attempt.catch(() => undefined)
  }
}

const HEADER_END = Buffer.from('\r\n\r\n')

/**
 * One keep-alive HTTP/1.1 connection with at most one request outstanding. Parses just enough of the
 * response (status line, Content-Length, body) to know when it is complete.
 */
class HttpConnection {
  private readonly socket: net.Socket
  private readonly request: Buffer
  private buffered: Buffer = Buffer.alloc(0)
  private bodyStart = -1
  private expected = 0
  private current: { resolve: () => void; reject: (err: Error) => void } | undefined
  private status = ''
  failed: Error | undefined

  constructor(
    socket: net.Socket,
    request: Buffer,
    private readonly onIdle: (c: HttpConnection) => void,
  ) {
    this.socket = socket
    this.request = request
    // A broken connection fails its request and every later one at once (it goes back to the pool
    // so waiting requests are rejected rather than left waiting).
    const fail = (err: Error): void => {
      this.failed ??= err
      const current = this.current
      this.current = undefined
      if (current === undefined) return
      current.reject(this.failed)
      onIdle(this)
    }
    socket.on('data', (chunk: Buffer) => {
      if (!this.current) return fail(new Error(`${chunk.length} unexpected bytes with no request outstanding`))
      this.buffered = this.buffered.length === 0 ? chunk : Buffer.concat([this.buffered, chunk])
      if (this.bodyStart < 0) {
        const end = this.buffered.indexOf(HEADER_END)
        if (end < 0) {
          if (this.buffered.length > 16 * 1024) fail(new Error('response header over 16 KiB'))
          return
        }
        const head = this.buffered.subarray(0, end).toString('latin1')
        if (!head.startsWith('HTTP/1.1 ')) return fail(new Error(`unexpected response: ${head.split('\r\n')[0] ?? ''}`))
        const m = /\r\ncontent-length:\s*(\d+)/i.exec(head)
        if (!m?.[1]) return fail(new Error('response without Content-Length'))
        this.status = head.split('\r\n')[0]!
        this.expected = Number(m[1])
        this.bodyStart = end + HEADER_END.length
      }
      const have = this.buffered.length - this.bodyStart
      if (have < this.expected) return
      if (have > this.expected) return fail(new Error(`${have - this.expected} bytes after the response body`))
      const done = this.current
      const status = this.status
      this.current = undefined
      this.buffered = Buffer.alloc(0)
      this.bodyStart = -1
      // A whole non-200 answer is an error for this request; the connection stays usable.
      if (status.startsWith('HTTP/1.1 200 ')) done.resolve()
      else done.reject(new Error(`unexpected response: ${status}`))
      onIdle(this)
    })
    socket.on('error', fail)
    socket.on('close', () => fail(new Error('connection closed')))
    socket.resume()
  }

  send(resolve: () => void, reject: (err: Error) => void): void {
    if (this.failed) {
      reject(this.failed)
      // Back to the pool, so the next waiting request is rejected too instead of waiting.
      queueMicrotask(() => this.onIdle(this))
      return
    }
    this.current = { resolve, reject }
    this.socket.write(this.request)
  }

  close(): void {
    this.socket.destroy()
  }
}

/**
 * A fixed pool of keep-alive connections. A request takes an idle connection, or waits (FIFO) for
 * the next one to become idle: under an open loop that wait is part of the measured latency.
 */
export class HttpPool {
  private readonly conns: HttpConnection[] = []
  private readonly idle: HttpConnection[] = []
  private readonly waiting: { resolve: () => void; reject: (err: Error) => void }[] = []
  private waitingHead = 0

  private constructor() {}

  static async open(route: Route, connections: number, path = '/1k'): Promise<HttpPool> {
    const pool = new HttpPool()
    const request = Buffer.from(`GET ${path} HTTP/1.1\r\nHost: bench-server\r\nUser-Agent: ambient-bench\r\nAccept: */*\r\n\r\n`, 'latin1')
    try {
      const sockets = await Promise.all(Array.from({ length: connections }, () => openSocket(route)))
      for (const s of sockets) {
        const c = new HttpConnection(s, request, (conn) => pool.release(conn))
        pool.conns.push(c)
        pool.idle.push(c)
      }
    } catch (err) {
      pool.close()
      throw err
    }
    return pool
  }

  get size(): number {
    return this.conns.length
  }

  /** One GET; resolves when the whole 1 KiB response has arrived. */
  request(): Promise<void> {
    return new Promise((resolve, reject) => {
      const c = this.idle.pop()
      if (c) c.send(resolve, reject)
      else this.waiting.push({ resolve, reject })
    })
  }

  close(): void {
    for (const c of this.conns) c.close()
    const err = new Error('pool closed')
    for (let i = this.waitingHead; i < this.waiting.length; i++) this.waiting[i]!.reject(err)
    this.waiting.length = 0
    this.waitingHead = 0
  }

  private release(c: HttpConnection): void {
    if (this.waitingHead < this.waiting.length) {
      const next = this.waiting[this.waitingHead++]!
      if (this.waitingHead > 1024 && this.waitingHead * 2 > this.waiting.length) {
        this.waiting.splice(0, this.waitingHead)
        this.waitingHead = 0
      }
      c.send(next.resolve, next.reject)
    } else this.idle.push(c)
  }
}

export interface BulkResult {
  bytes: number
  seconds: number
  gbitPerSec: number
}

/**
 * Sends `bytes` one way on a fresh connection to the sink (8-byte big-endian length, the bytes, then
 * one byte back) and times it until the acknowledgement: delivery of the last byte, not just the
 * hand-over to the kernel.
 */
export async function bulkTransfer(route: Route, bytes: number, maxMs: number): Promise<BulkResult> {
  const s = await openSocket(route)
  let timer: NodeJS.Timeout | undefined
  try {
    const t0 = performance.now()
    const acked = Promise.race([
      sinkAcknowledged(s),
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`bulk transfer: no acknowledgement within ${maxMs} ms`)), maxMs)
      }),
    ])
    acked.catch(() => undefined)
    s.resume()
    await sendToSink(s, bytes, () => Promise.race([new Promise<void>((resolve) => s.once('drain', resolve)), acked]))
    await acked
    const seconds = (performance.now() - t0) / 1000
    return { bytes, seconds, gbitPerSec: (bytes * 8) / seconds / 1e9 }
  } finally {
    clearTimeout(timer)
    s.removeAllListeners('close')
    s.on('error', () => undefined)
    s.destroy()
  }
}
