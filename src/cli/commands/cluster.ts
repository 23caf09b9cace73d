// `ambient cluster up --config DIR [--nodes 2]`: istiod, a ztunnel per node, the config's pods as
// sample apps and its waypoints, as child processes of this command until Ctrl-C (src/cluster).
// `ambient cluster down`: stops the cluster started from the same state directory, from any shell.
// `ambient cluster status [--json]`: what runs, with pids, addresses and restarts.
import { readFileSync } from 'node:fs'
import { resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { setTimeout as delay } from 'node:timers/promises'
import { startCluster, type ClusterEvent } from '../../cluster/cluster.js'
import { isAlive, readRunState, removeRunState, runStateMode, runStateSidecars, type RunState } from '../../cluster/run-state.js'
import { AmbientError } from '../../errors.js'
import { parseCommandArgs, required } from '../args.js'
import type { CliIo, Command } from '../io.js'
import { EXIT_FAILURE, EXIT_OK } from '../io.js'
import { PORT_MAX } from '../../net/address.js'

const USAGE = 'ambient cluster up --config DIR [--nodes 2] [--state-dir .ambient] [--address-plan 127.244,127.245,127.96] [--node-ips 127.18.0] [--grpc-port 15012] [--debug-port 15014] [--mode ambient|sidecar] [--log-level info]\n       ambient cluster down [--state-dir .ambient]\n       ambient cluster status [--state-dir .ambient] [--json]'

/** How long `down` waits for the runner to stop everything before killing what is left. */
const DOWN_TIMEOUT_MS = 30_000

export const clusterCommand: Command = async (argv, io) => {
  const [sub, ...rest] = argv
  switch (sub) {
    case 'up': return up(rest, io)
    case 'down': return down(rest, io)
    case 'status': return status(rest, io)
    default: throw new AmbientError('CLI_USAGE', `unknown subcommand ${sub === undefined ? '(none)' : `"${sub}"`}\nusage: ${USAGE}`, { side: 'config' })
  }
}

function stateDirOf(io: CliIo, value: string | undefined): string {
  return resolve(io.cwd, value ?? '.ambient')
}

async function up(argv: readonly string[], io: CliIo): Promise<number> {
  const { values } = parseCommandArgs(argv, {
    config: { type: 'string' }, nodes: { type: 'string' }, 'state-dir': { type: 'string' }, 'address-plan': { type: 'string' },
    'node-ips': { type: 'string' }, 'grpc-port': { type: 'string' }, 'debug-port': { type: 'string' }, 'log-level': { type: 'string' },
    mode: { type: 'string' },
  }, USAGE)
  const mode = values.mode ?? 'ambient'
  if (mode !== 'ambient' && mode !== 'sidecar') throw usage(`--mode: "${mode}" is not ambient or sidecar`)
  const nodes = intArg('nodes', values.nodes ?? '2', 1, 254)
  const nodeIps = values['node-ips'] ?? '127.18.0'
  if (!/^127\.\d{1,3}\.\d{1,3}$/.test(nodeIps)) throw usage(`--node-ips: "${nodeIps}" is not a loopback /24 prefix like 127.18.0`)
  const cluster = await startCluster({
    configDir: resolve(io.cwd, required(values.config, 'config', USAGE)),
    stateDir: stateDirOf(io, values['state-dir']),
    nodes,
    cliPath: fileURLToPath(new URL('../main.js', import.meta.url)),
    nodeIpPrefix: nodeIps,
    ...(values['address-plan'] === undefined ? {} : { addressPlan: values['address-plan'] }),
    istiodPorts: { grpc: intArg('grpc-port', values['grpc-port'] ?? '15012', 0, PORT_MAX), debug: intArg('debug-port', values['debug-port'] ?? '15014', 0, PORT_MAX) },
    ...(values['log-level'] === undefined ? {} : { logLevel: values['log-level'] }),
    env: io.env,
    mode,
    onEvent: (e) => { const line = formatEvent(e); if (line !== undefined) io.stderr(`${line}\n`) },
  })
  io.stdout(describe(cluster.runState()))
  io.stdout('cluster up: Ctrl-C or `ambient cluster down` stops it; `ambient exec POD -- CMD` runs a command in a pod\n')
  await io.stopSignal
  io.stdout(mode === 'sidecar' ? 'cluster: stopping pods, sidecars, istiod…\n' : 'cluster: stopping pods, waypoints, ztunnels, istiod…\n')
  await cluster.close()
  io.stdout('cluster: stopped\n')
  return EXIT_OK
}

async function down(argv: readonly string[], io: CliIo): Promise<number> {
  const { values } = parseCommandArgs(argv, { 'state-dir': { type: 'string' } }, USAGE)
  const stateDir = stateDirOf(io, values['state-dir'])
  const state = readRunState(stateDir)
  if (state === undefined) {
    io.stdout(`no cluster is running from ${stateDir}\n`)
    return EXIT_OK
  }
  if (isAlive(state.runnerPid)) {
    process.kill(state.runnerPid, 'SIGTERM')
    const deadline = Date.now() + DOWN_TIMEOUT_MS
    while (isAlive(state.runnerPid) && Date.now() < deadline) await delay(100)
  }
  // The runner stops its children; anything left (the runner was killed, or timed out) is killed
  // here, by process group, but only if the pid still runs our CLI (pids get reused).
  const left = state.processes.filter((p) => p.pid !== undefined && isAlive(p.pid) && isOurs(p.pid))
  for (const p of left) {
    try {
      process.kill(-p.pid!, 'SIGKILL')
    } catch {
      process.kill(p.pid!, 'SIGKILL')
    }
  }
  if (isAlive(state.runnerPid)) {
    io.stderr(`cluster runner ${state.runnerPid} did not stop within ${DOWN_TIMEOUT_MS / 1000} s\n`)
    return EXIT_FAILURE
  }
  await removeRunState(stateDir)
  io.stdout(`cluster down${left.length > 0 ? ` (killed ${left.length} leftover process${left.length === 1 ? '' : 'es'}: ${left.map((p) => p.name).join(', ')})` : ''}\n`)
  return EXIT_OK
}

async function status(argv: readonly string[], io: CliIo): Promise<number> {
  const { values } = parseCommandArgs(argv, { 'state-dir': { type: 'string' }, json: { type: 'boolean' } }, USAGE)
  const stateDir = stateDirOf(io, values['state-dir'])
  const state = readRunState(stateDir)
  if (state === undefined || !isAlive(state.runnerPid)) {
    io.stdout(values.json === true ? 'null\n' : `no cluster is running from ${stateDir}\n`)
    return EXIT_FAILURE
  }
  io.stdout(values.json === true ? `${JSON.stringify({ ...state, mode: runStateMode(state) }, null, 2)}\n` : describe(state))
  return EXIT_OK
}

export function describe(s: RunState): string {
  const mode = runStateMode(s)
  const sidecars = runStateSidecars(s)
  const lines = [
    mode === 'sidecar' ? `mode: sidecar (one sidecar per pod; no ztunnel, no waypoint)` : 'mode: ambient',
    `istiod: xDS+CA ${s.istiod.grpc}  debug http://${s.istiod.debug}/debug/config  analysis http://${s.istiod.debug}/debug/analysis?format=text`,
    ...(mode === 'sidecar' ? [] : s.nodes.map((n) => `ztunnel ${n.name}: admin http://${n.ip}:15000/config_dump  metrics http://${n.ip}:15020/metrics  ready http://${n.ip}:15021/healthz/ready`)),
    ...s.waypoints.map((w) => `waypoint ${w.namespace}/${w.name}: ${w.ip}:15008  metrics http://${w.ip}:15020/metrics`),
    ...(mode === 'sidecar' ? [`sidecars (${sidecars.length}):`, ...sidecars.map((x) => `  ${`${x.pod.namespace}/${x.pod.name}`.padEnd(44)} metrics ${x.metrics}  ready ${x.ready}`)] : []),
    `pods (${s.pods.length}):`,
    ...s.pods.map((p) => `  ${`${p.namespace}/${p.name}`.padEnd(44)} ${p.node.padEnd(7)} ${p.podIP.padEnd(14)} app@${p.podLocalIP}${p.captured ? '' : mode === 'sidecar' ? ' (no sidecar)' : ' (not captured)'}  ${p.images.join(', ')}`),
    'processes:',
    ...s.processes.map((p) => `  ${p.name.padEnd(52)} pid ${String(p.pid ?? '-').padEnd(8)} restarts ${p.restarts}`),
  ]
  return `${lines.join('\n')}\n`
}

function formatEvent(e: ClusterEvent): string | undefined {
  switch (e.kind) {
    case 'started': return e.restarts > 0 ? `cluster: ${e.name} restarted (pid ${e.pid}, restart ${e.restarts})` : undefined
    case 'stopped': return undefined
    case 'crashed': return `cluster: ${e.name} exited (${e.signal ?? `code ${e.code}`}); restarting in ${e.restartInMs} ms. Last log lines:\n${e.logTail.split('\n').map((l) => `    ${l}`).join('\n')}`
    case 'pod_rejected': return `cluster: pod ${e.pod} not started: ${e.message}`
    case 'reconcile_failed': return `cluster: ${e.message}`
    case 'waypoint_pending': return `cluster: waypoint ${e.waypoint}: ${e.reason}`
  }
}

function isOurs(pid: number): boolean {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes('main.js')
  } catch {
    return true
  }
}

function usage(message: string): AmbientError {
  return new AmbientError('CLI_USAGE', `${message}\nusage: ${USAGE}`, { side: 'config' })
}

function intArg(name: string, v: string, min: number, max: number): number {
  const n = Number(v)
  if (!Number.isInteger(n) || n < min || n > max) throw usage(`--${name}: "${v}" is not an integer from ${min} to ${max}`)
  return n
}
