// Finding a running `ambient cluster up` and reading its components' debug endpoints: the run-state
// file (<state dir>/cluster.json) names istiod's debug address and every node's IP; each node's
// ztunnel serves /config_dump on <node IP>:15000. Every fetch has a timeout and fails with a coded
// error that says what to do (start the cluster, check the component's log).
import { join } from 'node:path'
import { isAlive, readRunState, type RunState, type RunStatePod } from '../cluster/run-state.js'
import { AmbientError, errorMessage } from '../errors.js'
import { parseIstiodConfig, ztunnelHttpFindings, type AnalysisEntry, type IstiodState } from './istiod-state.js'

export const InspectErrorCode = {
  notRunning: 'CLUSTER_NOT_RUNNING',
  unreachable: 'INSPECT_UNREACHABLE',
  noSuchNode: 'INSPECT_NO_SUCH_NODE',
  noSuchPod: 'INSPECT_NO_SUCH_POD',
} as const

export const ZTUNNEL_ADMIN_PORT = 15000
export const ZTUNNEL_METRICS_PORT = 15020

export interface ClusterClient {
  readonly stateDir: string
  readonly state: RunState
  /** The ztunnel /config_dump of one node. */
  configDump(node: string): Promise<ConfigDump>
  /** istiod's translated state and waypoint configs, and its ztunnel HTTP-attribute findings. */
  istiod(): Promise<IstiodState & { readonly findings: ReadonlyMap<string, string> }>
  /** The log file of a component (`ztunnel/node-1`, `waypoint/default/w`, `pod/default/p`). */
  logFile(name: string): string | undefined
  findPod(ref: string, namespace?: string): RunStatePod
}

/** ztunnel's /config_dump, as src/ztunnel/admin.ts writes it (fields read by the views). */
export interface ConfigDump {
  readonly workloads: readonly Record<string, unknown>[]
  readonly services: readonly Record<string, unknown>[]
  readonly policies: readonly Record<string, unknown>[]
  readonly certificates: readonly Record<string, unknown>[]
  readonly pods: readonly Record<string, unknown>[]
  readonly connections: readonly Record<string, unknown>[]
  readonly config: Record<string, unknown>
}

export interface ClusterClientOptions {
  readonly stateDir: string
  readonly timeoutMs?: number
}

export function openCluster(options: ClusterClientOptions): ClusterClient {
  const { stateDir } = options
  const timeoutMs = options.timeoutMs ?? 3_000
  const state = readRunState(stateDir)
  if (state === undefined || !isAlive(state.runnerPid)) {
    throw new AmbientError(
      InspectErrorCode.notRunning,
      `no cluster is running from ${stateDir}: start one with \`./ambient cluster up --config DIR\` or \`npm run demo\` (or pass --state-dir)`,
      { side: 'config' },
    )
  }
  const logFor = (name: string): string | undefined =>
    state.processes.find((p) => p.name === name)?.logFile ?? join(stateDir, 'logs', `${name.replaceAll('/', '_')}.log`)

  async function getJson(url: string, what: string, log: string | undefined): Promise<unknown> {
    let res: Response
    try {
      res = await fetch(url, { signal: AbortSignal.timeout(timeoutMs) })
    } catch (err) {
      throw new AmbientError(
        InspectErrorCode.unreachable,
        `${what} did not answer ${url} within ${timeoutMs} ms (${errorMessage(err)})${log === undefined ? '' : `; see ${log}`}`,
        { side: 'upstream', cause: err },
      )
    }
    if (res.status !== 200)
      throw new AmbientError(InspectErrorCode.unreachable, `${what} answered ${res.status} on ${url}: ${(await res.text()).trim()}`, {
        side: 'upstream',
      })
    return res.json()
  }

  return {
    stateDir,
    state,
    async configDump(node) {
      const n = state.nodes.find((x) => x.name === node)
      if (n === undefined)
        throw new AmbientError(InspectErrorCode.noSuchNode, `no node "${node}" (nodes: ${state.nodes.map((x) => x.name).join(', ')})`, {
          side: 'config',
        })
      const body = (await getJson(
        `http://${n.ip}:${ZTUNNEL_ADMIN_PORT}/config_dump`,
        `ztunnel ${node}`,
        logFor(`ztunnel/${node}`),
      )) as Partial<ConfigDump>
      return {
        workloads: body.workloads ?? [],
        services: body.services ?? [],
        policies: body.policies ?? [],
        certificates: body.certificates ?? [],
        pods: body.pods ?? [],
        connections: body.connections ?? [],
        config: body.config ?? {},
      }
    },
    async istiod() {
      const [config, analysis] = await Promise.all([
        getJson(`http://${state.istiod.debug}/debug/config`, 'istiod', logFor('istiod')),
        getJson(`http://${state.istiod.debug}/debug/analysis`, 'istiod', logFor('istiod')),
      ])
      return { ...parseIstiodConfig(config), findings: ztunnelHttpFindings(Array.isArray(analysis) ? (analysis as AnalysisEntry[]) : []) }
    },
    logFile: logFor,
    findPod(ref, namespace) {
      const inNs = state.pods.filter((p) => namespace === undefined || p.namespace === namespace)
      const [ns, name] =
        ref.includes('/') && !/^(deploy|deployment|pod)\//.test(ref)
          ? (ref.split('/', 2) as [string, string])
          : [undefined, ref.replace(/^(deploy|deployment|pod)\//, '')]
      const pool = inNs
        .filter((p) => ns === undefined || p.namespace === ns)
        .sort((a, b) => Number(b.namespace === 'default') - Number(a.namespace === 'default'))
      const found =
        pool.find((p) => p.name === name) ?? pool.find((p) => p.workload === name) ?? pool.find((p) => p.workload.startsWith(`${name}-`))
      if (found === undefined)
        throw new AmbientError(
          InspectErrorCode.noSuchPod,
          `no pod "${ref}"; pods: ${state.pods.map((p) => `${p.namespace}/${p.name}`).join(', ') || '(none)'}`,
          { side: 'config' },
        )
      return found
    },
  }
}
