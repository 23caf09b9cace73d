// The applications of the benchmark: target servers (echo and sink) and the client operations that
// drive them (one-way throughput, request/response over an existing connection, connection churn).
// Everything listens on and connects to 127.0.0.1 only, and every operation is bounded in time.
import net from 'node:net'
import type { AddressInfo } from 'node:net'
import { sendToSink, serveSink, sinkAcknowledged } from './sink.js'

export const LOOPBACK = '127.0.0.1'

export interface TargetServers {
  /** Echoes every byte back; closes its side when the client closes its side. */
  echoPort: number
  /** Reads an 8-byte big-endian length L, then L bytes, then answers one byte. */
  sinkPort: number
  close(): Promise<void>
}

function listenLoopback(server: net.Server): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject)
    server.listen({ host: LOOPBACK, port: 0, backlog: 4096 }, () => resolve((server.address() as AddressInfo).port))
  })
}

export async function startTargets(): Promise<TargetServers> {
  const sockets = new Set<net.Socket>()
  const track = (s: net.Socket): void => {
    sockets.add(s)
    s.once('close', () => sockets.delete(s))
    s.on('error', () => s.destroy())
  }
  // allowHalfOpen false: the echo ends its side as soon as the client's FIN arrives.
  const echo = net.createServer({ noDelay: true }, (s) => {
    track(s)
    s.pipe(s)
  })
  const sink = net.createServer({ noDelay: true }, (s) => {
    track(s)
    serveSink(s)
  })
  const [echoPort, sinkPort] = await Promise.all([listenLoopback(echo), listenLoopback(sink)])
  return {
    echoPort,
    sinkPort,
    async close() {
      for (const s of sockets) s.destroy()
      await Promise.all([echo, sink].map((srv) => new Promise<void>((r) => srv.close(() => r()))))
    },
  }
}

export function connect(port: number, timeoutMs = 5000): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const s = net.connect({ host: LOOPBACK, port, noDelay: true })
    const timer = setTimeout(() => {
      s.destroy()
      reject(new Error(`connect to ${LOOPBACK}:${port} timed out`))
    }, timeoutMs)
    s.once('error', (err) => {
      clearTimeout(timer)
      reject(err)
    })
    s.once('connect', () => {
      clearTimeout(timer)
      s.removeAllListeners('error')
      resolve(s)
    })
  })
}

/** Runs `work` with a deadline: rejects (and calls `onTimeout`) when it is not done in time. */
export function withDeadline<T>(what: string, ms: number, work: Promise<T>, onTimeout: () => void = () => undefined): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      onTimeout()
      reject(new Error(`${what}: no result within ${ms} ms`))
    }, ms)
  })
  return Promise.race([work, deadline]).finally(() => clearTimeout(timer))
}

export interface ThroughputResult {
  bytes: number
  seconds: number
  gbitPerSec: number
}

/**
 * Sends `bytes` one way through a fresh connection to the sink (through `port`) and waits for its
 * one-byte acknowledgement: the time covers delivery of the last byte, not just handing it to the kernel.
 */
export async function measureThroughput(port: number, bytes: number, maxMs: number): Promise<ThroughputResult> {
  const s = await connect(port)
  try {
    const t0 = performance.now()
    const acked = sinkAcknowledged(s)
    const send = (): Promise<void> => sendToSink(s, bytes, () => waitDrain(s))
    await withDeadline('throughput', maxMs, Promise.all([send(), acked]), () => s.destroy())
    const seconds = (performance.now() - t0) / 1000
    return { bytes, seconds, gbitPerSec: (bytes * 8) / seconds / 1e9 }
  } finally {
    s.removeAllListeners('close')
    s.on('error', () => undefined)
    s.destroy()
  }
}

function waitDrain(s: net.Socket): Promise<void> {
  return new Promise((resolve, reject) => {
    const onDrain = (): void => {
      s.off('close', onClose)
      resolve()
    }
    const onClose = (): void => {
      s.off('drain', onDrain)
      reject(new Error('closed while sending'))
    }
    s.once('drain', onDrain)
    s.once('close', onClose)
  })
}

/**
 * A request/response client over one existing connection to the echo target. Requests may be
 * pipelined: the echo answers in order, so every `size` bytes received complete the oldest request.
 */
export class EchoClient {
  private readonly socket: net.Socket
  private readonly payload: Buffer
  private readonly pending: { resolve: () => void; reject: (err: Error) => void }[] = []
  private head = 0
  private received = 0
  private failed: Error | undefined

  private constructor(socket: net.Socket, size: number) {
    this.socket = socket
    this.payload = Buffer.alloc(size, 0x62)
    socket.on('data', (chunk: Buffer) => this.onData(chunk.length))
    const fail = (err: Error): void => {
      this.failed ??= err
      for (let i = this.head; i < this.pending.length; i++) this.pending[i]!.reject(err)
      this.pending.length = 0
      this.head = 0
    }
    socket.on('error', fail)
    socket.on('close', () => fail(new Error('echo connection closed')))
  }

  static async open(port: number, size = 1024): Promise<EchoClient> {
    return new EchoClient(await connect(port), size)
  }

  request(): Promise<void> {
    if (this.failed) return Promise.reject(this.failed)
    return new Promise((resolve, reject) => {
      this.pending.push({ resolve, reject })
      this.socket.write(this.payload)
    })
  }

  close(): void {
    this.socket.destroy()
  }

  private onData(n: number): void {
    this.received += n
    const size = this.payload.length
    while (this.received >= size && this.head < this.pending.length) {
      this.received -= size
      this.pending[this.head++]!.resolve()
    }
    // Compact the FIFO now and then instead of shifting on every response.
    if (this.head > 1024 && this.head * 2 > this.pending.length) {
      this.pending.splice(0, this.head)
      this.head = 0
    }
  }
}

export interface ChurnResult {
  completed: number
  errors: number
  seconds: number
  perSec: number
  firstError?: string
}

/**
 * Opens `count` connections through `port`, `concurrency` at a time; each sends a small request,
 * waits for the echo, closes its side and waits for the full close. With HBONE each is a new tunnel
 * (CONNECT stream) on the client proxy's pooled sessions.
 */
export async function measureChurn(port: number, count: number, concurrency: number, maxMs: number): Promise<ChurnResult> {
  const t0 = performance.now()
  const deadline = t0 + maxMs
  let started = 0
  let completed = 0
  let errors = 0
  let firstError: string | undefined
  const lane = async (): Promise<void> => {
    while (started < count && performance.now() < deadline) {
      started++
      try {
        await oneConnection(port)
        completed++
      } catch (err) {
        errors++
        firstError ??= err instanceof Error ? err.message : String(err)
      }
    }
  }
  await Promise.all(Array.from({ length: Math.min(concurrency, count) }, lane))
  const seconds = (performance.now() - t0) / 1000
  return { completed, errors, seconds, perSec: completed / seconds, ...(firstError === undefined ? {} : { firstError }) }
}

/**
 * One short-lived connection: connect, `bytes` echoed, client FIN, then wait for the full close (the
 * echo's FIN coming back proves the half-close crossed every hop).
 */
export async function oneConnection(port: number, bytes = 16, timeoutMs = 5000): Promise<void> {
  const s = await connect(port, timeoutMs)
  await new Promise<void>((resolve, reject) => {
    let got = 0
    let ended = false
    const timer = setTimeout(() => {
      s.destroy()
      reject(new Error(`connection did not complete within ${timeoutMs} ms`))
    }, timeoutMs)
    s.on('data', (c: Buffer) => {
      got += c.length
      if (got >= bytes && !s.writableEnded) s.end()
    })
    s.on('end', () => {
      ended = got >= bytes
    })
    s.on('error', () => undefined)
    s.on('close', () => {
      clearTimeout(timer)
      if (ended) resolve()
      else reject(new Error(`connection closed after ${got} of ${bytes} echoed bytes`))
    })
    s.write(Buffer.alloc(bytes, 0x63))
  })
}
