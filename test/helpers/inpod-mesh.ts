// The network side of the behaviour suite's in-pod capture (test/helpers/mesh-under-test.ts,
// capture `inpod`): what `cluster up --capture inpod` builds (src/cluster/inpod-topology.ts), made
// for one test on its own address plan and netns prefix so that test files run side by side and
// next to anyone's cluster:
//  - a fabric and one namespace per pod istiod placed (`ti<hex>-default.<pod>`), Istio's rules in
//    the meshed ones; the waypoint's pod is not captured;
//  - apps listen inside their pod's namespace on 0.0.0.0 (a listening socket the addon made there),
//    knowing nothing of the mesh; callers open plain TCP sockets inside the caller pod's namespace
//    to a Service VIP (the pod's rules hand them to ztunnel: no SOCKS anywhere);
//  - the proxies run as in the in-pod cluster (src/cluster/cluster.ts), from the built CLI inside a
//    pod's namespace, reaching istiod through a relay on 127.0.0.1:<grpc port> there: in ambient the
//    waypoint (`ambient waypoint --xds`, its own pod, not captured); in sidecar mode one
//    `ambient sidecar --capture inpod` per meshed pod, as uid 1337 behind istio-iptables' rules. Their
//    JSON log lines go into the mesh's capturing log, their metrics are read inside their namespace;
//  - an `outside` namespace (not in the mesh, not in istiod's config) for plaintext callers.
// The pod and Service ranges are blackholed on the host while the test runs (when no route for
// them exists), so nothing made in the host namespace by mistake could leave the machine.
import type { Test } from 'tap'
import { spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { randomBytes, randomInt } from 'node:crypto'
import { existsSync } from 'node:fs'
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import type net from 'node:net'
import { loadCaptureAddon, netnsPath, socketFromFd } from '../../src/capture/inpod/addon.js'
import { run } from '../../src/capture/inpod/command.js'
import { addPod, createFabric, podNetnsName, sweepTopology, writeProxyFiles, type TopologyPlan } from '../../src/capture/inpod/netns.js'
import { SIDECAR_PROXY_GID, SIDECAR_PROXY_UID } from '../../src/capture/inpod/sidecar-rules.js'
import { httpGetInPod, podResolvConf, relayHostPort } from '../../src/cluster/inpod-topology.js'
import type { Istiod } from '../../src/istiod/istiod.js'
import type { AddressPlan } from '../../src/istiod/translate/index.js'
import type { CapturingLogger } from '../../src/observability/capturing-logger.js'
import { CLI } from './cluster-fixture.js'
import { eventually } from './eventually.js'
import { inpodSkipReason, sweepStale } from './inpod-harness.js'
import { needs } from './requires.js'

const NAMESPACE = 'default'
const OUTSIDE = 'outside'

/** undefined when the behaviour suite can run with in-pod capture here; else the one line to print. */
export async function inpodMeshSkipReason(mode: 'ambient' | 'sidecar'): Promise<string | undefined> {
  const missing = await inpodSkipReason()
  if (missing !== undefined) return missing
  if (!existsSync(CLI)) return `in-pod capture tests skipped: ${CLI} is not built (the proxies run from it: npm run build)`
  const setpriv = mode === 'sidecar' ? needs.tool('setpriv', 'apt-get install util-linux').missing() : undefined
  return setpriv === undefined ? undefined : `sidecar in-pod capture tests skipped: ${setpriv}`
}

/** A plan of this test's own: pods 10.A, pod-local 10.A+1, VIPs 10.A+2 (never the cluster's 10.244/10.245/10.96). */
export function inpodAddressPlan(): AddressPlan {
  let a: number
  do a = 1 + randomInt(0, 80) * 3
  while (a <= 96 && 96 <= a + 2)
  return { pods: `10.${a}`, podLocal: `10.${a + 1}`, services: `10.${a + 2}` }
}

export interface InpodNetwork {
  readonly netnsPrefix: string
  readonly plan: AddressPlan
  /** Makes every pod's namespace istiod placed (and `outside`); called before the ztunnels start. */
  prepare(istiod: Istiod): Promise<void>
  /**
   * Starts the proxies istiod's translation asks for inside their pods' namespaces (ambient: each
   * waypoint; sidecar mode: each meshed pod's sidecar); resolves once every one is ready.
   */
  startProxies(istiod: Istiod, log: CapturingLogger): Promise<void>
  /** A plain TCP connection made inside pod `from`'s namespace (captured by its rules), connected. */
  open(from: string, ip: string, port: number): Promise<net.Socket>
  /** A socket from the `outside` namespace (not in the mesh), connecting to ip:port. */
  outside(ip: string, port: number): net.Socket
  /** The listening socket `0.0.0.0:port` inside pod's namespace, for an app. */
  listenFd(pod: string, port: number): number
  /** Prometheus text of the proxy of `pod` (sidecar mode), or of the one waypoint, read inside its namespace. */
  proxyMetrics(pod?: string): Promise<string>
  /** Resolves once every xDS client of istiod (proxies, ztunnels) has acknowledged everything it was sent. */
  converged(istiod: Istiod): Promise<void>
}

interface Proxy {
  readonly netns: string
  readonly ip: string
  readonly proc: ChildProcess
}

export function createInpodNetwork(t: Test, mode: 'ambient' | 'sidecar', plan: AddressPlan): InpodNetwork {
  const prefix = `ti${randomBytes(3).toString('hex')}-`
  const topology: TopologyPlan = { prefix, pods: plan.pods, services: plan.services, nodes: 2 }
  const netns = (pod: string): string => podNetnsName(prefix, NAMESPACE, pod)
  const addon = loadCaptureAddon()
  const guarded: string[] = []
  const proxies = new Map<string, Proxy>()
  // Every relay made, closed at teardown even when its proxy never started (a failed spawn or file copy).
  const relays: net.Server[] = []
  // If the process ends without the teardown (a tap timeout cut it short), the same, synchronously.
  const atExit = (): void => {
    for (const w of proxies.values()) w.proc.kill('SIGKILL')
    const names = spawnSync('ip', ['netns', 'list'], { encoding: 'utf8' }).stdout.split('\n')
    for (const n of names.map((l) => l.split(' ')[0]!).filter((n) => n.startsWith(prefix))) spawnSync('ip', ['netns', 'delete', n])
    for (const r of guarded) spawnSync('ip', ['route', 'del', 'blackhole', r])
  }
  process.once('exit', atExit)
  // Whatever happened: no proxy process, namespace or guard route of this test is left.
  // Set at teardown: a proxy's readiness poll still running then (another proxy failed first) stops.
  let tornDown = false
  t.teardown(async () => {
    tornDown = true
    process.off('exit', atExit)
    for (const relay of relays) relay.close()
    for (const w of proxies.values()) {
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
      await sweepStale()
      for (const range of [plan.pods, plan.services].map((p) => `${p}.0.0/16`)) {
        const { stdout } = await run('ip', ['route', 'show', range])
        if (stdout.trim() !== '') continue
        await run('ip', ['route', 'add', 'blackhole', range])
        guarded.push(range)
      }
      await createFabric(topology)
      const translation = istiod.translation()!
      const waypointNames = new Set(translation.waypoints.map((w) => `${w.namespace}/${w.name}`))
      const sidecarPods = new Set((translation.sidecars ?? []).map((s) => `${s.sidecar.pod.namespace}/${s.sidecar.pod.name}`))
      for (const w of translation.mesh.workloads) {
        if (w.namespace !== NAMESPACE) throw new Error(`the in-pod mesh under test knows namespace ${NAMESPACE} only, not ${w.namespace}`)
        const key = `${w.namespace}/${w.name}`
        await addPod(topology, {
          namespace: w.namespace,
          name: w.name,
          ip: w.addresses[0]!,
          node: nodeIndex(w.node),
          captured:
            mode === 'sidecar'
              ? sidecarPods.has(key)
              : !waypointNames.has(key) && w.tunnelProtocol === 'HBONE' && w.podLocalAddress !== undefined,
          ruleset: mode,
          resolvConf: podResolvConf(w.namespace),
        })
      }
      await addPod(topology, { namespace: NAMESPACE, name: OUTSIDE, ip: `${plan.pods}.1.250`, node: 1, captured: false })
    },
    async startProxies(istiod, log) {
      const grpcPort = Number(istiod.addresses.grpc.split(':').at(-1))
      const translation = istiod.translation()!
      const pods = mode === 'ambient' ? translation.waypoints : (translation.sidecars ?? []).map((s) => s.sidecar.pod)
      const rootCert = await readFile(istiod.rootCertPath, 'utf8')
      await Promise.all(
        pods.map(async (p) => {
          const w = translation.mesh.workloads.find((v) => v.namespace === p.namespace && v.name === p.name)
          if (w?.addresses[0] === undefined) throw new Error(`istiod placed no pod ${p.namespace}/${p.name}`)
          const ns = netns(p.name)
          const relay = await relayHostPort(ns, grpcPort)
          relays.push(relay)
          const xds = ['--xds', `127.0.0.1:${grpcPort}`, '--node', w.node, '--log-level', 'debug']
          let command: string[]
          if (mode === 'ambient') {
            command = ['waypoint', '--name', p.name, '--namespace', p.namespace, ...xds]
            command.push('--token-file', istiod.tokenFile(w.node), '--root-cert', istiod.rootCertPath)
          } else {
            // As istio-proxy: uid/gid 1337 (the rules' exemption), with copies of the files it reads.
            const dir = await writeProxyFiles(ns, SIDECAR_PROXY_UID, {
              'root-cert.pem': rootCert,
              'node.token': await readFile(istiod.tokenFile(w.node), 'utf8'),
            })
            command = ['sidecar', '--pod', `${p.namespace}/${p.name}`, ...xds, '--capture', 'inpod']
            command.push('--token-file', join(dir, 'node.token'), '--root-cert', join(dir, 'root-cert.pem'))
          }
          const asUser =
            mode === 'sidecar' ? ['setpriv', `--reuid=${SIDECAR_PROXY_UID}`, `--regid=${SIDECAR_PROXY_GID}`, '--clear-groups'] : []
          const proc = spawn('ip', ['netns', 'exec', ns, ...asUser, process.execPath, '--enable-source-maps', CLI, ...command], {
            stdio: ['ignore', 'pipe', 'pipe'],
            env: { ...process.env, AMBIENT_SUPERVISED: '1' },
          })
          proxies.set(p.name, { netns: ns, ip: w.addresses[0], proc })
          let rest = ''
          let stderr = ''
          const last: string[] = []
          proc.stdout!.on('data', (c: Buffer) => {
            const lines = (rest + c.toString()).split('\n')
            rest = lines.pop()!
            for (const line of lines) if (line.startsWith('{')) log.ingest(line)
            last.push(...lines)
            last.splice(0, last.length - 5)
          })
          proc.stderr!.on('data', (c: Buffer) => {
            stderr += c.toString()
          })
          const ready = `http://${w.addresses[0]}:15021/healthz/ready`
          const what = `${command[0]} ${p.namespace}/${p.name}`
          await eventually(
            async () => {
              if (tornDown) return true
              if (proc.exitCode !== null) throw new Error(`${what} exited ${proc.exitCode}: ${stderr}`)
              const r = await httpGetInPod(ns, ready, { timeoutMs: 1_000 }).catch((err: unknown) => ({ status: 0, body: String(err) }))
              if (r.status !== 200)
                throw new Error(`${what} not ready (${r.status} ${r.body}); its last lines:\n${last.join('\n')}${stderr}`)
              return true
            },
            { timeoutMs: 60_000, intervalMs: 50 },
          )
        }),
      )
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
    async proxyMetrics(pod) {
      const p = pod === undefined ? (proxies.size === 1 ? [...proxies.values()][0] : undefined) : proxies.get(pod)
      if (p === undefined) throw new Error(`no proxy ${pod ?? `(one waypoint wanted, have ${proxies.size})`}`)
      const r = await httpGetInPod(p.netns, `http://${p.ip}:15020/metrics`)
      if (r.status !== 200) throw new Error(`metrics of ${pod ?? 'the waypoint'}: ${r.status}`)
      return r.body
    },
    async converged(istiod) {
      await eventually(() => {
        const { connections } = istiod.status()
        // The proxies' streams and the ztunnels': every type each subscribed to acknowledged.
        const behind = connections.filter((c) => c.subscriptions.some((s) => s.lastNonceSent !== s.lastNonceAcked))
        if (behind.length > 0) throw new Error(`xDS clients not in step yet: ${behind.map((c) => c.nodeId).join(', ')}`)
        return true
      })
    },
  }
}
