// The run-state file (`<state dir>/cluster.json`): what a running `ambient cluster up` owns, so that
// `ambient cluster down|status` and `ambient exec` in another shell can find it. Written whole to a
// temporary file and renamed over the old one, so a reader never sees half of it; removed by a
// clean shutdown (its absence means no cluster runs from this state directory).
import { randomUUID } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { rename, rm, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { AmbientError, errorMessage } from '../errors.js'

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

/** How a process last exited while it was wanted (a crash), with the tail of its log. */
export interface RunStateExit {
  readonly at: string
  readonly code: number | null
  readonly signal: string | null
  readonly logTail: string
}

/** One Error-level message of istiod's analysis of the watched directory. */
export interface RunStateAnalysis {
  readonly level: string
  readonly code: string
  readonly object?: string
  readonly file?: string
  readonly line?: number
  readonly message: string
  readonly fix: string
}

/** `ambient`: ztunnels and waypoints; `sidecar`: one `ambient sidecar` per captured pod (its metrics and readiness on the pod IP). */
export type ClusterMode = 'ambient' | 'sidecar'

export interface RunState {
  readonly version: typeof RUN_STATE_VERSION
  /** Absent in files written before modes existed: read it with `runStateMode` (absent = ambient). */
  readonly mode?: ClusterMode
  /** In-pod capture: pods run in network namespaces named `<netnsPrefix><ns>.<pod>` (absent = socks). */
  readonly capture?: { readonly kind: 'inpod'; readonly netnsPrefix: string }
  readonly runnerPid: number
  readonly startedAt: string
  readonly configDir: string
  readonly istiod: { readonly grpc: string; readonly debug: string }
  readonly nodes: readonly { readonly name: string; readonly ip: string }[]
  readonly processes: readonly {
    readonly name: string
    readonly role: string
    readonly pid: number | undefined
    readonly restarts: number
    readonly logFile: string
    readonly lastExit?: RunStateExit
  }[]
  readonly pods: readonly RunStatePod[]
  readonly waypoints: readonly { readonly namespace: string; readonly name: string; readonly ip: string; readonly running: boolean }[]
  /** istiod's Error-level analysis messages for the watched directory (absent: none, or an older runner). */
  readonly analysis?: readonly RunStateAnalysis[]
}

/**
 * How a user on the host reaches a waypoint's metrics. With SOCKS capture the pod IP is a 127.x
 * address: a URL. With in-pod capture it lives only inside the cluster's namespaces (blackholed on
 * the host), so it is the command that runs curl inside the waypoint's own namespace.
 */
export function waypointMetricsAccess(
  state: Pick<RunState, 'capture'>,
  w: { readonly namespace: string; readonly name: string; readonly ip: string },
  cli = './ambient',
  stateDirFlag = '',
): string {
  const url = `http://${w.ip}:15020/metrics`
  return state.capture?.kind === 'inpod' ? `${cli} exec${stateDirFlag} -n ${w.namespace} ${w.name} -- curl -s ${url}` : url
}

/** The cluster's mode; a run state without one (older runners) is ambient. */
export function runStateMode(state: Pick<RunState, 'mode'>): ClusterMode {
  return state.mode === 'sidecar' ? 'sidecar' : 'ambient'
}

/** Sidecar mode: the captured pods' sidecars, with the admin URLs they serve on the pod IP (15020, 15021). */
export function runStateSidecars(
  state: Pick<RunState, 'mode' | 'pods'>,
): { readonly pod: RunStatePod; readonly metrics: string; readonly ready: string }[] {
  if (runStateMode(state) !== 'sidecar') return []
  return state.pods
    .filter((p) => p.captured)
    .map((p) => ({ pod: p, metrics: `http://${p.podIP}:15020/metrics`, ready: `http://${p.podIP}:15021/healthz/ready` }))
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

export const RunStateErrorCode = {
  invalid: 'RUN_STATE_INVALID',
} as const

/**
 * The run state, or undefined when there is none (or it is another version's). A file that is not
 * JSON, lacks the lists and istiod of a run state, or names a mode we do not know, is a
 * RUN_STATE_INVALID error.
 */
export function readRunState(stateDir: string): RunState | undefined {
  const path = runStatePath(stateDir)
  let text: string
  try {
    text = readFileSync(path, 'utf8')
  } catch {
    return undefined
  }
  let value: Partial<RunState>
  try {
    value = JSON.parse(text) as Partial<RunState>
  } catch (err) {
    throw new AmbientError(
      RunStateErrorCode.invalid,
      `${path} is not JSON (${errorMessage(err)}); remove it if no cluster runs from ${stateDir}`,
      { side: 'config', cause: err },
    )
  }
  if (value === null || typeof value !== 'object' || value.version !== RUN_STATE_VERSION) return undefined
  if (value.mode !== undefined && value.mode !== 'ambient' && value.mode !== 'sidecar') {
    throw new AmbientError(RunStateErrorCode.invalid, `${path}: mode ${JSON.stringify(value.mode)} is not ambient or sidecar`, {
      side: 'config',
    })
  }
  const notArrays = (['nodes', 'processes', 'pods', 'waypoints'] as const).filter((k) => !Array.isArray(value[k]))
  if (notArrays.length > 0 || typeof value.istiod !== 'object' || value.istiod === null) {
    throw new AmbientError(
      RunStateErrorCode.invalid,
      `${path}: not a run state (` +
        [
          ...notArrays.map((k) => `${k} is not a list`),
          ...(typeof value.istiod !== 'object' || value.istiod === null ? ['istiod is missing'] : []),
        ].join(', ') +
        ')',
      { side: 'config' },
    )
  }
  return value as RunState
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
