// An in-process mesh for integration tests: one MeshState (as if both nodes read the same config),
// one ztunnel per node with its own certificate manager on a test CA, and echo apps on the pods'
// pod-local addresses. Addresses are 127.X.k.j with a random X per harness, so test files never
// collide on the fixed ports (15008, 15080) ztunnel binds on each pod IP.
import type { Test } from 'tap'
import { createHash, randomInt } from 'node:crypto'
import type net from 'node:net'
import { createCertificateManager, type CertificateManager } from '../../src/identity/cert-manager.js'
import { caSigner } from '../../src/identity/signer.js'
import { MeshState } from '../../src/mesh/state.js'
import type { Authorization, Service, Workload } from '../../src/mesh/types.js'
import { createCapturingLogger, type CapturingLogger, type LogRecord } from '../../src/observability/capturing-logger.js'
import { createZtunnel, type Ztunnel } from '../../src/ztunnel/ztunnel.js'
import { startEchoServer, type EchoServer } from './echo-server.js'
import { createTestPki, type TestPki } from './pki.js'
import { connect, type SocksTarget } from './socks-client.js'

export interface PodSpec {
  readonly name: string
  readonly node: string
  /** j in 127.X.k.j (k = node index + 1). */
  readonly index: number
  readonly namespace?: string
  readonly serviceAccount?: string
  /** Ports the app listens on (echo servers on the pod-local address). */
  readonly appPorts?: readonly number[]
  /** `namespace/hostname` → [[servicePort, targetPort]]. */
  readonly services?: Readonly<Record<string, ReadonlyArray<readonly [number, number]>>>
  readonly authorizationPolicies?: readonly string[]
  readonly extra?: Partial<Workload>
}

export interface MeshHarness {
  readonly base: number
  readonly mesh: MeshState
  readonly pki: TestPki
  readonly log: CapturingLogger
  readonly ztunnels: ReadonlyMap<string, Ztunnel>
  readonly certificates: ReadonlyMap<string, CertificateManager>
  readonly apps: ReadonlyMap<string, EchoServer[]>
  podIp(name: string): string
  vip(n: number): string
  workload(name: string): Workload
  /** A SOCKS5 connection from pod `from` (through its ztunnel) to `target`. */
  dial(from: string, target: SocksTarget, earlyData?: Buffer | string): Promise<net.Socket>
  accessLogs(predicate?: (r: LogRecord) => boolean): LogRecord[]
  stopNode(node: string): Promise<void>
}

export const NODES = ['node-a', 'node-b'] as const

export async function startMeshHarness(
  t: Test,
  spec: {
    pods: readonly PodSpec[]
    services?: (h: { vip(n: number): string }) => Service[]
    policies?: Authorization[]
    certificateTtlMs?: number
  },
): Promise<MeshHarness> {
  const base = randomInt(100, 200)
  const nodeIndex = (node: string): number => NODES.indexOf(node as (typeof NODES)[number]) + 1
  const podIp = (p: PodSpec): string => `127.${base}.${nodeIndex(p.node)}.${p.index}`
  const podLocal = (p: PodSpec): string => `127.${base}.${nodeIndex(p.node)}.${p.index + 100}`
  const vip = (n: number): string => `127.${base}.96.${n}`
  const workloads = spec.pods.map((p): Workload => {
    const namespace = p.namespace ?? 'default'
    return {
      uid: `Kubernetes//Pod/${namespace}/${p.name}`,
      name: p.name,
      namespace,
      addresses: [podIp(p)],
      hostname: '',
      network: '',
      tunnelProtocol: 'HBONE',
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
      authorizationPolicies: p.authorizationPolicies ?? [],
      status: 'HEALTHY',
      clusterId: 'Kubernetes',
      capacity: 1,
      podLocalAddress: podLocal(p),
      ...p.extra,
    }
  })
  const mesh = new MeshState()
  mesh.replaceAll({ workloads, services: spec.services?.({ vip }) ?? [], policies: spec.policies ?? [] })
  const pki = await createTestPki()
  t.teardown(() => pki.close())
  const log = createCapturingLogger({ level: 'debug', component: 'ztunnel' })

  const apps = new Map<string, EchoServer[]>()
  for (const p of spec.pods) {
    const servers: EchoServer[] = []
    for (const port of p.appPorts ?? []) servers.push(await startEchoServer(podLocal(p), { port }))
    apps.set(p.name, servers)
  }
  t.teardown(async () => {
    for (const list of apps.values()) await Promise.all(list.map((s) => s.close()))
  })

  const ztunnels = new Map<string, Ztunnel>()
  const certificates = new Map<string, CertificateManager>()
  for (const node of NODES) {
    const certs = createCertificateManager({
      signer: caSigner(pki.ca),
      ...(spec.certificateTtlMs === undefined ? {} : { ttlMs: spec.certificateTtlMs }),
    })
    const z = createZtunnel({ node, mesh, certificates: certs, logger: log.logger.child({ node }), connectTimeoutMs: 2_000 })
    await z.start()
    const failed = z.pods().filter((p) => p.state !== 'ready')
    if (failed.length > 0) throw new Error(`pods not ready on ${node}: ${JSON.stringify(failed)}`)
    ztunnels.set(node, z)
    certificates.set(node, certs)
    t.teardown(async () => {
      await z.close()
      await certs.close()
    })
  }

  const byName = new Map(spec.pods.map((p, i) => [p.name, { spec: p, workload: workloads[i]! }]))
  const get = (name: string) => {
    const found = byName.get(name)
    if (!found) throw new Error(`no pod ${name}`)
    return found
  }
  return {
    base,
    mesh,
    pki,
    log,
    ztunnels,
    certificates,
    apps,
    vip,
    podIp: (name) => podIp(get(name).spec),
    workload: (name) => get(name).workload,
    dial: (from, target, earlyData) => connect(podIp(get(from).spec), 15080, target, earlyData === undefined ? {} : { earlyData }),
    accessLogs: (predicate = () => true) => log.records.filter((r) => r.msg === 'connection complete' && predicate(r)),
    async stopNode(node) {
      await ztunnels.get(node)?.close()
    },
  }
}

export function sha256(b: Buffer): string {
  return createHash('sha256').update(b).digest('hex')
}
