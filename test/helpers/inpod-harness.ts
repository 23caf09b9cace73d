// An in-process mesh with in-pod capture (ARCHITECTURE.md, "In-pod capture"): real network
// namespaces (one per pod, one fabric with a bridge per node, prefix `ti<random>-`), Istio's rules
// in the captured ones, two ztunnels in this process opening their listeners inside the pods'
// namespaces through the addon, and apps listening inside their pod's namespace with no idea of the
// mesh (each answers one line: `<pod> sees <peer ip>`, then echoes). Pods resolve names through
// their resolv.conf, answered by ztunnel's DNS proxy inside the pod (no upstream: NXDOMAIN).
//
// Needs root, iproute2, iptables and the built addon: `inpodSkipReason()` says what is missing, and
// the test file skips with that one line. Teardown (and a sweep of this prefix first thing) removes
// every namespace, even when a test fails.
import type { Test } from 'tap'
import { match } from '../../src/authz/policy.js'
import { randomBytes } from 'node:crypto'
import { execFile } from 'node:child_process'
import net from 'node:net'
import { loadCaptureAddon, netnsPath, socketFromFd } from '../../src/capture/inpod/addon.js'
import { stat } from 'node:fs/promises'
import { addPod, createFabric, listNetns, podNetnsName, sweepTopology, type TopologyPlan } from '../../src/capture/inpod/netns.js'
import { inpodMissing } from '../../src/capture/inpod/preflight.js'
import { podResolvConf } from '../../src/cluster/inpod-topology.js'
import { createCertificateManager, type CertificateManager } from '../../src/identity/cert-manager.js'
import { caSigner } from '../../src/identity/signer.js'
import { MeshState } from '../../src/mesh/state.js'
import type { Authorization, Service, Workload } from '../../src/mesh/types.js'
import { createCapturingLogger, type CapturingLogger, type LogRecord } from '../../src/observability/capturing-logger.js'
import { createZtunnel, type Ztunnel, type ZtunnelOptions } from '../../src/ztunnel/ztunnel.js'
import { createTestPki, type TestPki } from './pki.js'

export const INPOD_NODES = ['node-a', 'node-b'] as const

export interface InpodPodSpec {
  readonly name: string
  readonly node: (typeof INPOD_NODES)[number]
  readonly index: number
  readonly serviceAccount?: string
  readonly appPorts?: readonly number[]
  readonly services?: Readonly<Record<string, ReadonlyArray<readonly [number, number]>>>
  /** Not in the mesh: no rules, no listeners (tunnel protocol NONE). */
  readonly outOfMesh?: boolean
  /** In the mesh, but the harness installs no rules: a node agent does (src/ztunnel/node-agent.ts). */
  readonly rulesByAgent?: boolean
}

export interface InpodHarness {
  readonly prefix: string
  readonly mesh: MeshState
  readonly log: CapturingLogger
  readonly ztunnels: Map<string, Ztunnel>
  podIp(name: string): string
  vip(n: number): string
  netns(name: string): string
  /** A TCP connection from inside pod `from`'s namespace, as its app would make it (no mark). */
  dial(from: string, ip: string, port: number): Promise<net.Socket>
  /** Runs a command inside pod `from`'s namespace (`ip netns exec`), asynchronously. */
  exec(from: string, command: string[]): Promise<{ code: number; stdout: string; stderr: string }>
  accessLogs(predicate?: (r: LogRecord) => boolean): LogRecord[]
  /** A ztunnel for the node: capture by the harness's netns names, or the one given (ZDS). */
  startZtunnel(node: string, capture?: ZtunnelOptions['capture']): Promise<Ztunnel>
  stopZtunnel(node: string): Promise<void>
}

const DEFAULT_PODS = '10.244'
const SERVICES = '10.96'

/** undefined when in-pod capture can run here; otherwise the one line to print when skipping. */
export async function inpodSkipReason(): Promise<string | undefined> {
  const missing = await inpodMissing(`tiprobe${randomBytes(3).toString('hex')}`, process.getuid?.())
  return missing.length === 0
    ? undefined
    : `in-pod capture tests skipped: needs ${missing.map((m) => m.code).join(', ')} (root, ip netns, iptables, the built addon)`
}

/** Namespaces of earlier harness runs that were killed before their teardown (older than 10 minutes). */
export async function sweepStale(): Promise<void> {
  const now = Date.now()
  for (const name of await listNetns()) {
    const m = /^(ti[0-9a-f]{6}-)/.exec(name)
    if (m === null) continue
    const age = await stat(`/run/netns/${name}`).then(
      (s) => now - s.mtimeMs,
      () => 0,
    )
    if (age > 600_000) await sweepTopology(m[1]!)
  }
}

export async function startInpodHarness(
  t: Test,
  spec: {
    pods: readonly InpodPodSpec[]
    services?: Service[]
    policies?: Authorization[]
    /** Nodes whose ztunnel the harness starts (default both); others are the test's (startZtunnel). */
    ztunnelNodes?: readonly string[]
    /** The pod range's first two octets (default 10.244): a test that scans namespaces by pod IP picks its own. */
    podRange?: string
  },
): Promise<InpodHarness> {
  await sweepStale()
  const PODS = spec.podRange ?? DEFAULT_PODS
  const prefix = `ti${randomBytes(3).toString('hex')}-`
  const plan: TopologyPlan = { prefix, pods: PODS, services: SERVICES, nodes: INPOD_NODES.length }
  t.teardown(async () => {
    await sweepTopology(prefix)
  })
  const addon = loadCaptureAddon()
  const nodeIndex = (node: string): number => INPOD_NODES.indexOf(node as (typeof INPOD_NODES)[number]) + 1
  const podIp = (p: InpodPodSpec): string => `${PODS}.${nodeIndex(p.node)}.${p.index}`
  const byName = new Map(spec.pods.map((p) => [p.name, p]))
  const get = (name: string): InpodPodSpec => {
    const p = byName.get(name)
    if (p === undefined) throw new Error(`no pod ${name}`)
    return p
  }
  const workloads = spec.pods.map((p): Workload => ({
    uid: `Kubernetes//Pod/default/${p.name}`,
    name: p.name,
    namespace: 'default',
    addresses: [podIp(p)],
    hostname: '',
    network: '',
    tunnelProtocol: p.outOfMesh === true ? 'NONE' : 'HBONE',
    trustDomain: 'cluster.local',
    serviceAccount: p.serviceAccount ?? p.name,
    waypoint: undefined,
    node: p.node,
    canonicalName: p.name,
    canonicalRevision: 'v1',
    workloadType: 'POD',
    workloadName: p.name,
    services: new Map(
      Object.entries(p.services ?? {}).map(([k, v]) => [k, v.map(([servicePort, targetPort]) => ({ servicePort, targetPort }))]),
    ),
    authorizationPolicies: [],
    status: 'HEALTHY',
    clusterId: 'Kubernetes',
    capacity: 1,
    // The emulator's "captured" marker (in-pod mode never configures this address).
    ...(p.outOfMesh === true ? {} : { podLocalAddress: `10.245.${nodeIndex(p.node)}.${p.index}` }),
  }))
  const mesh = new MeshState()
  mesh.replaceAll({ workloads, services: spec.services ?? [], policies: spec.policies ?? [] })

  await createFabric(plan)
  for (const p of spec.pods) {
    await addPod(plan, {
      namespace: 'default',
      name: p.name,
      ip: podIp(p),
      node: nodeIndex(p.node),
      captured: p.outOfMesh !== true && p.rulesByAgent !== true,
      resolvConf: podResolvConf('default'),
    })
  }
  const netns = (name: string): string => netnsPath(podNetnsName(prefix, 'default', get(name).name))

  // Apps: listening inside their pod's namespace on 0.0.0.0, like any app in a pod.
  const servers: net.Server[] = []
  for (const p of spec.pods) {
    for (const port of p.appPorts ?? []) {
      const server = net.createServer((s) => {
        s.on('error', () => undefined)
        s.write(`${p.name} sees ${s.remoteAddress}\n`)
        s.pipe(s)
      })
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject)
        server.listen({ fd: addon.listenTcp(netns(p.name), '0.0.0.0', port, 128, false) }, resolve)
      })
      servers.push(server)
    }
  }
  t.teardown(async () => {
    await Promise.all(servers.map((s) => new Promise((r) => s.close(r))))
  })

  const pki: TestPki = await createTestPki()
  t.teardown(() => pki.close())
  const log = createCapturingLogger({ level: 'debug', component: 'ztunnel' })
  const ztunnels = new Map<string, Ztunnel>()
  const certs = new Map<string, CertificateManager>()
  const startZtunnel = async (node: string, capture?: ZtunnelOptions['capture']): Promise<Ztunnel> => {
    const c = createCertificateManager({ signer: caSigner(pki.ca) })
    const z = createZtunnel({
      node,
      mesh,
      certificates: c,
      logger: log.logger.child({ node }),
      connectTimeoutMs: 2_000,
      capture: capture ?? { kind: 'inpod', netnsPrefix: prefix },
      dns: { upstream: undefined },
    })
    await z.start()
    const failed = z.pods().filter((p) => p.state !== 'ready')
    if (failed.length > 0) throw new Error(`pods not ready on ${node}: ${JSON.stringify(failed)}`)
    ztunnels.set(node, z)
    certs.set(node, c)
    return z
  }
  const stopZtunnel = async (node: string): Promise<void> => {
    await ztunnels.get(node)?.close()
    await certs.get(node)?.close()
    ztunnels.delete(node)
    certs.delete(node)
  }
  t.teardown(async () => {
    for (const node of [...ztunnels.keys()]) await stopZtunnel(node)
  })
  for (const node of spec.ztunnelNodes ?? INPOD_NODES) await startZtunnel(node)

  return {
    prefix,
    mesh,
    log,
    ztunnels,
    startZtunnel,
    stopZtunnel,
    podIp: (name) => podIp(get(name)),
    vip: (n) => `${SERVICES}.0.${n}`,
    netns,
    dial: (from, ip, port) =>
      new Promise((resolve, reject) => {
        const s = socketFromFd(addon.socketTcp(netns(from), 4, 0, false, '', 0))
        s.once('error', reject)
        s.connect(port, ip, () => {
          s.off('error', reject)
          resolve(s)
        })
      }),
    exec: (from, command) =>
      new Promise((resolve) => {
        execFile(
          'ip',
          ['netns', 'exec', podNetnsName(prefix, 'default', from), ...command],
          { encoding: 'utf8', timeout: 20_000 },
          (err, stdout, stderr) => {
            resolve({ code: err === null ? 0 : typeof err.code === 'number' ? err.code : 1, stdout, stderr })
          },
        )
      }),
    accessLogs: (predicate = () => true) => log.records.filter((r) => r.msg === 'connection complete' && predicate(r)),
  }
}

/** The first line a socket receives. */
export function readLine(s: net.Socket): Promise<string> {
  return new Promise((resolve, reject) => {
    let buf = ''
    const onData = (d: Buffer): void => {
      buf += d.toString()
      const nl = buf.indexOf('\n')
      if (nl >= 0) {
        s.off('data', onData)
        s.off('error', reject)
        resolve(buf.slice(0, nl))
      }
    }
    s.on('data', onData)
    s.once('error', reject)
    s.once('close', () => reject(new Error(`closed before a line (got "${buf}")`)))
  })
}

function closedHow(s: net.Socket): Promise<'reset' | 'closed'> {
  s.on('error', () => undefined)
  return new Promise((resolve) => s.once('close', (hadError) => resolve(hadError ? 'reset' : 'closed')))
}

/** How a connection that should be refused ends: reset (during connect or after), or closed. */
export async function outcome(dialing: Promise<net.Socket>): Promise<'reset' | 'closed' | 'refused'> {
  let s: net.Socket
  try {
    s = await dialing
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'ECONNREFUSED' ? 'refused' : 'reset'
  }
  const how = closedHow(s)
  s.write('x')
  return how
}

/**
 * Connects to ip:port from inside the namespace at path, as a process there would (over its loopback:
 * not captured). Anything but a refusal means something listens there (ztunnel's plaintext inbound
 * resets a connection to its own port 15006, say).
 */
export function dialInside(netns: string, ip: string, port: number): Promise<'connected' | 'refused'> {
  return new Promise((resolve) => {
    const s = socketFromFd(loadCaptureAddon().socketTcp(netns, 4, 0, false, '', 0))
    s.once('error', (err: NodeJS.ErrnoException) => resolve(err.code === 'ECONNREFUSED' ? 'refused' : 'connected'))
    s.connect(port, ip, () => {
      s.destroy()
      resolve('connected')
    })
  })
}

/** STRICT mTLS in a namespace, as istiod sends it (its static DENY of requests without a principal). */
export function strictPolicy(namespace: string): Authorization {
  return {
    name: 'istio_converted_static_strict',
    namespace,
    scope: 'NAMESPACE',
    action: 'DENY',
    dryRun: false,
    rules: [{ clauses: [{ matches: [match({ notPrincipals: [{ presence: true }] })] }] }],
  }
}
