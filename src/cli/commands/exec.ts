// `ambient exec [-n NS] POD -- CMD [ARGS...]`: runs CMD as if inside the pod, like `kubectl exec`:
// with the pod's environment (POD_NAME, POD_NAMESPACE, SERVICE_ACCOUNT) and its capture
// (ALL_PROXY=socks5h://<pod IP>:15080, which curl honours), so `ambient exec curl -- curl -s
// http://reviews:9080/reviews/0` goes through the pod's ztunnel with the pod's identity.
// POD is a pod name, `deploy/NAME` or a Deployment name (its first pod), found in the run state of
// a running `ambient cluster up`. With `--capture inpod` the command runs inside the pod's network
// namespace (`ip netns exec`), with no proxy setting: plain curl is captured by the pod's rules.
// There a waypoint (by name, or `waypoint/NAME`) is a target too: its own, uncaptured namespace,
// where its pod IP (metrics, readiness) is reachable.
import { spawn } from 'node:child_process'
import { resolve } from 'node:path'
import { podEnv } from '../../cluster/cluster.js'
import { isAlive, readRunState, type RunStatePod } from '../../cluster/run-state.js'
import { AmbientError } from '../../errors.js'
import { parseCommandArgs } from '../args.js'
import type { Command } from '../io.js'

const USAGE = 'ambient exec [-n NAMESPACE] [--state-dir .ambient] POD|deploy/NAME|waypoint/NAME -- CMD [ARGS...]'

export const execCommand: Command = async (argv, io) => {
  const { values, positionals } = parseCommandArgs(
    argv,
    { namespace: { type: 'string', short: 'n' }, 'state-dir': { type: 'string' } },
    USAGE,
    true,
  )
  const [target, cmd, ...args] = positionals
  if (target === undefined || cmd === undefined)
    throw new AmbientError('CLI_USAGE', `name a pod and a command\nusage: ${USAGE}`, { side: 'config' })
  const stateDir = resolve(io.cwd, values['state-dir'] ?? '.ambient')
  const state = readRunState(stateDir)
  if (state === undefined || !isAlive(state.runnerPid)) {
    throw new AmbientError(
      'CLUSTER_NOT_RUNNING',
      `no cluster is running from ${stateDir}: start one with \`./ambient cluster up --config DIR\` or \`npm run demo\` (or pass --state-dir)`,
      { side: 'config' },
    )
  }
  // In-pod capture: the command runs inside the pod's network namespace, with no proxy setting;
  // the pod's rules capture it as they capture the app.
  const inpod = state.capture?.kind === 'inpod' ? state.capture.netnsPrefix : undefined
  // A waypoint has a namespace of its own in in-pod mode (not captured): its pod IP (metrics on
  // 15020) is reachable from there, never from the host.
  const waypoint = inpod === undefined ? undefined : findWaypoint(state.waypoints, state.pods, target, values.namespace)
  if (waypoint !== undefined) {
    return runIn(['ip', ['netns', 'exec', `${inpod}${waypoint.namespace}.${waypoint.name}`, cmd, ...args]], io.env, cmd)
  }
  const pod = findPod(state.pods, target, values.namespace)
  const env = podEnv(io.env, {
    ...pod,
    bindIP: inpod === undefined ? pod.podLocalIP : pod.podIP,
    captured: inpod === undefined && pod.captured,
  })
  return runIn(
    inpod === undefined ? [cmd, args] : ['ip', ['netns', 'exec', `${inpod}${pod.namespace}.${pod.name}`, cmd, ...args]],
    env,
    cmd,
  )
}

/** A waypoint named `target` (or `waypoint/NAME`) when no pod has that name; undefined otherwise. */
export function findWaypoint<W extends { readonly namespace: string; readonly name: string }>(
  waypoints: readonly W[],
  pods: readonly RunStatePod[],
  target: string,
  namespace: string | undefined,
): W | undefined {
  const explicit = /^waypoints?\/(.+)$/.exec(target)?.[1]
  const name = explicit ?? target
  if (
    explicit === undefined &&
    pods.some((p) => (namespace === undefined || p.namespace === namespace) && (p.name === name || p.workload === name))
  )
    return undefined
  const candidates = waypoints
    .filter((w) => w.name === name && (namespace === undefined || w.namespace === namespace))
    .sort((a, b) => Number(b.namespace === 'default') - Number(a.namespace === 'default'))
  return candidates[0]
}

function runIn([file, fileArgs]: [string, string[]], env: NodeJS.ProcessEnv, cmd: string): Promise<number> {
  return new Promise<number>((done, fail) => {
    const child = spawn(file, fileArgs, { env, stdio: 'inherit' })
    child.once('error', (err) => fail(new AmbientError('EXEC_FAILED', `cannot run ${cmd}: ${err.message}`, { side: 'config', cause: err })))
    child.once('exit', (code, signal) => done(code ?? (signal === null ? 1 : 128 + signalNumber(signal))))
  })
}

export function findPod(pods: readonly RunStatePod[], target: string, namespace: string | undefined): RunStatePod {
  const inNs = pods.filter((p) => namespace === undefined || p.namespace === namespace)
  const deploy = /^(?:deploy|deployment|deployments)\/(.+)$/.exec(target)?.[1]
  const byName = deploy === undefined ? inNs.filter((p) => p.name === target) : []
  const byWorkload = inNs.filter((p) => p.workload === (deploy ?? target))
  // Without -n, the default namespace wins a tie, as kubectl's context namespace would.
  const candidates = (byName.length > 0 ? byName : byWorkload).sort(
    (a, b) => Number(b.namespace === 'default') - Number(a.namespace === 'default'),
  )
  const found = candidates[0]
  if (found === undefined) {
    throw new AmbientError(
      'EXEC_NO_SUCH_POD',
      `no pod "${target}"${namespace === undefined ? '' : ` in namespace ${namespace}`}; pods: ` +
        `${pods.map((p) => `${p.namespace}/${p.name}`).join(', ') || '(none)'}`,
      { side: 'config' },
    )
  }
  return found
}

function signalNumber(signal: NodeJS.Signals): number {
  return ({ SIGINT: 2, SIGKILL: 9, SIGTERM: 15, SIGPIPE: 13, SIGHUP: 1 } as Partial<Record<NodeJS.Signals, number>>)[signal] ?? 1
}
