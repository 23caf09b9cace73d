// An in-process mesh driven by istiod: istiod on 127.0.0.1 (port 0) reading a temp config dir, and
// one ztunnel daemon per node in xDS mode (state and certificates from istiod). The address plan
// gets a random second octet per harness (pods 127.X.k.j, pod-local 127.X+1.k.j, VIPs 127.X+2.x.y)
// so the fixed pod ports (15008, 15080) never collide with another mesh. Echo apps listen on the
// pod-local addresses istiod allocated. Everything is closed in teardown.
import type { Test } from 'tap'
import { randomInt } from 'node:crypto'
import { mkdtemp, rm, unlink, writeFile } from 'node:fs/promises'
import type net from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { startIstiod, type Istiod } from '../../src/istiod/istiod.js'
import type { AddressPlan } from '../../src/istiod/translate/index.js'
import type { Workload } from '../../src/mesh/types.js'
import { createCapturingLogger, type CapturingLogger, type LogRecord } from '../../src/observability/capturing-logger.js'
import { startDaemon, type Daemon } from '../../src/ztunnel/daemon.js'
import { startEchoServer, type EchoServer } from './echo-server.js'
import { eventually } from './eventually.js'
import { connect, type SocksTarget } from './socks-client.js'

export const NAMESPACE_YAML = `apiVersion: v1
kind: Namespace
metadata:
  name: default
  labels:
    istio.io/dataplane-mode: ambient
`

/** A pod pinned to a node, with an app port and a label for Service selection. */
export function podYaml(name: string, node: string, opts: { serviceAccount?: string; app?: string; port?: number } = {}): string {
  return `apiVersion: v1
kind: Pod
metadata:
  name: ${name}
  namespace: default
  labels:
    app: ${opts.app ?? name}
spec:
  nodeName: ${node}
  serviceAccountName: ${opts.serviceAccount ?? name}
  containers:
    - name: app
      image: example/app
${opts.port === undefined ? '' : `      ports:\n        - containerPort: ${opts.port}\n`}`
}

export function serviceYaml(name: string, port: number, targetPort: number): string {
  return `apiVersion: v1
kind: Service
metadata:
  name: ${name}
  namespace: default
spec:
  selector:
    app: ${name}
  ports:
    - name: tcp
      port: ${port}
      targetPort: ${targetPort}
`
}

export function denyYaml(name: string, principal: string): string {
  return `apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata:
  name: ${name}
  namespace: default
spec:
  action: DENY
  rules:
    - from:
        - source:
            principals: ["${principal}"]
`
}

export interface IstiodMeshSpec {
  /** File name → YAML, written before istiod starts. */
  readonly files: Readonly<Record<string, string>>
  readonly nodes?: readonly string[]
  /** App ports to serve (echo) per pod name. */
  readonly apps?: Readonly<Record<string, readonly number[]>>
  /**
   * In-pod capture: istiod allocates from `plan` (addresses that exist only inside the test's
   * network namespaces), `prepare` makes the pods' namespaces once istiod has placed them, and the
   * ztunnels then open their listeners inside those named `<netnsPrefix><ns>.<pod>`.
   */
  readonly inpod?: { readonly plan: AddressPlan; readonly netnsPrefix: string; prepare(istiod: Istiod): Promise<void> }
  /** Sidecar mode: istiod also serves sidecar configs, and no ztunnel runs (the test runs the sidecars). */
  readonly sidecars?: boolean
}

export interface IstiodMesh {
  readonly istiod: Istiod
  readonly plan: AddressPlan
  readonly configDir: string
  readonly stateDir: string
  readonly log: CapturingLogger
  readonly daemons: ReadonlyMap<string, Daemon>
  readonly apps: ReadonlyMap<string, EchoServer[]>
  workload(name: string): Workload
  podIp(name: string): string
  writeFile(name: string, text: string): Promise<void>
  removeFile(name: string): Promise<void>
  dial(from: string, target: SocksTarget): Promise<net.Socket>
  accessLogs(predicate?: (r: LogRecord) => boolean): LogRecord[]
  /** istiod closed (ztunnels keep their state) … */
  stopIstiod(): Promise<void>
  /** … and started again on the same state directory and port. */
  startIstiod(): Promise<void>
  /** Resolves once every ztunnel holds exactly what istiod serves now (by workload, service and policy keys). */
  converged(): Promise<void>
}

export async function startIstiodMesh(t: Test, spec: IstiodMeshSpec): Promise<IstiodMesh> {
  const x = randomInt(20, 90) * 2
  const plan: AddressPlan = spec.inpod?.plan ?? { pods: `127.${x}`, podLocal: `127.${x + 1}`, services: `127.${x + 2}` }
  const nodes = spec.nodes ?? ['node-1', 'node-2']
  const dir = await mkdtemp(join(tmpdir(), 'ambient-istiod-'))
  t.teardown(() => rm(dir, { recursive: true, force: true }))
  const configDir = join(dir, 'config')
  const stateDir = join(dir, 'state')
  await import('node:fs/promises').then((fs) => fs.mkdir(configDir))
  for (const [name, text] of Object.entries(spec.files)) await writeFile(join(configDir, name), text)
  const log = createCapturingLogger({ level: 'debug', component: 'mesh' })

  let grpcPort = 0
  let istiod: Istiod | undefined
  const start = async (): Promise<void> => {
    istiod = await startIstiod({
      configDir,
      stateDir,
      nodes: nodes.length,
      host: '127.0.0.1',
      ports: { grpc: grpcPort, debug: 0 },
      logger: log.logger.child({ component: 'istiod' }),
      addressPlan: plan,
      debounceMs: 20,
      ...(spec.sidecars === true ? { sidecars: true } : {}),
    })
    grpcPort = Number(istiod.addresses.grpc.split(':').at(-1))
  }
  await start()
  t.teardown(() => istiod?.close())
  const first = istiod!

  // The last translation seen, so addresses stay known while istiod is stopped.
  let lastWorkloads: readonly Workload[] = []
  const workload = (name: string): Workload => {
    lastWorkloads = istiod?.translation()?.mesh.workloads ?? lastWorkloads
    const w = lastWorkloads.find((v) => v.name === name)
    if (w === undefined) throw new Error(`istiod serves no workload ${name}`)
    return w
  }
  const apps = new Map<string, EchoServer[]>()
  for (const [pod, ports] of Object.entries(spec.apps ?? {})) {
    const local = workload(pod).podLocalAddress!
    const servers: EchoServer[] = []
    for (const port of ports) {
      const s = await startEchoServer(local, { port })
      t.teardown(() => s.close())
      servers.push(s)
    }
    apps.set(pod, servers)
  }

  await spec.inpod?.prepare(first)
  const daemons = new Map<string, Daemon>()
  for (const [i, node] of spec.sidecars === true ? [] : nodes.entries()) {
    const daemon = await startDaemon({
      node,
      nodeIp: `127.${x}.0.${i + 1}`,
      logger: log.logger.child({ component: 'ztunnel', node }),
      ports: { admin: 0, metrics: 0, readiness: 0 },
      xds: {
        target: first.addresses.grpc,
        tokenFile: first.tokenFile(node),
        rootCertFile: first.rootCertPath,
        initialSyncTimeoutMs: 5_000,
      },
      ...(spec.inpod === undefined ? {} : { capture: { kind: 'inpod', netnsPrefix: spec.inpod.netnsPrefix }, dns: { upstream: [] } }),
    })
    t.teardown(() => daemon.close())
    daemons.set(node, daemon)
  }

  const keys = (s: {
    workloads: readonly { uid: string }[]
    services: readonly { namespace: string; hostname: string }[]
    policies: readonly { namespace: string; name: string }[]
  }): string =>
    JSON.stringify([
      s.workloads.map((w) => w.uid).sort(),
      s.services.map((v) => `${v.namespace}/${v.hostname}`).sort(),
      s.policies.map((p) => `${p.namespace}/${p.name}`).sort(),
    ])

  return {
    get istiod() {
      if (istiod === undefined) throw new Error('istiod is stopped')
      return istiod
    },
    plan,
    configDir,
    stateDir,
    log,
    daemons,
    apps,
    workload,
    podIp: (name) => workload(name).addresses[0]!,
    writeFile: (name, text) => writeFile(join(configDir, name), text),
    removeFile: (name) => unlink(join(configDir, name)),
    dial: (from, target) => connect(workload(from).addresses[0]!, 15080, target),
    accessLogs: (predicate = () => true) => log.records.filter((r) => r.msg === 'connection complete' && predicate(r)),
    async stopIstiod() {
      await istiod?.close()
      istiod = undefined
    },
    startIstiod: start,
    async converged() {
      await eventually(() => {
        const served = istiod?.translation()?.mesh
        if (served === undefined) return false
        const want = keys(served)
        for (const [node, d] of daemons) {
          const got = keys(d.mesh.snapshot())
          if (got !== want) throw new Error(`${node} holds ${got}, istiod serves ${want}`)
        }
        return true
      })
    },
  }
}
