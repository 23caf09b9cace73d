// The handshake between the benchmark and its proxy processes, over Node's IPC channel:
//
//   parent → child  { type: 'start', config }     once, after spawn
//   child  → parent { type: 'ready', ports }      the bound listener ports, in config order
//   child  → parent { type: 'failed', message }   start failed; the child exits
//   parent → child  { type: 'stop' }              close and exit
//
// A child also exits when the channel closes (the parent died or was killed), so a crashed benchmark
// leaves no proxy behind.
import { fork } from 'node:child_process'
import type { ChildProcess } from 'node:child_process'

export type ParentMessage<C> = { type: 'start'; config: C } | { type: 'stop' }
export type ChildMessage = { type: 'ready'; ports: number[] } | { type: 'failed'; message: string }

export interface RunningWorker {
  ports: number[]
  close(): Promise<void>
}

/** Child side: waits for the config, starts, reports the ports, closes on 'stop' or disconnect. */
export function serveWorker<C>(start: (config: C) => Promise<RunningWorker>): void {
  const send = process.send?.bind(process)
  if (!send) throw new Error('a bench worker must be started with an IPC channel')
  let running: RunningWorker | undefined
  let stopping = false
  const stop = (): void => {
    if (stopping) return
    stopping = true
    // Open sockets (e.g. pooled sessions) must not keep a stopped worker alive: exit once closed,
    // or after a bounded wait for a close that hangs.
    const done = (): never => process.exit(0)
    setTimeout(done, 2000).unref()
    void (running ? running.close() : Promise.resolve()).catch(() => undefined).then(done)
  }
  process.on('message', (msg: ParentMessage<C>) => {
    if (msg.type === 'stop') return stop()
    if (msg.type !== 'start' || running) return
    start(msg.config).then(
      (r) => {
        running = r
        send({ type: 'ready', ports: r.ports } satisfies ChildMessage)
      },
      (err: unknown) => {
        send({ type: 'failed', message: err instanceof Error ? `${err.name}: ${err.message}` : String(err) } satisfies ChildMessage)
        stop()
      },
    )
  })
  process.on('disconnect', stop)
}

export interface WorkerHandle {
  readonly name: string
  readonly pid: number
  readonly ports: number[]
  /** Asks the worker to stop; SIGKILL if it has not exited within `graceMs`. Never rejects. */
  stop(graceMs?: number): Promise<void>
}

const live = new Set<ChildProcess>()

/** SIGKILL every worker still running (for exit and signal handlers; synchronous). */
export function killAllWorkers(): void {
  for (const child of live) {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL')
  }
  live.clear()
}

export interface StartWorkerOptions {
  /** Extra Node flags for the worker (e.g. `--max-semi-space-size=4`, `--cpu-prof`). */
  nodeFlags?: readonly string[]
  startTimeoutMs?: number
  /** The worker's whole environment (default: ours). */
  env?: Readonly<Record<string, string | undefined>>
  /** Run the worker inside this network namespace (`ip netns exec NAME node …`: same pid, same IPC channel). */
  netns?: string
}

/** fork() options that start Node, or Node inside a network namespace through `ip netns exec` (which execs in place). */
export function forkCommand(nodeFlags: readonly string[], netns: string | undefined): { execPath: string; execArgv: string[] } {
  const node = ['--enable-source-maps', ...nodeFlags]
  return netns === undefined
    ? { execPath: process.execPath, execArgv: node }
    : { execPath: 'ip', execArgv: ['netns', 'exec', netns, process.execPath, ...node] }
}

/** Parent side: starts `file` (a built .js) with Node, sends the config, waits for the ports. */
export function startWorker<C>(name: string, file: string, config: C, options: StartWorkerOptions = {}): Promise<WorkerHandle> {
  const startTimeoutMs = options.startTimeoutMs ?? 15_000
  const child = fork(file, [], {
    ...forkCommand(options.nodeFlags ?? [], options.netns),
    // A worker's logs go to our stderr, so that stdout holds only the report.
    stdio: ['ignore', 2, 2, 'ipc'],
    serialization: 'json',
    ...(options.env === undefined ? {} : { env: { ...options.env } }),
  })
  live.add(child)
  const exited = new Promise<void>((resolve) =>
    child.once('exit', () => {
      live.delete(child)
      resolve()
    }),
  )
  const handle = (ports: number[]): WorkerHandle => ({
    name,
    pid: child.pid!,
    ports,
    async stop(graceMs = 3000) {
      if (child.exitCode !== null || child.signalCode !== null) return
      if (child.connected) child.send({ type: 'stop' } satisfies ParentMessage<C>)
      const timer = setTimeout(() => child.kill('SIGKILL'), graceMs)
      await exited
      clearTimeout(timer)
    },
  })
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL')
      reject(new Error(`${name}: no 'ready' within ${startTimeoutMs} ms`))
    }, startTimeoutMs)
    child.once('error', (err) => {
      clearTimeout(timer)
      reject(err)
    })
    child.once('exit', (code, signal) => {
      clearTimeout(timer)
      reject(new Error(`${name} exited during start (code ${code}, signal ${signal})`))
    })
    child.on('message', (msg: ChildMessage) => {
      clearTimeout(timer)
      if (msg.type === 'ready') resolve(handle(msg.ports))
      else {
        child.kill('SIGKILL')
        reject(new Error(`${name} failed to start: ${msg.message}`))
      }
    })
    child.send({ type: 'start', config } satisfies ParentMessage<C>)
  })
}
