// The network side of the behaviour suite's in-pod capture (test/helpers/mesh-under-test.ts,
// capture `inpod`): what `cluster up --capture inpod` builds (src/cluster/inpod-topology.ts), made
// for one test on its own address plan and netns prefix so that test files run side by side and
// next to anyone's cluster:
//  - a fabric and one namespace per pod istiod placed (`ti<hex>-default.<pod>`), Istio's rules in
//    the meshed ones; the waypoint's pod is not captured;
//  - apps listen inside their pod's namespace on 0.0.0.0 (a listening socket the addon made there),
//    knowing nothing of the mesh; callers open plain TCP sockets inside the caller pod's namespace
//    to a Service VIP (the pod's rules hand them to ztunnel: no SOCKS anywhere);
//  - the waypoint runs as in the in-pod cluster: `ambient waypoint --xds` (the built CLI) inside its
//    pod's namespace, reaching istiod through a relay on 127.0.0.1:<grpc port> there; its JSON log
//    lines go into the mesh's capturing log, its metrics are read from inside its namespace;
//  - an `outside` namespace (not in the mesh, not in istiod's config) for plaintext callers.
// The pod and Service ranges are blackholed on the host while the test runs (when no route for
// them exists), so nothing made in the host namespace by mistake could leave the machine.
import type { Test } from 'tap'
import { spawn, type ChildProcess } from 'node:child_process'
import { randomBytes, randomInt } from 'node:crypto'
import { existsSync } from 'node:fs'
import type net from 'node:net'
import { loadCaptureAddon, netnsPath, socketFromFd } from '../../src/capture/inpod/addon.js'
import { run } from '../../src/capture/inpod/command.js'
import { addPod, createFabric, podNetnsName, sweepTopology, type TopologyPlan } from '../../src/capture/inpod/netns.js'
import { httpGetInPod, podResolvConf, relayHostPort } from '../../src/cluster/inpod-topology.js'
import type { Istiod } from '../../src/istiod/istiod.js'
import type { AddressPlan } from '../../src/istiod/translate/index.js'
import type { CapturingLogger } from '../../src/observability/capturing-logger.js'
import { CLI } from './cluster-fixture.js'
import { eventually } from './eventually.js'
import { inpodSkipReason } from './inpod-harness.js'

const NAMESPACE = 'default'
const OUTSIDE = 'outside'

/** undefined when the behaviour suite can run with in-pod capture here; else the one line to print. */
export async function inpodMeshSkipReason(): Promise<string | undefined> {
  const missing = await inpodSkipReason()
  if (missing !== undefined) return missing
  return existsSync(CLI) ? undefined : `in-pod capture tests skipped: ${CLI} is not built (the waypoint runs from it: npm run build)`
}

/** A plan of this test's own: pods 10.A, pod-local 10.A+1, VIPs 10.A+2 (never the cluster's 10.244/10.96). */
export function inpodAddressPlan(): AddressPlan {
  const a = 100 + randomInt(0, 45) * 3
  return { pods: `10.${a}`, podLocal: `10.${a + 1}`, services: `10.${a + 2}` }
}

export interface InpodNetwork {
  readonly netnsPrefix: string
  readonly plan: AddressPlan
  /** Makes every pod's namespace istiod placed (and `outside`); called before the ztunnels start. */
  prepare(istiod: Istiod): Promise<void>
  /** Starts each waypoint istiod translated inside its pod's namespace; resolves once each is ready. */
  startWaypoints(istiod: Istiod, log: CapturingLogger): Promise<void>
  /** A plain TCP connection made inside pod `from`'s namespace (captured by its rules), connected. */
  open(from: string, ip: string, port: number): Promise<net.Socket>
  /** A socket from the `outside` namespace (not in the mesh), connecting to ip:port. */
  outside(ip: string, port: number): net.Socket
  /** The listening socket `0.0.0.0:port` inside pod's namespace, for an app. */
  listenFd(pod: string, port: number): number
  /** Prometheus text of the one waypoint, read inside its namespace. */
  waypointMetrics(): Promise<string>
  /** Resolves once every waypoint has acknowledged everything istiod sent it. */
  waypointsConverged(istiod: Istiod): Promise<void>
}

export function createInpodNetwork(t: Test, plan: AddressPlan): InpodNetwork {
  const prefix = `ti${randomBytes(3).toString('hex')}-`
  const topology: TopologyPlan = { prefix, pods: plan.pods, services: plan.services, nodes: 2 }
  const netns = (pod: string): string => podNetnsName(prefix, NAMESPACE, pod)
  const addon = loadCaptureAddon()
  const guarded: string[] = []
  const waypoints: { netns: string; ip: string; node: string; proc: ChildProcess; relay: net.Server }[] = []
  // Registered first, so it runs after everything started later has been closed.
  t.teardown(async () => {
    for (const w of waypoints) {
      w.relay.close()
      if (w.proc.exitCode === null && w.proc.signalCode === null) w.proc.kill('SIGTERM')
      await eventually(() => w.proc.exitCode !== null || w.proc.signalCode !== null, { timeoutMs: 10_000, intervalMs: 50 }).catch(() =>
        w.proc.kill('SIGKILL'),
      )
    }
    await sweepTopology(prefix)
    for (const r of guarded) await run('ip', ['route', 'del', 'blackhole', r]).catch(() => undefined)
  })
  const nodeIndex = (node: string): number => Number(/(\d+)$/.exec(node)?.[1] ?? '1')

  return {
    netnsPrefix: prefix,
    plan,
    async prepare(istiod) {
      for (const range of [plan.pods, plan.services].map((p) => `${p}.0.0/16`)) {
        const { stdout } = await run('ip', ['route', 'show', range])
        if (stdout.trim() !== '') continue
        await run('ip', ['route', 'add', 'blackhole', range])
        guarded.push(range)
      }
      await createFabric(topology)
      const translation = istiod.translation()!
      const waypointNames = new Set(translation.waypoints.map((w) => `${w.namespace}/${w.name}`))
      for (const w of translation.mesh.workloads) {
        if (w.namespace !== NAMESPACE) throw new Error(`the in-pod mesh under test knows namespace ${NAMESPACE} only, not ${w.namespace}`)
        const waypoint = waypointNames.has(`${w.namespace}/${w.name}`)
        await addPod(topology, {
          namespace: w.namespace,
          name: w.name,
          ip: w.addresses[0]!,
          node: nodeIndex(w.node),
          captured: !waypoint && w.tunnelProtocol === 'HBONE' && w.podLocalAddress !== undefined,
          resolvConf: podResolvConf(w.namespace),
        })
      }
      await addPod(topology, { namespace: NAMESPACE, name: OUTSIDE, ip: `${plan.pods}.1.250`, node: 1, captured: false })
    },
    async startWaypoints(istiod, log) {
      const grpcPort = Number(istiod.addresses.grpc.split(':').at(-1))
      for (const wp of istiod.translation()!.waypoints) {
        const w = istiod.translation()!.mesh.workloads.find((v) => v.namespace === wp.namespace && v.name === wp.name)
        if (w?.addresses[0] === undefined) throw new Error(`istiod placed no pod for waypoint ${wp.namespace}/${wp.name}`)
        const ns = netns(wp.name)
        const relay = await relayHostPort(ns, grpcPort)
        const args = ['waypoint', '--name', wp.name, '--namespace', wp.namespace, '--xds', `127.0.0.1:${grpcPort}`, '--node', w.node]
        const proc = spawn(
          'ip',
          [
            'netns',
            'exec',
            ns,
            process.execPath,
            '--enable-source-maps',
            CLI,
            ...args,
            '--token-file',
            istiod.tokenFile(w.node),
            '--root-cert',
            istiod.rootCertPath,
            '--log-level',
            'debug',
          ],
          { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, AMBIENT_SUPERVISED: '1' } },
        )
        waypoints.push({ netns: ns, ip: w.addresses[0], node: w.node, proc, relay })
        let rest = ''
        let stderr = ''
        proc.stdout!.on('data', (c: Buffer) => {
          const lines = (rest + c.toString()).split('\n')
          rest = lines.pop()!
          for (const line of lines) if (line.startsWith('{')) log.ingest(line)
        })
        proc.stderr!.on('data', (c: Buffer) => {
          stderr += c.toString()
        })
        const ready = `http://${w.addresses[0]}:15021/healthz/ready`
        await eventually(
          async () => {
            if (proc.exitCode !== null) throw new Error(`waypoint ${wp.namespace}/${wp.name} exited ${proc.exitCode}: ${stderr}`)
            return (await httpGetInPod(ns, ready, { timeoutMs: 1_000 }).catch(() => ({ status: 0 }))).status === 200
          },
          { timeoutMs: 30_000, intervalMs: 50 },
        )
      }
    },
    open: (from, ip, port) =>
      new Promise((resolve, reject) => {
        const s = socketFromFd(addon.socketTcp(netnsPath(netns(from)), 4, 0, false, '', 0))
        s.once('error', reject)
        s.connect(port, ip, () => {
          s.off('error', reject)
          resolve(s)
        })
      }),
    outside: (ip, port) => socketFromFd(addon.socketTcp(netnsPath(netns(OUTSIDE)), 4, 0, false, '', 0)).connect(port, ip),
    listenFd: (pod, port) => addon.listenTcp(netnsPath(netns(pod)), '0.0.0.0', port, 128, false),
    async waypointMetrics() {
      if (waypoints.length !== 1) throw new Error(`l7Metrics needs exactly one waypoint, have ${waypoints.length}`)
      const w = waypoints[0]!
      const r = await httpGetInPod(w.netns, `http://${w.ip}:15020/metrics`)
      if (r.status !== 200) throw new Error(`waypoint metrics: ${r.status}`)
      return r.body
    },
    async waypointsConverged(istiod) {
      const want = istiod.translation()!.waypoints.length
      await eventually(() => {
        const { connections } = istiod.status()
        // The waypoints' streams and the ztunnels': every type each subscribed to acknowledged.
        const behind = connections.filter((c) => c.subscriptions.some((s) => s.lastNonceSent !== s.lastNonceAcked))
        if (behind.length > 0) throw new Error(`xDS clients not in step yet: ${behind.map((c) => c.nodeId).join(', ')}`)
        return waypoints.length === want
      })
    },
  }
}
