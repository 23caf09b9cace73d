// One in-process standalone ztunnel (startDaemon) as `ambient ztunnel` wires it: a local config file
// and a CA directory in a temp dir, admin/metrics/readiness on port 0 of a random 127.X.0.1, pods on
// 127.X.1.j with echo apps on their pod-local 127.X.1.(j+100). Everything is closed in teardown.
import type { Test } from 'tap'
import { randomInt } from 'node:crypto'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { openMeshCa } from '../../../src/identity/ca.js'
import { createCapturingLogger, type CapturingLogger } from '../../../src/observability/capturing-logger.js'
import { startDaemon, type Daemon, type DaemonOptions } from '../../../src/ztunnel/daemon.js'
import { startEchoServer } from '../../helpers/echo-server.js'

export interface FixturePod {
  readonly name: string
  readonly index: number
  readonly serviceAccount?: string
  readonly appPorts?: readonly number[]
}

export interface DaemonFixture {
  readonly daemon: Daemon
  readonly log: CapturingLogger
  readonly configFile: string
  readonly nodeIp: string
  readonly quits: number
  podIp(index: number): string
  /** `http://admin|metrics|readiness` + path. */
  url(server: 'admin' | 'metrics' | 'readiness', path: string): string
  /** Replaces the config file (the daemon watches it). */
  writeConfig(value: unknown): Promise<void>
}

export function fixtureIps(base: number) {
  return {
    nodeIp: `127.${base}.0.1`,
    podIp: (j: number) => `127.${base}.1.${j}`,
    podLocal: (j: number) => `127.${base}.1.${j + 100}`,
  }
}

/** The local config for `pods` on node-a (JSON is YAML). */
export function configFor(base: number, pods: readonly FixturePod[], policies: unknown[] = []): Record<string, unknown> {
  const ips = fixtureIps(base)
  return {
    workloads: pods.map((p) => ({
      name: p.name,
      namespace: 'default',
      serviceAccount: p.serviceAccount ?? p.name,
      node: 'node-a',
      addresses: [ips.podIp(p.index)],
      podLocalAddress: ips.podLocal(p.index),
      ...(p.appPorts?.length
        ? { services: { [`default/${p.name}.default.svc.cluster.local`]: Object.fromEntries(p.appPorts.map((port) => [port, port])) } }
        : {}),
    })),
    services: pods
      .filter((p) => p.appPorts?.length)
      .map((p, i) => ({
        name: p.name,
        namespace: 'default',
        hostname: `${p.name}.default.svc.cluster.local`,
        addresses: [`127.${base}.96.${i + 1}`],
        ports: Object.fromEntries((p.appPorts ?? []).map((port) => [port, port])),
      })),
    policies,
  }
}

export async function startDaemonFixture(
  t: Test,
  spec: {
    pods: readonly FixturePod[]
    policies?: unknown[]
    base?: number
    beforeStart?: (base: number) => Promise<void>
    dns?: DaemonOptions['dns']
  },
): Promise<DaemonFixture> {
  const base = spec.base ?? randomInt(100, 250)
  const ips = fixtureIps(base)
  const dir = await mkdtemp(join(tmpdir(), 'ambient-daemon-'))
  t.teardown(() => rm(dir, { recursive: true, force: true }))
  const caDir = join(dir, 'ca')
  await openMeshCa({ dir: caDir })
  const configFile = join(dir, 'ztunnel.yaml')
  const writeConfig = (value: unknown): Promise<void> => writeFile(configFile, JSON.stringify(value, null, 2))
  await writeConfig(configFor(base, spec.pods, spec.policies))
  for (const p of spec.pods) {
    for (const port of p.appPorts ?? []) {
      const app = await startEchoServer(ips.podLocal(p.index), { port })
      t.teardown(() => app.close())
    }
  }
  await spec.beforeStart?.(base)
  const log = createCapturingLogger({ level: 'debug', component: 'ztunnel' })
  let quits = 0
  const daemon = await startDaemon({
    node: 'node-a',
    nodeIp: ips.nodeIp,
    configFile,
    caDir,
    logger: log.logger,
    ports: { admin: 0, metrics: 0, readiness: 0 },
    onQuit: () => {
      quits++
    },
    ...(spec.dns === undefined ? {} : { dns: spec.dns }),
  })
  t.teardown(() => daemon.close())
  return {
    daemon,
    log,
    configFile,
    nodeIp: ips.nodeIp,
    get quits() {
      return quits
    },
    podIp: ips.podIp,
    url: (server, path) => `http://${daemon.addresses[server]}${path}`,
    writeConfig,
  }
}
