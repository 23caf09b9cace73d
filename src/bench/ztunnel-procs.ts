// The processes of `bench:ztunnel`: two real `ambient ztunnel` daemons (node-a, node-b) on a generated
// local config, the load generator, and CPU pinning. Every child is tracked so that `killAll()` (on
// exit, error or a signal) leaves nothing behind; every wait is bounded in time.
import { execFileSync, fork, spawn } from 'node:child_process'
import type { ChildProcess } from 'node:child_process'
import { randomInt } from 'node:crypto'
import { writeFile } from 'node:fs/promises'
import path from 'node:path'
import { setTimeout as delay } from 'node:timers/promises'
import { stringify } from 'yaml'
import { openMeshCa } from '../identity/ca.js'
import type { OpenLoopResult } from './open-loop.js'
import type { BulkTask, LatencyTask, LoadgenMessage } from './workers/http-loadgen-protocol.js'
import type { BulkResult } from './ztunnel-http.js'
import { forkCommand } from './workers/ipc.js'

const live = new Set<ChildProcess>()

/** SIGKILL every tracked child still running (synchronous: for exit and signal handlers). */
export function killAll(): void {
  for (const c of live) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL')
  live.clear()
}

function track(child: ChildProcess): void {
  live.add(child)
  child.once('exit', () => live.delete(child))
}

/** SIGTERM, then SIGKILL after `graceMs`; resolves when the child has exited. */
export function stopChild(child: ChildProcess, graceMs = 3000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve()
  return new Promise((resolve) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), graceMs)
    child.once('exit', () => {
      clearTimeout(timer)
      resolve()
    })
    child.kill('SIGTERM')
  })
}

/** Whether `taskset` exists and the machine has at least two CPUs to split between sides. */
export function canPin(cores: number): boolean {
  if (cores < 2) return false
  try {
    execFileSync('taskset', ['-p', String(process.pid)], { stdio: 'ignore', timeout: 2000 })
    return true
  } catch {
    return false
  }
}

/** Pins every thread of `pid` to `cpus` (e.g. 1 or '0-1'; threads created later inherit it). */
export function pin(pid: number, cpus: number | string): void {
  execFileSync('taskset', ['-a', '-p', '-c', String(cpus), String(pid)], { stdio: 'ignore', timeout: 2000 })
}

/**
 * Addresses of the bench mesh: 127.X.*.* with X random (so a running demo, which uses 127.18 and
 * 127.244/245, or a second bench run cannot collide). Node IPs carry the ztunnel admin ports.
 */
export interface MeshAddresses {
  x: number
  nodeIp: { a: string; b: string }
  clientPodIp: string
  serverPodIp: string
  serverPodLocal: string
}

export function pickAddresses(): MeshAddresses {
  const avoid = new Set([18, 96, 244, 245])
  let x = randomInt(20, 240)
  while (avoid.has(x)) x = randomInt(20, 240)
  return {
    x,
    nodeIp: { a: `127.${x}.0.1`, b: `127.${x}.0.2` },
    clientPodIp: `127.${x}.1.1`,
    serverPodIp: `127.${x}.2.1`,
    serverPodLocal: `127.${x}.12.1`,
  }
}

/** The local config of the bench mesh: a client pod on node-a, a server pod on node-b, no policy. */
export function meshConfig(a: MeshAddresses): string {
  return stringify({
    workloads: [
      {
        name: 'bench-client',
        namespace: 'bench',
        serviceAccount: 'bench-client',
        node: 'node-a',
        addresses: [a.clientPodIp],
        podLocalAddress: `127.${a.x}.11.1`,
      },
      {
        name: 'bench-server',
        namespace: 'bench',
        serviceAccount: 'bench-server',
        node: 'node-b',
        addresses: [a.serverPodIp],
        podLocalAddress: a.serverPodLocal,
      },
    ],
    services: [],
    policies: [],
  })
}

export interface ZtunnelProc {
  node: string
  nodeIp: string
  child: ChildProcess
  pid: number
}

/** Starts node-a's and node-b's ztunnels and waits until both report ready (bounded). */
export async function startZtunnels(
  cliPath: string,
  dir: string,
  a: MeshAddresses,
  log: (line: string) => void,
  nodeFlags: readonly string[] = [],
): Promise<ZtunnelProc[]> {
  const configFile = path.join(dir, 'ztunnel.yaml')
  await writeFile(configFile, meshConfig(a))
  await openMeshCa({ dir: path.join(dir, 'ca') })
  return startZtunnelProcs(
    cliPath,
    {
      configFile,
      caDir: path.join(dir, 'ca'),
      nodes: [
        ['node-a', a.nodeIp.a],
        ['node-b', a.nodeIp.b],
      ],
    },
    log,
    nodeFlags,
  )
}

export interface ZtunnelPairSpec {
  readonly configFile: string
  readonly caDir: string
  /** [node name, node IP (admin, readiness)] per ztunnel. */
  readonly nodes: readonly (readonly [string, string])[]
  /** More `ambient ztunnel` flags (e.g. `--capture inpod --netns-prefix P`). */
  readonly extraArgs?: readonly string[]
}

/** Starts one `ambient ztunnel` per node of `spec` and waits until each reports ready (bounded). */
export async function startZtunnelProcs(
  cliPath: string,
  spec: ZtunnelPairSpec,
  log: (line: string) => void,
  nodeFlags: readonly string[] = [],
): Promise<ZtunnelProc[]> {
  const procs: ZtunnelProc[] = []
  for (const [node, nodeIp] of spec.nodes) {
    const child = spawn(
      process.execPath,
      [
        '--enable-source-maps',
        ...nodeFlags,
        cliPath,
        'ztunnel',
        '--node',
        node,
        '--node-ip',
        nodeIp,
        '--config',
        spec.configFile,
        '--ca-dir',
        spec.caDir,
        '--log-level',
        'warn',
        '--drain-deadline',
        '1s',
        ...(spec.extraArgs ?? []),
      ],
      { stdio: ['ignore', 'ignore', 'pipe'] },
    )
    track(child)
    child.stderr?.on('data', (d: Buffer) => log(`[ztunnel ${node}] ${d.toString().trimEnd()}`))
    procs.push({ node, nodeIp, child, pid: child.pid! })
  }
  await Promise.all(procs.map((p) => waitReady(p, 20_000)))
  return procs
}

async function waitReady(p: ZtunnelProc, timeoutMs: number): Promise<void> {
  const url = `http://${p.nodeIp}:15021/healthz/ready`
  const deadline = Date.now() + timeoutMs
  for (;;) {
    if (p.child.exitCode !== null || p.child.signalCode !== null)
      throw new Error(`ztunnel ${p.node} exited during start (see its log above)`)
    try {
      const res = await fetch(url, { signal: AbortSignal.timeout(1000) })
      if (res.status === 200) return
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) throw new Error(`${url} not ready after ${timeoutMs} ms`)
    await delay(50)
  }
}

/** The load generator process: one task at a time, results over IPC. */
export class Loadgen {
  readonly child: ChildProcess
  private nextId = 1

  private constructor(child: ChildProcess) {
    this.child = child
  }

  /** Forks the generator and waits (bounded) until it has loaded and says 'ready'. */
  static async start(file: string, timeoutMs = 15_000, netns?: string): Promise<Loadgen> {
    const child = fork(file, [], {
      ...forkCommand([], netns),
      stdio: ['ignore', 2, 2, 'ipc'],
      serialization: 'json',
    })
    track(child)
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        child.kill('SIGKILL')
        reject(new Error(`load generator: not ready within ${timeoutMs} ms`))
      }, timeoutMs)
      const onExit = (code: number | null): void => {
        clearTimeout(timer)
        reject(new Error(`load generator exited during start (code ${code})`))
      }
      const onMessage = (msg: LoadgenMessage): void => {
        if (msg.type !== 'ready') return
        clearTimeout(timer)
        child.off('exit', onExit)
        child.off('message', onMessage)
        resolve()
      }
      child.once('exit', onExit)
      child.on('message', onMessage)
    })
    return new Loadgen(child)
  }

  get pid(): number {
    return this.child.pid!
  }

  /** Runs a latency task; `onSteady` is called when the measured window starts. */
  latency(task: Omit<LatencyTask, 'type' | 'id'>, onSteady: () => void): Promise<OpenLoopResult> {
    return this.run<OpenLoopResult>({ type: 'latency', id: 0, ...task }, 'latency-result', onSteady, task.maxDurationMs * 2 + 10_000)
  }

  bulk(task: Omit<BulkTask, 'type' | 'id'>): Promise<BulkResult> {
    return this.run<BulkResult>({ type: 'bulk', id: 0, ...task }, 'bulk-result', () => undefined, task.maxDurationMs + 10_000)
  }

  stop(): Promise<void> {
    if (this.child.connected) this.child.disconnect()
    return stopChild(this.child, 2000)
  }

  private run<R>(task: LatencyTask | BulkTask, resultType: string, onSteady: () => void, boundMs: number): Promise<R> {
    const id = this.nextId++
    return new Promise<R>((resolve, reject) => {
      const cleanup = (): void => {
        clearTimeout(timer)
        this.child.off('message', onMessage)
        this.child.off('exit', onExit)
      }
      const timer = setTimeout(() => {
        cleanup()
        reject(new Error(`load generator: no result for ${task.type} task within ${boundMs} ms`))
      }, boundMs)
      const onExit = (code: number | null, signal: string | null): void => {
        cleanup()
        reject(new Error(`load generator exited (code ${code}, signal ${signal})`))
      }
      const onMessage = (msg: LoadgenMessage): void => {
        if (msg.id !== id || msg.type === 'ready') return
        if (msg.type === 'steady') return onSteady()
        cleanup()
        if (msg.type === 'error') reject(new Error(`load generator: ${msg.message}`))
        else if (msg.type === resultType) resolve(msg.result as R)
        else reject(new Error(`load generator: unexpected ${msg.type}`))
      }
      this.child.on('message', onMessage)
      this.child.once('exit', onExit)
      this.child.send({ ...task, id })
    })
  }
}
