// One "mesh under test" over the same YAML in either mode, so a behaviour test is written once and
// run against both (issue: sidecar mode passes the same behaviour suite as ambient-with-waypoint):
//  - ambient: istiod + one xDS ztunnel per node (test/helpers/istiod-mesh.ts) + every waypoint
//    Gateway as an xDS waypoint; requests go client → its ztunnel (SOCKS) → HBONE → waypoint →
//    HBONE → the destination pod's ztunnel → app;
//  - sidecar: istiod with sidecar configs + one xDS sidecar per pod (test/helpers/sidecar-mesh.ts);
//    requests go client → its sidecar (SOCKS) → mTLS → the destination's sidecar → app.
// In both, the caller dials SOCKS on its own pod IP, port 15080, towards a Service VIP, and the apps
// are the httpbin-like app (test/helpers/httpbin-app.ts) on their pod-local addresses.
// With capture `inpod` (test/helpers/inpod-mesh.ts) every pod is a network namespace with Istio's
// rules: the apps listen on 0.0.0.0 inside their pod, callers open plain sockets inside theirs to the
// Service VIP; in ambient the ztunnels capture in-pod and the waypoint runs in its own pod's
// namespace, in sidecar mode each meshed pod's sidecar runs inside it as uid 1337, as
// `cluster up --capture inpod` runs them. No SOCKS anywhere.
//
//   for (const c of await meshCases()) t.test(`${c.name}: routing`, { skip: c.skip }, async (t) => {
//     const m = await startMeshUnderTest(t, c)
import type { Test } from 'tap'
import http from 'node:http'
import http2 from 'node:http2'
import net from 'node:net'
import { isDeepStrictEqual } from 'node:util'
import type { Istiod } from '../../src/istiod/istiod.js'
import type { Workload } from '../../src/mesh/types.js'
import type { CapturingLogger } from '../../src/observability/capturing-logger.js'
import { createMetrics, type Metrics } from '../../src/observability/metrics.js'
import { startXdsWaypoint, type XdsWaypoint } from '../../src/waypoint/xds-waypoint.js'
import { APPS, BEHAVIOUR_FILES, CLIENTS } from './behaviour-scenario.js'
import { eventually } from './eventually.js'
import { startEchoServer } from './echo-server.js'
import { createHttpbinApps, type HttpbinApps } from './httpbin-app.js'
import { createInpodNetwork, inpodAddressPlan, inpodMeshSkipReason, type InpodNetwork } from './inpod-mesh.js'
import { startIstiodMesh, type IstiodMesh } from './istiod-mesh.js'
import { startSidecarMesh } from './sidecar-mesh.js'
import { connect } from './socks-client.js'
import { SocksAgent, requestOnce } from './socks-agent.js'

export type MeshMode = 'ambient' | 'sidecar'
export const MESH_MODES: readonly MeshMode[] = ['ambient', 'sidecar']
/** How callers reach their proxy: SOCKS on 127.x pod addresses, or Istio's rules inside pod namespaces. */
export type MeshCapture = 'socks' | 'inpod'

/** One way the behaviour suite runs: a mode, a capture, the name tests carry, and why it is skipped here (if it is). */
export interface MeshCase {
  readonly mode: MeshMode
  readonly capture: MeshCapture
  /** `ambient`, `sidecar`, `ambient/inpod`. */
  readonly name: string
  readonly skip: string | false
  /** The tap timeout of one case: in-pod cases also boot their proxies as processes (one per pod in sidecar mode). */
  readonly timeoutMs: number
}

/** A behaviour file's own tap timeout (`t.setTimeout`): every case of meshCases() one after another, at their timeouts. */
export const MESH_CASES_FILE_TIMEOUT_MS = 2 * 60_000 + 2 * 120_000

let inpodSkips: Promise<Map<MeshMode, string | undefined>> | undefined

/**
 * Every case the behaviour suite runs in: both modes with SOCKS capture, and both with in-pod capture
 * when this machine allows it (root, ip netns, iptables, the addon, the built CLI; setpriv for
 * sidecars); otherwise that case is skipped and the reason printed once per test file.
 */
export async function meshCases(): Promise<MeshCase[]> {
  const first = inpodSkips === undefined
  inpodSkips ??= Promise.all(MESH_MODES.map(async (mode) => [mode, await inpodMeshSkipReason(mode)] as const)).then((e) => new Map(e))
  const skips = await inpodSkips
  const reasons = new Set([...skips.values()].filter((r) => r !== undefined))
  if (first && reasons.size > 0) console.log([...reasons].join('; '))
  return [
    ...MESH_MODES.map((mode): MeshCase => ({ mode, capture: 'socks', name: mode, skip: false, timeoutMs: 60_000 })),
    ...MESH_MODES.map((mode): MeshCase => ({
      mode,
      capture: 'inpod',
      name: `${mode}/inpod`,
      skip: skips.get(mode) ?? false,
      timeoutMs: 120_000,
    })),
  ]
}

export interface Reply {
  readonly status: number
  readonly body: string
  readonly headers: http.IncomingHttpHeaders
  /** Milliseconds from sending the request to the end of the answer. */
  readonly ms: number
  /** h2 only: the trailers, when the answer had any. */
  readonly trailers?: http2.IncomingHttpHeaders
}

export interface RequestOptions {
  /** The calling pod. Default `client`. */
  readonly from?: string
  /** The Service's short name (namespace default). Default `reviews`. */
  readonly service?: string
  readonly port?: number
  readonly method?: string
  readonly path?: string
  readonly headers?: Readonly<Record<string, string>>
  /** A connection of its own instead of the caller's keep-alive pool. */
  readonly fresh?: boolean
  readonly body?: string
}

export interface MeshUnderTest {
  readonly mode: MeshMode
  readonly capture: MeshCapture
  readonly istiod: Istiod
  readonly log: CapturingLogger
  readonly apps: HttpbinApps
  /** `reporter` on the istio_requests_total lines of the proxy that does the caller-side L7 work. */
  readonly l7Reporter: 'waypoint' | 'source'
  workload(name: string): Workload
  serviceVip(name: string): string
  /** One HTTP/1.1 request to a Service through the caller's capture. */
  request(options?: RequestOptions): Promise<Reply>
  /** One h2 (prior knowledge) request to a Service through the caller's capture. */
  h2Request(options?: RequestOptions): Promise<Reply>
  /** A raw TCP connection to a Service port through the caller's capture. */
  dial(options?: { from?: string; service?: string; port?: number }): Promise<net.Socket>
  /** A plaintext connection from outside the mesh to ip:port (the host; in-pod: a namespace outside the mesh). */
  outside(ip: string, port: number): net.Socket
  /** Writes a config file and resolves once istiod has applied it (its config version moved on). */
  writeFile(name: string, text: string): Promise<void>
  /** Resolves once every proxy holds exactly what istiod serves now. */
  converged(): Promise<void>
  /** Prometheus text of the caller-side L7 proxy: the waypoint, or `from`'s sidecar. */
  l7Metrics(from?: string): Promise<string>
  /** Prometheus text of the proxy in front of `pod` (its ztunnel's node in ambient, its sidecar). */
  destinationMetrics(pod: string): Promise<string>
}

export interface MeshUnderTestSpec {
  readonly files?: Readonly<Record<string, string>>
  readonly clients?: readonly string[]
  readonly apps?: readonly string[]
  /** The HTTP apps' keep-alive timeout (node:http's default is 5 s): when they close idle connections. */
  readonly appKeepAliveTimeoutMs?: number
}

/** The value of an istio_requests_total line with these label values (0 when absent), summed. */
export function requestsTotal(metrics: string, labels: Readonly<Record<string, string>>): number {
  let sum = 0
  for (const line of metrics.split('\n')) {
    if (!line.startsWith('istio_requests_total{')) continue
    if (Object.entries(labels).every(([k, v]) => line.includes(`${k}="${v}"`))) sum += Number(line.slice(line.lastIndexOf(' ') + 1))
  }
  return sum
}

const canonical = (v: unknown): unknown => JSON.parse(JSON.stringify(v)) as unknown

export async function startMeshUnderTest(t: Test, which: MeshCase, spec: MeshUnderTestSpec = {}): Promise<MeshUnderTest> {
  const { mode, capture } = which
  const files = spec.files ?? BEHAVIOUR_FILES
  const clients = spec.clients ?? CLIENTS
  const appPods = spec.apps ?? APPS
  const apps = createHttpbinApps(appPods)
  t.teardown(() => apps.releaseAll())
  const keepAlive = spec.appKeepAliveTimeoutMs
  const inpod = capture === 'inpod' ? createInpodNetwork(t, mode, inpodAddressPlan()) : undefined
  const base =
    inpod !== undefined
      ? await startInpod(t, mode, files, appPods, apps, keepAlive, inpod)
      : mode === 'ambient'
        ? await startAmbient(t, files, appPods, apps, keepAlive)
        : await startSidecar(t, files, clients, appPods, apps, keepAlive)
  const { istiod } = base
  const workload = (name: string): Workload => {
    const w = istiod.translation()?.mesh.workloads.find((v) => v.name === name)
    if (w === undefined) throw new Error(`istiod serves no workload ${name}`)
    return w
  }
  const serviceVip = (name: string): string => {
    const s = istiod.translation()?.mesh.services.find((v) => v.name === name && v.namespace === 'default')
    if (s === undefined || s.addresses[0] === undefined) throw new Error(`istiod serves no Service ${name}`)
    return s.addresses[0]
  }
  // The SOCKS client leaves the socket paused after the handshake: node:http needs it flowing; an
  // h2 session must get it paused (a flowing socket would lose the server's first frames).
  const socks = (from: string, service: string, port: number, flowing = true): Promise<net.Socket> =>
    base.open(from, serviceVip(service), port).then((s) => {
      if (flowing) s.resume()
      return s
    })

  const agents = new Map<string, SocksAgent>()
  t.teardown(() => {
    for (const a of agents.values()) a.destroy()
  })
  const agentFor = (from: string, service: string, port: number): SocksAgent => {
    const key = `${from}|${service}|${port}`
    let a = agents.get(key)
    if (a === undefined) agents.set(key, (a = new SocksAgent(() => socks(from, service, port, false))))
    return a
  }

  return {
    mode,
    capture,
    istiod,
    log: base.log,
    apps,
    workload,
    serviceVip,
    l7Reporter: mode === 'ambient' ? 'waypoint' : 'source',
    async writeFile(name, text) {
      const before = istiod.configVersion
      await base.writeFile(name, text)
      await eventually(() => istiod.configVersion > before)
    },
    converged: base.converged,
    l7Metrics: base.l7Metrics,
    destinationMetrics: base.destinationMetrics,
    dial: ({ from = 'client', service = 'reviews', port = 9080 } = {}) => socks(from, service, port),
    outside: base.outside,
    async request({
      from = 'client',
      service = 'reviews',
      port = 9080,
      method = 'GET',
      path = '/',
      headers = {},
      fresh = false,
      body,
    } = {}) {
      const started = performance.now()
      const socket = fresh ? await socks(from, service, port) : undefined
      try {
        const reply = await requestOnce(
          {
            ...(socket === undefined ? { agent: agentFor(from, service, port) } : { createConnection: () => socket }),
            host: service,
            port,
            method,
            path,
            headers: { host: `${service}:${port}`, ...headers },
          },
          body,
        )
        return { ...reply, ms: performance.now() - started }
      } finally {
        socket?.destroy()
      }
    },
    async h2Request({ from = 'client', service = 'reviews', port = 9080, method = 'GET', path = '/', headers = {}, body } = {}) {
      const started = performance.now()
      const socket = await socks(from, service, port, false)
      const session = http2.connect(`http://${service}:${port}`, { createConnection: () => socket })
      try {
        return await new Promise<Reply>((resolve, reject) => {
          session.on('error', reject)
          const stream = session.request({ ':method': method, ':path': path, ':authority': `${service}:${port}`, ...headers })
          let head: http2.IncomingHttpHeaders = {}
          let trailers: http2.IncomingHttpHeaders | undefined
          const chunks: Buffer[] = []
          stream.on('response', (h) => {
            head = h
          })
          stream.on('trailers', (h) => {
            trailers = h
          })
          stream.on('data', (c: Buffer) => chunks.push(c))
          stream.on('end', () =>
            resolve({
              status: Number(head[':status'] ?? 0),
              body: Buffer.concat(chunks).toString(),
              headers: head as http.IncomingHttpHeaders,
              ms: performance.now() - started,
              ...(trailers === undefined ? {} : { trailers }),
            }),
          )
          stream.on('error', reject)
          stream.setTimeout(10_000, () => stream.destroy(new Error('h2 request timed out')))
          stream.end(body)
        })
      } finally {
        session.destroy()
        socket.destroy()
      }
    },
  }
}

interface Base {
  readonly istiod: Istiod
  readonly log: CapturingLogger
  /** A connection from pod `from` to ip:port through its capture (SOCKS, or a socket inside its namespace). */
  open(from: string, ip: string, port: number): Promise<net.Socket>
  outside(ip: string, port: number): net.Socket
  writeFile(name: string, text: string): Promise<void>
  converged(): Promise<void>
  l7Metrics(from?: string): Promise<string>
  destinationMetrics(pod: string): Promise<string>
}

/** The TCP echo every app pod serves on this port (the scenario's `tcp-echo` Service port). */
export const TCP_ECHO_PORT = 9000
/** The gRPC-shaped h2 echo every app pod serves on this port (ratings' `grpc` Service port). */
export const GRPC_PORT = 9090

/** Where an app listens: its pod-local address, or a socket made inside its pod's namespace (`fd`). */
type AppAddress = { readonly host: string } | { readonly fd: number }

/** h2c: answers every stream 200 `application/grpc`, echoing the request body, with grpc-status trailers (x-grpc-status asks for one). */
async function serveGrpcEcho(t: Test, pod: string, at: AppAddress): Promise<void> {
  const server = http2.createServer()
  server.on('stream', (stream, headers) => {
    const chunks: Buffer[] = []
    stream.on('data', (c: Buffer) => chunks.push(c))
    stream.on('end', () => {
      stream.respond({ ':status': 200, 'content-type': 'application/grpc', 'x-pod': pod }, { waitForTrailers: true })
      stream.on('wantTrailers', () => stream.sendTrailers({ 'grpc-status': String(headers['x-grpc-status'] ?? '0'), 'grpc-message': pod }))
      stream.end(Buffer.concat(chunks))
    })
    stream.on('error', () => undefined)
  })
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen('fd' in at ? { fd: at.fd } : { port: GRPC_PORT, host: at.host }, () => resolve())
  })
  const sessions = new Set<http2.ServerHttp2Session>()
  server.on('session', (s) => {
    sessions.add(s)
    s.once('close', () => sessions.delete(s))
  })
  t.teardown(
    () =>
      new Promise<void>((resolve) => {
        for (const s of sessions) s.destroy()
        server.close(() => resolve())
      }),
  )
}

async function serveApps(
  t: Test,
  pods: readonly string[],
  apps: HttpbinApps,
  address: (pod: string, port: number) => AppAddress,
  keepAliveTimeoutMs: number | undefined,
): Promise<void> {
  for (const pod of pods) {
    const echoAt = address(pod, TCP_ECHO_PORT)
    const echo = await startEchoServer('fd' in echoAt ? '0.0.0.0' : echoAt.host, { port: TCP_ECHO_PORT, ...echoAt })
    t.teardown(() => echo.close())
    await serveGrpcEcho(t, pod, address(pod, GRPC_PORT))
    const server = http.createServer(apps.handler(pod))
    if (keepAliveTimeoutMs !== undefined) server.keepAliveTimeout = keepAliveTimeoutMs
    const at = address(pod, 9080)
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject)
      server.listen('fd' in at ? { fd: at.fd } : { port: 9080, host: at.host }, () => resolve())
    })
    t.teardown(
      () =>
        new Promise<void>((resolve) => {
          server.closeAllConnections()
          server.close(() => resolve())
        }),
    )
  }
}

async function startAmbient(
  t: Test,
  files: Readonly<Record<string, string>>,
  appPods: readonly string[],
  apps: HttpbinApps,
  keepAliveTimeoutMs: number | undefined,
): Promise<Base> {
  const mesh = await startIstiodMesh(t, { files })
  await serveApps(t, appPods, apps, (pod) => ({ host: mesh.workload(pod).podLocalAddress! }), keepAliveTimeoutMs)
  const waypoints = new Map<string, { xds: XdsWaypoint; metrics: Metrics }>()
  for (const wp of mesh.istiod.translation()!.waypoints) {
    const w = mesh.workload(wp.name)
    const metrics = createMetrics()
    const xds = await startXdsWaypoint({
      target: mesh.istiod.addresses.grpc,
      rootCertFile: mesh.istiod.rootCertPath,
      tokenFile: mesh.istiod.tokenFile(w.node),
      node: w.node,
      name: wp.name,
      namespace: wp.namespace,
      logger: mesh.log.logger.child({ component: 'waypoint', waypoint: wp.name }),
      metrics,
      ports: { metrics: 0, readiness: 0 },
      initialTimeoutMs: 5_000,
    })
    t.teardown(() => xds.close())
    waypoints.set(`${wp.namespace}/${wp.name}`, { xds, metrics })
  }
  const one = (): { xds: XdsWaypoint; metrics: Metrics } => {
    if (waypoints.size !== 1) throw new Error(`l7Metrics needs exactly one waypoint, have ${waypoints.size}`)
    return [...waypoints.values()][0]!
  }
  return {
    istiod: mesh.istiod,
    log: mesh.log,
    open: (from, ip, port) => connect(mesh.workload(from).addresses[0]!, 15080, { ip, port }),
    outside: (ip, port) => net.connect(port, ip),
    writeFile: mesh.writeFile,
    async converged() {
      await mesh.converged()
      await eventually(() => {
        for (const want of mesh.istiod.translation()!.waypoints) {
          const got = waypoints.get(`${want.namespace}/${want.name}`)
          if (got !== undefined && !isDeepStrictEqual(canonical(got.xds.config()), canonical(want)))
            throw new Error(`waypoint ${want.namespace}/${want.name} does not hold istiod's config yet`)
        }
        return true
      })
    },
    l7Metrics: () => one().metrics.render(),
    destinationMetrics: (pod) => ztunnelMetrics(mesh, pod),
  }
}

const ztunnelMetrics = async (mesh: IstiodMesh, pod: string): Promise<string> =>
  (await fetch(`http://${mesh.daemons.get(mesh.workload(pod).node)!.addresses.metrics}/metrics`)).text()

/**
 * In-pod capture (test/helpers/inpod-mesh.ts): apps in their pods' namespaces; in ambient, in-pod
 * ztunnels and the waypoint in its own pod; in sidecar mode, no ztunnel and a sidecar in each meshed pod.
 */
async function startInpod(
  t: Test,
  mode: MeshMode,
  files: Readonly<Record<string, string>>,
  appPods: readonly string[],
  apps: HttpbinApps,
  keepAliveTimeoutMs: number | undefined,
  inpod: InpodNetwork,
): Promise<Base> {
  const mesh = await startIstiodMesh(t, { files, inpod, ...(mode === 'sidecar' ? { sidecars: true } : {}) })
  await inpod.startProxies(mesh.istiod, mesh.log)
  await serveApps(t, appPods, apps, (pod, port) => ({ fd: inpod.listenFd(pod, port) }), keepAliveTimeoutMs)
  return {
    istiod: mesh.istiod,
    log: mesh.log,
    open: inpod.open,
    outside: inpod.outside,
    writeFile: mesh.writeFile,
    async converged() {
      await mesh.converged()
      await inpod.converged(mesh.istiod)
    },
    l7Metrics: (from = 'client') => inpod.proxyMetrics(mode === 'ambient' ? undefined : from),
    destinationMetrics: (pod) => (mode === 'ambient' ? ztunnelMetrics(mesh, pod) : inpod.proxyMetrics(pod)),
  }
}

async function startSidecar(
  t: Test,
  files: Readonly<Record<string, string>>,
  clients: readonly string[],
  appPods: readonly string[],
  apps: HttpbinApps,
  keepAliveTimeoutMs: number | undefined,
): Promise<Base> {
  const mesh = await startSidecarMesh(t, {
    files,
    clients,
    apps: appPods,
    handler: (pod) => apps.handler(pod),
    ...(keepAliveTimeoutMs === undefined ? {} : { keepAliveTimeoutMs }),
  })
  for (const pod of appPods) {
    const echo = await startEchoServer(mesh.workload(pod).podLocalAddress!, { port: TCP_ECHO_PORT })
    t.teardown(() => echo.close())
    await serveGrpcEcho(t, pod, { host: mesh.workload(pod).podLocalAddress! })
  }
  return {
    istiod: mesh.istiod,
    log: mesh.log,
    open: (from, ip, port) => connect(mesh.workload(from).addresses[0]!, 15080, { ip, port }),
    outside: (ip, port) => net.connect(port, ip),
    writeFile: mesh.writeFile,
    async converged() {
      await eventually(() => {
        for (const want of mesh.istiod.translation()!.sidecars ?? []) {
          const got = mesh.sidecars.get(want.sidecar.pod.name)
          if (got !== undefined && !isDeepStrictEqual(canonical(got.config()), canonical(want)))
            throw new Error(`sidecar ${want.sidecar.pod.name} does not hold istiod's config yet`)
        }
        return true
      })
    },
    l7Metrics: (from = 'client') => mesh.metrics.get(from)!.render(),
    destinationMetrics: (pod) => mesh.metrics.get(pod)!.render(),
  }
}
