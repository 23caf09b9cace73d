// The run-state file (`<state dir>/cluster.json`): what a running `ambient cluster up` owns, so that
// `ambient cluster down|status` and `ambient exec` in another shell can find it. Written whole to a
// temporary file and renamed over the old one, so a reader never sees half of it; removed by a
// clean shutdown (its absence means no cluster runs from this state directory).
import { randomUUID } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { rename, rm, writeFile } from 'node:fs/promises'
import { join } from 'node:path'

export const RUN_STATE_FILE = 'cluster.json'
export const RUN_STATE_VERSION = 1

export interface RunStatePod {
  readonly namespace: string
  readonly name: string
  /** The Deployment (or the pod itself): what `ambient exec deploy/NAME` finds. */
  readonly workload: string
  readonly node: string
  readonly podIP: string
  /** Where the pod's apps listen: its pod-local address when captured, else its pod IP. */
  readonly podLocalIP: string
  /** In ambient: ztunnel captures it, and its processes get ALL_PROXY. */
  readonly captured: boolean
  readonly serviceAccount: string
  readonly images: readonly string[]
}

export interface RunState {
  readonly version: typeof RUN_STATE_VERSION
  readonly runnerPid: number
  readonly startedAt: string
  readonly configDir: string
  readonly istiod: { readonly grpc: string; readonly debug: string }
  readonly nodes: readonly { readonly name: string; readonly ip: string }[]
  readonly processes: readonly { readonly name: string; readonly role: string; readonly pid: number | undefined; readonly restarts: number; readonly logFile: string }[]
  readonly pods: readonly RunStatePod[]
  readonly waypoints: readonly { readonly namespace: string; readonly name: string; readonly ip: string; readonly running: boolean }[]
}

export function runStatePath(stateDir: string): string {
  return join(stateDir, RUN_STATE_FILE)
}

export async function writeRunState(stateDir: string, state: RunState): Promise<void> {
  const path = runStatePath(stateDir)
  const tmp = `${path}.${randomUUID()}.tmp`
  await writeFile(tmp, `${JSON.stringify(state, null, 2)}\n`)
  await rename(tmp, path)
}

/** The run state, or undefined when there is none (or it is not ours to read). */
export function readRunState(stateDir: string): RunState | undefined {
  let text: string
  try {
    text = readFileSync(runStatePath(stateDir), 'utf8')
  } catch {
    return undefined
  }
  const value = JSON.parse(text) as Partial<RunState>
  return value.version === RUN_STATE_VERSION ? (value as RunState) : undefined
}

export async function removeRunState(stateDir: string): Promise<void> {
  await rm(runStatePath(stateDir), { force: true })
}

/** Whether a pid is alive (signal 0 probes without signalling). */
export function isAlive(pid: number | undefined): boolean {
  if (pid === undefined) return false
  try {
    process.kill(pid, 0)
    return true
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM'
  }
}
