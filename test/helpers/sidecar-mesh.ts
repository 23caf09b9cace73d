// Sidecar mode in process: istiod (sidecar configs on) over the same YAML as the ambient-with-
// waypoint harness (test/helpers/waypoint-istiod-mesh.ts FILES: reviews v1/v2 behind the seed's
// 90/10 VirtualService, the GET-only policy from the client), one sidecar per app pod from
// istiod's xDS and CA, no ztunnel and no waypoint. HTTP requests go client app → client sidecar
// (SOCKS 15080 on its pod IP) → mTLS → a reviews sidecar → the reviews app on its pod-local address.
import type { Test } from 'tap'
import { randomInt } from 'node:crypto'
import http from 'node:http'
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { startIstiod, type Istiod } from '../../src/istiod/istiod.js'
import type { Workload } from '../../src/mesh/types.js'
import { createCapturingLogger, type CapturingLogger } from '../../src/observability/capturing-logger.js'
import { createMetrics, type Metrics } from '../../src/observability/metrics.js'
import { startXdsSidecar, type XdsSidecar } from '../../src/sidecar/daemon.js'
import { connect } from './socks-client.js'
import { SocksAgent, requestOnce } from './socks-agent.js'
import { FILES, REVIEWS_HOST, type Reply } from './waypoint-istiod-mesh.js'

export { FILES, REVIEWS_HOST }

export interface SidecarMesh {
  readonly istiod: Istiod
  readonly log: CapturingLogger
  readonly configDir: string
  readonly sidecars: ReadonlyMap<string, XdsSidecar>
  readonly metrics: ReadonlyMap<string, Metrics>
  readonly seen: ReadonlyMap<string, { method: string; url: string }[]>
  readonly reviewsVip: string
  workload(name: string): Workload
  writeFile(name: string, text: string): Promise<void>
  /** One HTTP/1.1 request from `from` (default `client`) to reviews:9080 through its sidecar's SOCKS listener. */
  request(options?: { method?: string; path?: string; from?: string }): Promise<Reply>
}

export interface SidecarMeshSpec {
  readonly files?: Readonly<Record<string, string>>
  /** Pods running an app answering on 9080 (pod-local address), with a sidecar. Default reviews-v1/v2. */
  readonly apps?: readonly string[]
  /** Pods that only call out, with a sidecar. Default `client`. */
  readonly clients?: readonly string[]
  /** The apps' request handler (after the request is recorded in `seen`). Default: a JSON echo of pod and version. */
  readonly handler?: (pod: string) => http.RequestListener
  /** The apps' server keep-alive timeout (node:http's default is 5 s). */
  readonly keepAliveTimeoutMs?: number
}

export async function startSidecarMesh(t: Test, spec: SidecarMeshSpec = {}): Promise<SidecarMesh> {
  const files = spec.files ?? FILES
  const apps = spec.apps ?? ['reviews-v1', 'reviews-v2']
  const clients = spec.clients ?? ['client']
  const x = randomInt(20, 90) * 2
  const dir = await mkdtemp(join(tmpdir(), 'ambient-sidecar-'))
  t.teardown(() => rm(dir, { recursive: true, force: true }))
  const configDir = join(dir, 'config')
  await mkdir(configDir)
  for (const [name, text] of Object.entries(files)) await writeFile(join(configDir, name), text)
  const log = createCapturingLogger({ level: 'debug', component: 'mesh' })
  const istiod = await startIstiod({
    configDir,
    stateDir: join(dir, 'state'),
    nodes: 2,
    host: '127.0.0.1',
    ports: { grpc: 0, debug: 0 },
    logger: log.logger.child({ component: 'istiod' }),
    addressPlan: { pods: `127.${x}`, podLocal: `127.${x + 1}`, services: `127.${x + 2}` },
    debounceMs: 20,
    sidecars: true,
  })
  t.teardown(() => istiod.close())
  const workload = (name: string): Workload => {
    const w = istiod.translation()?.mesh.workloads.find((v) => v.name === name)
    if (w === undefined) throw new Error(`istiod serves no workload ${name}`)
    return w
  }

  const seen = new Map<string, { method: string; url: string }[]>()
  for (const name of apps) {
    const requests: { method: string; url: string }[] = []
    seen.set(name, requests)
    const custom = spec.handler?.(name)
    const server = http.createServer((req, res) => {
      requests.push({ method: req.method ?? '', url: req.url ?? '' })
      if (custom !== undefined) {
        custom(req, res)
        return
      }
      req.resume()
      req.on('end', () => {
        const body = JSON.stringify({ pod: name, version: name.slice(name.lastIndexOf('-') + 1) })
        res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) })
        res.end(body)
      })
    })
    if (spec.keepAliveTimeoutMs !== undefined) server.keepAliveTimeout = spec.keepAliveTimeoutMs
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject)
      server.listen(9080, workload(name).podLocalAddress, () => resolve())
    })
    t.teardown(
      () =>
        new Promise<void>((resolve) => {
          server.closeAllConnections()
          server.close(() => resolve())
        }),
    )
  }

  const sidecars = new Map<string, XdsSidecar>()
  const metrics = new Map<string, Metrics>()
  for (const pod of [...clients, ...apps]) {
    const w = workload(pod)
    const m = createMetrics()
    const sc = await startXdsSidecar({
      target: istiod.addresses.grpc,
      rootCertFile: istiod.rootCertPath,
      tokenFile: istiod.tokenFile(w.node),
      node: w.node,
      namespace: 'default',
      pod,
      logger: log.logger.child({ component: 'sidecar', pod }),
      metrics: m,
      ports: { metrics: 0, readiness: 0 },
      initialTimeoutMs: 5_000,
    })
    t.teardown(() => sc.close())
    sidecars.set(pod, sc)
    metrics.set(pod, m)
  }
  // Empty when the config has no reviews Service (request() then has nowhere to go).
  const reviewsVip = istiod.translation()!.mesh.services.find((s) => s.hostname === REVIEWS_HOST)?.addresses[0] ?? ''

  const agents = new Map(
    clients.map((c) => [c, new SocksAgent(() => connect(workload(c).addresses[0]!, 15080, { ip: reviewsVip, port: 9080 }))]),
  )
  t.teardown(() => {
    for (const a of agents.values()) a.destroy()
  })

  return {
    istiod,
    log,
    configDir,
    sidecars,
    metrics,
    seen,
    reviewsVip,
    workload,
    writeFile: (name, text) => writeFile(join(configDir, name), text),
    request({ method = 'GET', path = '/reviews/1', from = clients[0]! } = {}) {
      return requestOnce({
        agent: agents.get(from)!,
        host: 'reviews',
        port: 9080,
        method,
        path,
        headers: { host: 'reviews:9080' },
        timeout: 5_000,
      })
    },
  }
}
