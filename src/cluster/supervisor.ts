// The cluster's process supervisor: starts each component (istiod, ztunnels, waypoints, pods) as a
// child process in its own process group, logs it to its own file, and restarts it when it dies.
//
// Invariants:
//  - a component that exits while it is wanted is reported (exit code or signal and the last lines
//    of its log) and restarted after a backoff: 250 ms doubling to 10 s, back to 250 ms once it has
//    stayed up for 30 s (a crash loop slows down; a rare crash restarts at once);
//  - stop() never restarts: the component is marked unwanted before it is signalled;
//  - stop() sends SIGTERM, then SIGKILL after `killAfterMs`; it resolves once the process is gone, so
//    nothing it bound is still bound;
//  - children get their own process group (`detached`), so a Ctrl-C in the terminal reaches the
//    runner only, and the runner stops them in order (pods, waypoints, ztunnels, istiod).
import { spawn, type ChildProcess } from 'node:child_process'
import { closeSync, openSync, readFileSync } from 'node:fs'

export interface ComponentSpec {
  /** Unique: `istiod`, `ztunnel/node-1`, `pod/default/productpage-v1-…`, `waypoint/default/w`. */
  readonly name: string
  readonly role: 'istiod' | 'ztunnel' | 'waypoint' | 'sidecar' | 'pod'
  readonly command: string
  readonly args: readonly string[]
  readonly env: Readonly<Record<string, string | undefined>>
  readonly logFile: string
}

export type SupervisorEvent =
  | { readonly kind: 'started'; readonly name: string; readonly pid: number; readonly restarts: number }
  | {
      readonly kind: 'crashed'
      readonly name: string
      readonly code: number | null
      readonly signal: string | null
      readonly logTail: string
      readonly restartInMs: number
    }
  | { readonly kind: 'stopped'; readonly name: string }

export interface ComponentStatus {
  readonly name: string
  readonly role: ComponentSpec['role']
  readonly pid: number | undefined
  readonly restarts: number
  readonly logFile: string
  /** The last exit while wanted (a crash): when, how, and the last lines of its log. */
  readonly lastExit?: { readonly at: string; readonly code: number | null; readonly signal: string | null; readonly logTail: string }
}

export interface SupervisorOptions {
  readonly onEvent: (event: SupervisorEvent) => void
  readonly killAfterMs?: number
  readonly backoff?: { readonly initialMs: number; readonly maxMs: number; readonly resetAfterMs: number }
}

export interface Supervisor {
  start(spec: ComponentSpec): void
  stop(name: string): Promise<void>
  has(name: string): boolean
  spec(name: string): ComponentSpec | undefined
  list(): ComponentStatus[]
  /** A component's restarts so far and how long its process has been up (undefined: not running, e.g. in backoff). */
  current(name: string): { readonly restarts: number; readonly upMs: number | undefined } | undefined
  close(): Promise<void>
}

const DEFAULT_BACKOFF = { initialMs: 250, maxMs: 10_000, resetAfterMs: 30_000 }
const LOG_TAIL_LINES = 8

interface Component {
  spec: ComponentSpec
  child: ChildProcess | undefined
  wanted: boolean
  restarts: number
  nextDelayMs: number
  startedAt: number
  timer: NodeJS.Timeout | undefined
  exited: Promise<void>
  lastExit: ComponentStatus['lastExit']
}

export function createSupervisor(options: SupervisorOptions): Supervisor {
  const backoff = options.backoff ?? DEFAULT_BACKOFF
  const killAfterMs = options.killAfterMs ?? 8_000
  const components = new Map<string, Component>()

  const launch = (c: Component): void => {
    c.timer = undefined
    const fd = openSync(c.spec.logFile, 'a')
    let child: ChildProcess
    try {
      child = spawn(c.spec.command, [...c.spec.args], { env: c.spec.env as NodeJS.ProcessEnv, stdio: ['ignore', fd, fd], detached: true })
    } finally {
      closeSync(fd)
    }
    c.child = child
    c.startedAt = Date.now()
    c.exited = new Promise((resolve) => {
      child.once('exit', (code, signal) => {
        c.child = undefined
        resolve()
        if (!c.wanted) return
        if (Date.now() - c.startedAt >= backoff.resetAfterMs) c.nextDelayMs = backoff.initialMs
        const delayMs = c.nextDelayMs
        c.nextDelayMs = Math.min(c.nextDelayMs * 2, backoff.maxMs)
        const logTail = tail(c.spec.logFile)
        c.lastExit = { at: new Date().toISOString(), code, signal, logTail }
        options.onEvent({ kind: 'crashed', name: c.spec.name, code, signal, logTail, restartInMs: delayMs })
        c.restarts++
        c.timer = setTimeout(() => {
          if (c.wanted) launch(c)
        }, delayMs)
      })
    })
    // A spawn failure (no such binary) arrives as 'error' and then, usually, no 'exit'.
    child.once('error', () => {
      if (child.pid === undefined) child.emit('exit', null, null)
    })
    if (child.pid !== undefined) options.onEvent({ kind: 'started', name: c.spec.name, pid: child.pid, restarts: c.restarts })
  }

  const stop = async (name: string): Promise<void> => {
    const c = components.get(name)
    if (c === undefined) return
    c.wanted = false
    components.delete(name)
    if (c.timer !== undefined) clearTimeout(c.timer)
    const child = c.child
    if (child !== undefined && child.exitCode === null && child.signalCode === null) {
      const kill = setTimeout(() => signal(child, 'SIGKILL'), killAfterMs)
      signal(child, 'SIGTERM')
      await c.exited
      clearTimeout(kill)
    }
    options.onEvent({ kind: 'stopped', name })
  }

  return {
    start(spec) {
      if (components.has(spec.name)) throw new Error(`component ${spec.name} is already running`)
      const c: Component = {
        spec,
        child: undefined,
        wanted: true,
        restarts: 0,
        nextDelayMs: backoff.initialMs,
        startedAt: 0,
        timer: undefined,
        exited: Promise.resolve(),
        lastExit: undefined,
      }
      components.set(spec.name, c)
      launch(c)
    },
    stop,
    has: (name) => components.has(name),
    spec: (name) => components.get(name)?.spec,
    list: () =>
      [...components.values()].map((c) => ({
        name: c.spec.name,
        role: c.spec.role,
        pid: c.child?.pid,
        restarts: c.restarts,
        logFile: c.spec.logFile,
        ...(c.lastExit === undefined ? {} : { lastExit: c.lastExit }),
      })),
    current(name) {
      const c = components.get(name)
      if (c === undefined) return undefined
      return { restarts: c.restarts, upMs: c.child === undefined ? undefined : Date.now() - c.startedAt }
    },
    async close() {
      const order: ComponentSpec['role'][] = ['pod', 'sidecar', 'waypoint', 'ztunnel', 'istiod']
      for (const role of order) {
        await Promise.all([...components.values()].filter((c) => c.spec.role === role).map((c) => stop(c.spec.name)))
      }
    },
  }
}

function signal(child: ChildProcess, sig: NodeJS.Signals): void {
  try {
    child.kill(sig)
  } catch {
    // already gone
  }
}

function tail(file: string): string {
  try {
    return readFileSync(file, 'utf8').trimEnd().split('\n').slice(-LOG_TAIL_LINES).join('\n')
  } catch {
    return ''
  }
}
