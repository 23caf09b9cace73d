// `ambient cluster up --config DIR [--nodes 2]`: istiod, a ztunnel per node, the config's pods as
// sample apps and its waypoints, as child processes of this command until Ctrl-C (src/cluster).
// `ambient cluster down`: stops the cluster started from the same state directory, from any shell.
// `ambient cluster status [-o text|json|yaml]`: what runs, with pids, addresses, restarts (and a
// crash-looping process's last error) and the config's analysis errors.
import { resolve } from 'node:path'
import { readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { setTimeout as delay } from 'node:timers/promises'
import { ClusterErrorCode, startCluster, type ClusterEvent } from '../../cluster/cluster.js'
import {
  isAlive,
  readRunState,
  removeRunState,
  runStateMode,
  runStateSidecars,
  waypointMetricsAccess,
  type RunState,
  type RunStateAnalysis,
} from '../../cluster/run-state.js'
import { AmbientError, isAmbientError } from '../../errors.js'
import { formatData, HelpRequested, outputOption, parseCommandArgs, required, wantsHelp } from '../args.js'
import type { CliIo, Command } from '../io.js'
import { EXIT_FAILURE, EXIT_INTERRUPTED, EXIT_OK } from '../io.js'
import { CLUSTER_PLAN_SPEC, CLUSTER_PLAN_USAGE, clusterPlan, stateDirOf } from './cluster-options.js'

const UP_USAGE = `ambient cluster up --config DIR ${CLUSTER_PLAN_USAGE} [--mode ambient|sidecar]`
const USAGE = `${UP_USAGE}\n       ambient cluster down [--state-dir .ambient]\n       ambient cluster status [--state-dir .ambient] [-o text|json|yaml]`

/** How long `down` waits for the runner to stop everything before killing what is left. */
const DOWN_TIMEOUT_MS = 30_000

export const clusterCommand: Command = async (argv, io) => {
  const [sub, ...rest] = argv
  switch (sub) {
    case 'up':
      return up(rest, io)
    case 'down':
      return down(rest, io)
    case 'status':
      return status(rest, io)
    default:
      if (sub !== undefined && wantsHelp([sub])) throw new HelpRequested(`usage: ${USAGE}\n`)
      throw new AmbientError('CLI_USAGE', `unknown subcommand ${sub === undefined ? '(none)' : `"${sub}"`}\nusage: ${USAGE}`, {
        side: 'config',
      })
  }
}

/** "no cluster is running" as one coded error (exit 3) for status, zc, exec and explain alike. */
export function notRunning(stateDir: string): AmbientError {
  return new AmbientError(
    'CLUSTER_NOT_RUNNING',
    `no cluster is running from ${stateDir}: start one with \`./ambient cluster up --config DIR\` or \`npm run demo\` (or pass --state-dir)`,
    { side: 'config' },
  )
}

async function up(argv: readonly string[], io: CliIo): Promise<number> {
  const { values } = parseCommandArgs(argv, { config: { type: 'string' }, ...CLUSTER_PLAN_SPEC, mode: { type: 'string' } }, UP_USAGE)
  const mode = values.mode ?? 'ambient'
  if (mode !== 'ambient' && mode !== 'sidecar') throw usage(`--mode: "${mode}" is not ambient or sidecar`)
  const plan = clusterPlan(values, UP_USAGE, { nodes: 2 })
  const stateDir = stateDirOf(io.cwd, values['state-dir'])
  const started = startCluster({
    configDir: resolve(io.cwd, required(values.config, 'config', UP_USAGE)),
    stateDir,
    cliPath: fileURLToPath(new URL('../main.js', import.meta.url)),
    ...plan,
    env: io.env,
    mode,
    onEvent: (e) => {
      const line = formatEvent(e)
      if (line !== undefined) io.stderr(`${line}\n`)
    },
    cancel: io.stopSignal,
  })
  const cluster = await started.catch((err: unknown) => {
    if (isAmbientError(err, ClusterErrorCode.startCancelled)) return undefined
    throw err
  })
  if (cluster === undefined) {
    io.stdout('cluster: stopped before it was up\n')
    return EXIT_INTERRUPTED
  }
  const flag = values['state-dir'] === undefined ? '' : ` --state-dir ${values['state-dir']}`
  io.stdout(describe(cluster.runState(), flag))
  io.stdout(
    `cluster up: ready (every pod's app and capture, the certificates and the waypoints). Ctrl-C or ` +
      `\`./ambient cluster down${flag}\` stops it; \`./ambient exec${flag} POD -- CMD\` runs a command ` +
      `in a pod\n`,
  )
  await io.stopSignal
  io.stdout(mode === 'sidecar' ? 'cluster: stopping pods, sidecars, istiod…\n' : 'cluster: stopping pods, waypoints, ztunnels, istiod…\n')
  await cluster.close()
  io.stdout('cluster: stopped\n')
  return EXIT_OK
}

async function down(argv: readonly string[], io: CliIo): Promise<number> {
  const { values } = parseCommandArgs(argv, { 'state-dir': { type: 'string' } }, 'ambient cluster down [--state-dir .ambient]')
  const stateDir = stateDirOf(io.cwd, values['state-dir'])
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
  // In-pod capture: a runner that was killed left its namespaces; remove them (and their rules).
  if (state.capture?.kind === 'inpod') {
    const { sweepInpodCluster } = await import('../../cluster/inpod-topology.js')
    await sweepInpodCluster(state.capture.netnsPrefix)
  }
  await removeRunState(stateDir)
  io.stdout(
    `cluster down` +
      (left.length > 0
        ? ` (killed ${left.length} leftover process${left.length === 1 ? '' : 'es'}: ${left.map((p) => p.name).join(', ')})`
        : '') +
      '\n',
  )
  return EXIT_OK
}

async function status(argv: readonly string[], io: CliIo): Promise<number> {
  const STATUS_USAGE = 'ambient cluster status [--state-dir .ambient] [-o text|json|yaml]'
  const { values } = parseCommandArgs(
    argv,
    { 'state-dir': { type: 'string' }, output: { type: 'string', short: 'o' }, json: { type: 'boolean' } },
    STATUS_USAGE,
  )
  const format = outputOption(values.output, values.json, 'text', STATUS_USAGE)
  const stateDir = stateDirOf(io.cwd, values['state-dir'])
  const state = readRunState(stateDir)
  if (state === undefined || !isAlive(state.runnerPid)) throw notRunning(stateDir)
  const flag = values['state-dir'] === undefined ? '' : ` --state-dir ${values['state-dir']}`
  io.stdout(format === 'text' || format === 'table' ? describe(state, flag) : formatData({ ...state, mode: runStateMode(state) }, format))
  return EXIT_OK
}

/** `stateDirFlag`: ` --state-dir D` when the user named one, for the commands this prints. */
export function describe(s: RunState, stateDirFlag = ''): string {
  const mode = runStateMode(s)
  const sidecars = runStateSidecars(s)
  const lines = [
    (mode === 'sidecar' ? `mode: sidecar (one sidecar per pod; no ztunnel, no waypoint)` : 'mode: ambient') +
      (s.capture?.kind === 'inpod'
        ? `, capture: inpod (pod network namespaces ${s.capture.netnsPrefix}<namespace>.<pod>, Istio's redirection rules)`
        : ''),
    `istiod: xDS+CA ${s.istiod.grpc}  debug http://${s.istiod.debug}/debug/config  analysis http://${s.istiod.debug}/debug/analysis?format=text`,
    ...(mode === 'sidecar'
      ? []
      : s.nodes.map(
          (n) =>
            `ztunnel ${n.name}: admin http://${n.ip}:15000/config_dump  metrics http://${n.ip}:15020/metrics  ready http://${n.ip}:15021/healthz/ready`,
        )),
    ...s.waypoints.map(
      (w) =>
        `waypoint ${w.namespace}/${w.name}: ${w.ip}:15008${s.capture?.kind === 'inpod' ? ' (inside the cluster)' : ''}  ` +
        `metrics ${waypointMetricsAccess(s, w, './ambient', stateDirFlag)}`,
    ),
    ...(mode === 'sidecar'
      ? [
          `sidecars (${sidecars.length}):`,
          ...sidecars.map((x) => `  ${`${x.pod.namespace}/${x.pod.name}`.padEnd(44)} metrics ${x.metrics}  ready ${x.ready}`),
        ]
      : []),
    `pods (${s.pods.length}):`,
    ...s.pods.map(
      (p) =>
        `  ${`${p.namespace}/${p.name}`.padEnd(44)} ${p.node.padEnd(7)} ${p.podIP.padEnd(14)} ` +
        `app@${s.capture?.kind === 'inpod' ? p.podIP : p.podLocalIP}${p.captured ? '' : mode === 'sidecar' ? ' (no sidecar)' : ' (not captured)'} ` +
        ` ${p.images.join(', ')}`,
    ),
    'processes:',
    ...s.processes.flatMap((p) => [
      `  ${p.name.padEnd(52)} pid ${String(p.pid ?? '-').padEnd(8)} restarts ` +
        `${p.restarts}${p.pid === undefined && p.restarts > 0 ? '  CRASH-LOOPING (restarting)' : ''}`,
      ...(p.lastExit === undefined
        ? []
        : [
            `    last exit ${p.lastExit.at}: ${p.lastExit.signal ?? `code ${p.lastExit.code}`}; log ${p.logFile}:`,
            ...p.lastExit.logTail
              .split('\n')
              .filter((l) => l !== '')
              .map((l) => `      ${l}`),
          ]),
    ]),
    ...((s.analysis ?? []).length === 0
      ? []
      : [
          `config analysis (${s.configDir}): ${(s.analysis ?? []).length} error${(s.analysis ?? []).length === 1 ? '' : 's'}`,
          ...(s.analysis ?? []).map((m) => `  ${formatAnalysisLine(m)}`),
        ]),
  ]
  return `${lines.join('\n')}\n`
}

/** One analysis error as the runner prints it: file:line, code, object, message and fix. */
export function formatAnalysisLine(m: RunStateAnalysis): string {
  const where = m.file === undefined ? '(no file)' : m.line === undefined ? m.file : `${m.file}:${m.line}`
  return `${where} ${m.level} [${m.code}]${m.object === undefined ? '' : ` ${m.object}`}: ${m.message} — fix: ${m.fix}`
}

function formatEvent(e: ClusterEvent): string | undefined {
  switch (e.kind) {
    case 'started':
      return e.restarts > 0 ? `cluster: ${e.name} restarted (pid ${e.pid}, restart ${e.restarts})` : undefined
    case 'stopped':
      return undefined
    case 'crashed':
      return `cluster: ${e.name} exited (${e.signal ?? `code ${e.code}`}); restarting in ${e.restartInMs} ms. Last log lines:\n${e.logTail
        .split('\n')
        .map((l) => `    ${l}`)
        .join('\n')}`
    case 'pod_rejected':
      return `cluster: pod ${e.pod} not started: ${e.message}`
    case 'reconcile_failed':
      return `cluster: ${e.message}`
    case 'waypoint_pending':
      return `cluster: waypoint ${e.waypoint}: ${e.reason}`
    case 'analysis':
      return `cluster: config error: ${formatAnalysisLine(e.message)}`
    case 'analysis_fixed':
      return `cluster: config error fixed: ${formatAnalysisLine(e.message)}`
    case 'waiting':
      return (
        `cluster: waiting for ${e.pending.length} thing${e.pending.length === 1 ? '' : 's'} to be ready: ` +
        `${e.pending.slice(0, 4).join('; ')}${e.pending.length > 4 ? '; …' : ''}`
      )
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
