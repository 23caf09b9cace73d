// The in-pod side of `bench:ztunnel --capture inpod` (root only): the pods of the run as network
// namespaces (src/cluster/inpod-topology.ts, the runner's own topology code), two more real
// `ambient ztunnel` processes with `--capture inpod`, and the same load generator and app programs as
// the SOCKS side, each started inside its pod's namespace with `ip netns exec`.
//
//   inpod:        loadgen in bench-client (captured, node-1) → plain connect to bench-server's pod IP
//                 → the pod's rules REDIRECT to ztunnel node-1 (15001) → HBONE → bench-server's rules
//                 TPROXY 15008 → ztunnel node-2 → the app on 0.0.0.0:8080 in bench-server
//   inpod-nomesh: loadgen in plain-client → plain-server's pod IP, both uncaptured (same veths and
//                 bridges, no rules, no ztunnel): the baseline the in-pod mesh adds to
//
// Nothing here is reachable from the host: the pod ranges are blackholed on the host while the run
// lasts, and the namespaces have no route out. `close()` removes every namespace, even after a failure.
import { execFileSync } from 'node:child_process'
import { writeFile } from 'node:fs/promises'
import path from 'node:path'
import { stringify } from 'yaml'
import { requireInpod } from '../capture/inpod/preflight.js'
import { INPOD_ADDRESS_PLAN, startInpodTopology, type InpodTopology } from '../cluster/inpod-topology.js'
import { startWorker, type WorkerHandle } from './workers/ipc.js'
import type { HttpServerConfig } from './workers/http-server.js'
import type { Route } from './ztunnel-http.js'
import { Loadgen, startZtunnelProcs, stopChild, type ZtunnelProc } from './ztunnel-procs.js'

const NS = 'bench'

/** The run's pods: two captured (mesh), two outside the mesh (the baseline); node-k hosts 10.244.k.*. */
export const INPOD_PODS = {
  client: { name: 'bench-client', ip: '10.244.1.1', node: 'node-1', captured: true },
  server: { name: 'bench-server', ip: '10.244.2.1', node: 'node-2', captured: true },
  plainClient: { name: 'plain-client', ip: '10.244.1.2', node: 'node-1', captured: false },
  plainServer: { name: 'plain-server', ip: '10.244.2.2', node: 'node-2', captured: false },
} as const

/** The in-pod ztunnels' local config: the captured pods only (the plain ones are not in the mesh). */
export function inpodMeshConfig(): string {
  const pod = (p: { name: string; ip: string; node: string }, k: number): Record<string, unknown> => ({
    name: p.name,
    namespace: NS,
    serviceAccount: p.name,
    node: p.node,
    addresses: [p.ip],
    // The emulator's "captured" marker; in-pod capture never configures this address.
    podLocalAddress: `10.245.${k}.1`,
  })
  return stringify({ workloads: [pod(INPOD_PODS.client, 1), pod(INPOD_PODS.server, 2)], services: [], policies: [] })
}

export interface InpodSide {
  readonly prefix: string
  readonly ztunnels: ZtunnelProc[]
  /** The app in bench-server (mesh) and in plain-server (baseline). */
  readonly apps: { readonly mesh: WorkerHandle; readonly plain: WorkerHandle }
  readonly loadgens: { readonly mesh: Loadgen; readonly plain: Loadgen }
  readonly routes: { readonly mesh: Route; readonly plain: Route }
  /** Sync, for signal handlers: deletes the run's namespaces. */
  sweepNow(): void
  close(): Promise<void>
}

export interface InpodSideOptions {
  readonly cliPath: string
  readonly dir: string
  readonly caDir: string
  /** Node IPs on 127.x for the two in-pod ztunnels' admin and readiness ports. */
  readonly nodeIps: readonly [string, string]
  readonly appFile: string
  readonly appPort: number
  readonly sinkPort: number
  readonly bodyBytes: number
  readonly loadgenFile: string
  readonly ztunnelNodeFlags: readonly string[]
  readonly log: (line: string) => void
}

/** Throws the one coded error (CAPTURE_INPOD_*) when root, ip netns, iptables or the addon is missing. */
export async function requireInpodBench(prefix: string): Promise<void> {
  await requireInpod(`${prefix}probe`, process.getuid?.())
}

export async function startInpodSide(o: InpodSideOptions, prefix: string): Promise<InpodSide> {
  const topology: InpodTopology = await startInpodTopology({ stateDir: o.dir, nodes: 2, uid: process.getuid?.(), prefix })
  const names = Object.values(INPOD_PODS).map((p) => topology.netnsName(NS, p.name))
  const workers: WorkerHandle[] = []
  const loadgens: Loadgen[] = []
  const ztunnels: ZtunnelProc[] = []
  const ip = (args: string[]): string => {
    try {
      return execFileSync('ip', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'], timeout: 5000 })
    } catch {
      return '' // already gone
    }
  }
  const sweepNow = (): void => {
    for (const n of [...names, `${prefix}fabric`]) ip(['netns', 'delete', n])
    // The host's blackhole guard of the pod and Service ranges goes with the last fabric (as at `cluster down`).
    if (!/fabric\b/.test(ip(['netns', 'list']))) {
      const [pods, , services] = INPOD_ADDRESS_PLAN.split(',')
      for (const range of [pods, services]) ip(['route', 'del', 'blackhole', `${range}.0.0/16`])
    }
  }
  const close = async (): Promise<void> => {
    await Promise.all(loadgens.map((l) => l.stop()))
    await Promise.all(workers.map((w) => w.stop()))
    await Promise.all(ztunnels.map((z) => stopChild(z.child)))
    await topology.close()
  }
  try {
    for (const p of Object.values(INPOD_PODS)) {
      await topology.addPod({ namespace: NS, name: p.name, ip: p.ip, node: p.node, captured: p.captured }, '127.0.0.1\tlocalhost\n')
    }
    const configFile = path.join(o.dir, 'ztunnel-inpod.yaml')
    await writeFile(configFile, inpodMeshConfig())
    ztunnels.push(
      ...(await startZtunnelProcs(
        o.cliPath,
        {
          configFile,
          caDir: o.caDir,
          nodes: [
            [INPOD_PODS.client.node, o.nodeIps[0]],
            [INPOD_PODS.server.node, o.nodeIps[1]],
          ],
          extraArgs: ['--capture', 'inpod', '--netns-prefix', prefix],
        },
        o.log,
        o.ztunnelNodeFlags,
      )),
    )
    const app = async (pod: { name: string }): Promise<WorkerHandle> => {
      const w = await startWorker<HttpServerConfig>(
        `app ${pod.name}`,
        o.appFile,
        { host: '0.0.0.0', httpPort: o.appPort, sinkPort: o.sinkPort, bodyBytes: o.bodyBytes },
        { netns: topology.netnsName(NS, pod.name) },
      )
      workers.push(w)
      return w
    }
    const apps = { mesh: await app(INPOD_PODS.server), plain: await app(INPOD_PODS.plainServer) }
    const loadgen = async (pod: { name: string }): Promise<Loadgen> => {
      const l = await Loadgen.start(o.loadgenFile, 15_000, topology.netnsName(NS, pod.name))
      loadgens.push(l)
      return l
    }
    return {
      prefix,
      ztunnels,
      apps,
      loadgens: { mesh: await loadgen(INPOD_PODS.client), plain: await loadgen(INPOD_PODS.plainClient) },
      routes: {
        mesh: { kind: 'direct', host: INPOD_PODS.server.ip, port: o.appPort },
        plain: { kind: 'direct', host: INPOD_PODS.plainServer.ip, port: o.appPort },
      },
      sweepNow,
      close,
    }
  } catch (err) {
    await close().catch(() => undefined)
    throw err
  }
}
