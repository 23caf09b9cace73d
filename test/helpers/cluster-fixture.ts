// A real `ambient cluster up` from the built CLI, for the multi-process tests: a temp dir with a copy
// of the bookinfo fixtures (config/) and the state dir (state/), the cluster started on the test's
// own address range (pods 127.X, pod-local 127.X+1, VIPs 127.X+2, nodes 127.X+3.0.k), waited for,
// and torn down whatever happens (the runner, then every component process group of its run state).
//
//   const dirs = await bookinfoDirs(t, 'ambient-cluster-')
//   const cluster = startCluster(t, dirs, X)
//   await waitClusterUp(cluster, 40_000)
import type { Test } from 'tap'
import { execFile, spawn, type ChildProcess } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { cp, mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { promisify } from 'node:util'
import { eventually } from './eventually.js'
import { httpGetViaSocks } from '../../src/cluster/sample-apps/http-client.js'

import { cliEntry, distDir } from './run-cli.js'

export const DIST = distDir
export const CLI = cliEntry
export const FIXTURES = resolve(import.meta.dirname, '../fixtures/bookinfo')

/** The run state `cluster up` writes to <state dir>/cluster.json (the parts the tests read). */
export interface ClusterRunState {
  runnerPid: number
  processes: { name: string; role: string; pid?: number; restarts: number }[]
  pods: { namespace: string; name: string; workload: string; podIP: string; serviceAccount: string }[]
}

export interface ClusterDirs {
  readonly dir: string
  readonly configDir: string
  readonly stateDir: string
}

export interface RunningCluster {
  readonly proc: ChildProcess
  /** stdout and stderr of `cluster up` so far. */
  output(): string
  /** The run state, or undefined while (or once) there is none. */
  state(): ClusterRunState | undefined
}

export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch {
    return false
  }
}

/** A temp dir named `prefix…` (removed at teardown) with the bookinfo fixtures copied to config/. */
export async function bookinfoDirs(t: Test, prefix: string): Promise<ClusterDirs> {
  const dir = await mkdtemp(join(tmpdir(), prefix))
  t.teardown(() => rm(dir, { recursive: true, force: true }))
  const configDir = join(dir, 'config')
  await cp(FIXTURES, configDir, { recursive: true })
  return { dir, configDir, stateDir: join(dir, 'state') }
}

/**
 * Spawns `cluster up` on two nodes with the address range of octet `x`; `args` go right after `up`.
 * With `--capture inpod` in args, the runner's own in-pod plan is kept (pods live in namespaces).
 */
export function startCluster(t: Test, dirs: ClusterDirs, x: number, args: readonly string[] = []): RunningCluster {
  const proc = spawn(
    process.execPath,
    [
      CLI,
      'cluster',
      'up',
      ...args,
      '--config',
      dirs.configDir,
      '--nodes',
      '2',
      '--state-dir',
      dirs.stateDir,
      ...(args.includes('inpod') ? [] : ['--address-plan', `127.${x},127.${x + 1},127.${x + 2}`]),
      '--node-ips',
      `127.${x + 3}.0`,
      '--grpc-port',
      '0',
      '--debug-port',
      '0',
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  )
  let out = ''
  proc.stdout.on('data', (c: Buffer) => {
    out += c.toString()
  })
  proc.stderr.on('data', (c: Buffer) => {
    out += c.toString()
  })
  const state = (): ClusterRunState | undefined => {
    try {
      return JSON.parse(readFileSync(join(dirs.stateDir, 'cluster.json'), 'utf8')) as ClusterRunState
    } catch {
      return undefined
    }
  }
  t.teardown(async () => {
    // Whatever happened, nothing of this test keeps running.
    const s = state()
    if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGTERM')
    await eventually(() => proc.exitCode !== null || proc.signalCode !== null, { timeoutMs: 20_000, intervalMs: 50 }).catch(() =>
      proc.kill('SIGKILL'),
    )
    for (const p of s?.processes ?? []) {
      if (p.pid === undefined) continue
      try {
        process.kill(-p.pid, 'SIGKILL')
      } catch {
        /* gone */
      }
    }
  })
  return { proc, output: () => out, state }
}

/** Until `cluster up` says it is up; fails with its output if it exits first. */
export async function waitClusterUp(cluster: RunningCluster, timeoutMs: number): Promise<void> {
  await eventually(
    () => {
      if (cluster.proc.exitCode !== null) throw new Error(`cluster up exited: ${cluster.output()}`)
      return cluster.output().includes('cluster up:')
    },
    { timeoutMs, intervalMs: 50 },
  )
}

/** Listening TCP sockets (`ss -Hltn` lines) whose local address starts with one of `prefixes`. */
export async function listeners(prefixes: readonly string[]): Promise<string[]> {
  const { stdout } = await promisify(execFile)('ss', ['-Hltn'])
  return stdout.split('\n').filter((l) => prefixes.some((p) => l.includes(` ${p}`)))
}

/**
 * The curl pod asks productpage (→ details, → reviews → ratings) through its capture, one request
 * after another, until the test ends — bounded all the same: at most `maxRequests` and `maxMs`.
 */
export function productpageTraffic(t: Test, curlPodIp: string, o: { maxRequests?: number; maxMs?: number } = {}): void {
  const maxRequests = o.maxRequests ?? 20_000
  const deadline = Date.now() + (o.maxMs ?? 120_000)
  let stop = false
  const traffic = (async () => {
    for (let i = 0; i < maxRequests && !stop && Date.now() < deadline; i++) {
      await httpGetViaSocks({ host: curlPodIp, port: 15080 }, 'http://productpage:9080/productpage', { timeoutMs: 3_000 }).catch(
        () => undefined,
      )
    }
  })()
  t.teardown(async () => {
    stop = true
    await traffic
  })
}

/** `deny-curl`: an AuthorizationPolicy that DENYs the curl pod's principal at the pods labelled `app`. */
export function denyCurlPolicy(app: string): string {
  return [
    'apiVersion: security.istio.io/v1',
    'kind: AuthorizationPolicy',
    'metadata:',
    '  name: deny-curl',
    '  namespace: default',
    'spec:',
    '  selector:',
    '    matchLabels:',
    `      app: ${app}`,
    '  action: DENY',
    '  rules:',
    '    - from:',
    '        - source:',
    '            principals: ["cluster.local/ns/default/sa/curl"]',
    '',
  ].join('\n')
}
