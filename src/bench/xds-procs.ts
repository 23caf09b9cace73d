// Parent side of the `bench:xds` client processes (./workers/xds-clients.ts): fork, the start
// handshake, request/answer helpers with bounded waits, a clock-offset estimate, and kill-on-exit.
import { fork } from 'node:child_process'
import type { ChildProcess } from 'node:child_process'
import { epochNow as wallNow } from '../clock.js'
import type { XdsClientReport, XdsParentMessage, XdsWorkerConfig, XdsWorkerMessage } from './workers/xds-protocol.js'

const live = new Set<ChildProcess>()

/** SIGKILL every client process still running (synchronous: for exit and signal handlers). */
export function killXdsWorkers(): void {
  for (const c of live) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL')
  live.clear()
}

export class XdsClientWorker {
  readonly child: ChildProcess
  readonly name: string
  /** worker clock − parent clock (ms), from the exchange with the smallest round trip. */
  offsetMs = 0
  clockRttMs = Number.NaN
  private listeners = new Set<(msg: XdsWorkerMessage) => void>()
  private nextId = 1

  private constructor(name: string, child: ChildProcess) {
    this.name = name
    this.child = child
    child.on('message', (msg: XdsWorkerMessage) => {
      for (const l of [...this.listeners]) l(msg)
    })
  }

  static async start(
    name: string,
    file: string,
    config: XdsWorkerConfig,
    extraNodeFlags: readonly string[] = [],
    timeoutMs = 15_000,
  ): Promise<XdsClientWorker> {
    // A grpc-js client sets the TLS servername to the IP it dials and Node warns on every connect (ours sends no SNI for an IP).
    const execArgv = ['--enable-source-maps', '--disable-warning=DEP0123', ...extraNodeFlags]
    const child = fork(file, [], { execPath: process.execPath, execArgv, stdio: ['ignore', 2, 2, 'ipc'], serialization: 'json' })
    live.add(child)
    child.once('exit', () => live.delete(child))
    const w = new XdsClientWorker(name, child)
    await w.request({ type: 'start', config }, (m) => m.type === 'ready', timeoutMs)
    return w
  }

  get pid(): number {
    return this.child.pid!
  }

  on(listener: (msg: XdsWorkerMessage) => void): () => void {
    this.listeners.add(listener)
    return () => {
      this.listeners.delete(listener)
    }
  }

  send(msg: XdsParentMessage): void {
    if (!this.child.connected) throw new Error(`${this.name}: IPC channel closed`)
    this.child.send(msg)
  }

  /** Sends `msg` and resolves with the first message `accept` takes; rejects on 'failed'/'error', exit or timeout. */
  request<T extends XdsWorkerMessage>(msg: XdsParentMessage, accept: (m: XdsWorkerMessage) => m is T, timeoutMs: number): Promise<T>
  request(msg: XdsParentMessage, accept: (m: XdsWorkerMessage) => boolean, timeoutMs: number): Promise<XdsWorkerMessage>
  request(msg: XdsParentMessage, accept: (m: XdsWorkerMessage) => boolean, timeoutMs: number): Promise<XdsWorkerMessage> {
    return new Promise((resolve, reject) => {
      const done = (): void => {
        clearTimeout(timer)
        off()
        this.child.off('exit', onExit)
      }
      const timer = setTimeout(() => {
        done()
        reject(new Error(`${this.name}: no answer to '${msg.type}' within ${timeoutMs} ms`))
      }, timeoutMs)
      const onExit = (code: number | null, signal: string | null): void => {
        done()
        reject(new Error(`${this.name} exited (code ${code}, signal ${signal}) while waiting for '${msg.type}'`))
      }
      const off = this.on((m) => {
        if (m.type === 'failed' || m.type === 'error') {
          done()
          reject(new Error(`${this.name}: ${m.message}`))
        } else if (accept(m)) {
          done()
          resolve(m)
        }
      })
      this.child.once('exit', onExit)
      try {
        this.send(msg)
      } catch (err) {
        done()
        reject(err instanceof Error ? err : new Error(String(err)))
      }
    })
  }

  /** NTP-style: offset = worker time − midpoint of the parent's send and receive, best of `samples`. */
  async calibrateClock(samples: number): Promise<void> {
    let best = Number.POSITIVE_INFINITY
    for (let i = 0; i < samples; i++) {
      const id = this.nextId++
      const t = wallNow()
      const m = await this.request({ type: 'clock', id, t }, (x) => x.type === 'clock' && x.id === id, 5000)
      const back = wallNow()
      if (m.type !== 'clock') continue
      if (back - t < best) {
        best = back - t
        this.offsetMs = m.tc - (t + back) / 2
      }
    }
    this.clockRttMs = best
  }

  async stats(): Promise<XdsClientReport[]> {
    const m = await this.request({ type: 'stats' }, (x) => x.type === 'stats', 5000)
    return m.type === 'stats' ? m.clients : []
  }

  async disconnect(timeoutMs = 10_000): Promise<void> {
    await this.request({ type: 'disconnect' }, (x) => x.type === 'disconnected', timeoutMs)
  }

  /** Closes the channel (the worker closes its clients and exits); SIGKILL after `graceMs`. */
  async stop(graceMs = 3000): Promise<void> {
    const c = this.child
    if (c.exitCode !== null || c.signalCode !== null) return
    const exited = new Promise<void>((resolve) => c.once('exit', () => resolve()))
    if (c.connected) c.disconnect()
    const timer = setTimeout(() => c.kill('SIGKILL'), graceMs)
    await exited
    clearTimeout(timer)
  }
}
