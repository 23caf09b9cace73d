// An in-process waypoint between a source "ztunnel" (an HBONE pool holding the source workload's
// certificate) and destination "pods" (HBONE servers fronting HTTP apps on loopback). Addresses are
// 127.X.k.j with a random X, so the fixed ports 15008 and the app ports never collide.
import type { Test } from 'tap'
import { randomInt } from 'node:crypto'
import http from 'node:http'
import http2 from 'node:http2'
import type { AddressInfo } from 'node:net'
import { createHbonePool, type HbonePool, type Tunnel } from '../../src/hbone/pool.js'
import { acceptPiped, createHboneServer } from '../../src/hbone/server.js'
import { SpiffeId } from '../../src/identity/spiffe-id.js'
import type { Endpoint, HttpRoute, ServedPort, ServedService, UpstreamCluster, WaypointConfig } from '../../src/mesh/waypoint-config.js'
import { WAYPOINT_CONFIG_API_VERSION } from '../../src/mesh/waypoint-config.js'
import { closeServer, connectTcp, listen } from '../../src/net/listen.js'
import { createCapturingLogger, type CapturingLogger } from '../../src/observability/capturing-logger.js'
import { createMetrics, type Metrics } from '../../src/observability/metrics.js'
import { createWaypoint, type Waypoint, type WaypointAddresses } from '../../src/waypoint/waypoint.js'
import { StreamSocket } from '../../src/l7/stream-socket.js'
import type { SpanSink } from '../../src/l7/zipkin.js'
import { createTestPki, type TestPki } from './pki.js'

export const TD = 'cluster.local'
export const WAYPOINT_ID = `spiffe://${TD}/ns/default/sa/waypoint`
export const PRODUCTPAGE_ID = `spiffe://${TD}/ns/default/sa/bookinfo-productpage`

export type AppHandler = (req: http.IncomingMessage, res: http.ServerResponse, pod: string) => void

export interface Pod {
  readonly name: string
  readonly ip: string
  readonly appPort: number
  readonly identity: string
  /** Requests the app saw. */
  readonly seen: { method: string; url: string; headers: http.IncomingHttpHeaders; body: string }[]
  /** HBONE tunnels the pod's "ztunnel" accepted: the caller's certificate serial and identity. */
  readonly tunnels: { serial: string; identity: string }[]
  handler: AppHandler
  /** When set, the h2 app answers only once it resolves (hold requests in flight). */
  h2Gate: Promise<void> | null
  /** h2 streams the app has received and not yet answered. */
  h2Held: number
  /** h2 streams closed before the app answered them (reset by the waypoint). */
  h2Reset: number
}

export const echoHandler: AppHandler = (req, res, pod) => {
  let body = ''
  req.on('data', (d: Buffer) => {
    body += d.toString()
  })
  req.on('end', () => {
    res.writeHead(200, { 'content-type': 'application/json', 'x-pod': pod })
    res.end(JSON.stringify({ pod, method: req.method, url: req.url, host: req.headers.host, body }))
  })
}

export function endpointOf(pod: Pod, extra: Partial<Endpoint> = {}): Endpoint {
  return {
    uid: `Kubernetes//Pod/default/${pod.name}`,
    name: pod.name,
    namespace: 'default',
    address: pod.ip,
    targetPort: pod.appPort,
    identity: pod.identity,
    hbonePort: 15008,
    tunnelProtocol: 'HBONE',
    healthy: true,
    weight: 1,
    node: 'node-1',
    ...extra,
  }
}

export function cluster(
  name: string,
  hostname: string,
  port: number,
  endpoints: Endpoint[],
  policy: Partial<UpstreamCluster['trafficPolicy']> = {},
  subset: string | null = null,
): UpstreamCluster {
  const big = 2 ** 32 - 1
  return {
    name,
    hostname,
    namespace: 'default',
    port,
    subset,
    subsetLabels: {},
    destinationRule: null,
    endpoints,
    trafficPolicy: {
      loadBalancer: 'ROUND_ROBIN',
      outlierDetection: null,
      connectionPool: {
        maxConnections: big,
        connectTimeoutMs: 2_000,
        http1MaxPendingRequests: big,
        http2MaxRequests: big,
        maxRequestsPerConnection: 0,
        maxRetries: big,
        idleTimeoutMs: null,
      },
      ...policy,
    },
  }
}

const NO_OPS = { request: { set: [], add: [], remove: [] }, response: { set: [], add: [], remove: [] } }

export function route(clusterName: string, hostname: string, port: number, extra: Partial<HttpRoute> = {}): HttpRoute {
  return {
    name: 'default',
    matches: [],
    timeoutMs: null,
    fault: null,
    mirrors: [],
    rewrite: null,
    headers: NO_OPS,
    retries: { attempts: 0, perTryTimeoutMs: null, retryOn: [], retriableStatusCodes: [] },
    action: { kind: 'forward', destinations: [{ cluster: clusterName, hostname, port, subset: null, weight: 100, headers: NO_OPS }] },
    ...extra,
  }
}

export function servicePort(port: number, protocol: ServedPort['protocol'], routes: HttpRoute[], tcpCluster = ''): ServedPort {
  return { port, protocol, routes, tcpCluster, routeSource: ['default'] }
}

/** A Service with one port `port` (protocol HTTP) and these routes, no authorization. */
export function httpService(
  s: { hostname: string; name: string; namespace: string; vip: string },
  port: number,
  routes: HttpRoute[],
  tcpCluster = '',
): ServedService {
  return {
    hostname: s.hostname,
    name: s.name,
    namespace: s.namespace,
    addresses: [s.vip],
    ports: [servicePort(port, 'HTTP', routes, tcpCluster)],
    authorization: [],
  }
}

export interface WaypointHarness {
  readonly base: number
  readonly pki: TestPki
  readonly log: CapturingLogger
  readonly metrics: Metrics
  readonly waypoint: Waypoint
  readonly config: WaypointConfig
  readonly addresses: WaypointAddresses
  readonly waypointIp: string
  readonly pods: ReadonlyMap<string, Pod>
  vip(n: number): string
  /** A source pool speaking as `identity` (default productpage). */
  source(identity?: string): Promise<HbonePool>
  /** A raw tunnel to `authority` via the waypoint (TCP tests). */
  tunnel(authority: string, identity?: string): Promise<Tunnel>
  /** One HTTP/1.1 request through a tunnel to `authority` via the waypoint. */
  request(authority: string, options?: RequestOptions): Promise<Reply>
  /** HTTP/2 (h2c inside the tunnel). */
  request2(authority: string, options?: RequestOptions): Promise<Reply & { trailers: http2.IncomingHttpHeaders }>
}

export interface RequestOptions {
  method?: string
  path?: string
  host?: string
  headers?: Record<string, string>
  body?: string
  identity?: string
}

export interface Reply {
  status: number
  headers: http.IncomingHttpHeaders
  body: string
}

export async function startWaypointHarness(
  t: Test,
  spec: {
    pods: readonly string[]
    config: (h: {
      vip(n: number): string
      pod(name: string): Pod
    }) => Omit<
      WaypointConfig,
      'apiVersion' | 'name' | 'namespace' | 'identity' | 'trustDomain' | 'waypointFor' | 'hbonePort' | 'defaults'
    > &
      Partial<WaypointConfig>
    sniffTimeoutMs?: number
    /** The waypoint's random source (backoff jitter, load balancing, faults); default Math.random. */
    random?: () => number
    /** Where the waypoint reports spans (src/l7/zipkin.ts). */
    spans?: SpanSink
  },
): Promise<WaypointHarness> {
  const base = randomInt(100, 250)
  const vip = (n: number): string => `127.${base}.96.${n}`
  const waypointIp = `127.${base}.1.200`
  const pki = await createTestPki()
  t.teardown(() => pki.close())
  const log = createCapturingLogger({ level: 'debug', component: 'waypoint' })

  const pods = new Map<string, Pod>()
  let index = 1
  for (const name of spec.pods) {
    const ip = `127.${base}.2.${index++}`
    const identity = `spiffe://${TD}/ns/default/sa/${name}`
    const pod: Pod = { name, ip, appPort: 0, identity, seen: [], tunnels: [], handler: echoHandler, h2Gate: null, h2Held: 0, h2Reset: 0 }
    const app = http.createServer((req, res) => {
      const chunks: Buffer[] = []
      req.on('data', (d: Buffer) => chunks.push(d))
      req.on('end', () => {
        pod.seen.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, body: Buffer.concat(chunks).toString() })
      })
      pod.handler(req, res, name)
    })
    const appAddr = await listen(app, { host: `127.${base}.3.${index}`, port: 0 })
    ;(pod as { appPort: number }).appPort = appAddr.port
    const h2app = http2.createServer()
    h2app.on('stream', (stream, headers) => {
      stream.on('error', () => undefined)
      stream.on('close', () => {
        if (!stream.headersSent) pod.h2Reset++
      })
      let body = ''
      stream.on('data', (d: Buffer) => {
        body += d.toString()
      })
      stream.on('end', async () => {
        pod.seen.push({
          method: String(headers[':method']),
          url: String(headers[':path']),
          headers: headers as http.IncomingHttpHeaders,
          body,
        })
        if (pod.h2Gate !== null) {
          pod.h2Held++
          await pod.h2Gate
          pod.h2Held--
        }
        if (stream.destroyed) return
        stream.respond(
          { ':status': 200, 'content-type': String(headers['content-type'] ?? 'text/plain'), 'x-pod': name },
          { waitForTrailers: true },
        )
        stream.on('wantTrailers', () => stream.sendTrailers({ 'grpc-status': '0', 'grpc-message': 'ok' }))
        stream.end(`h2 ${name} ${body}`)
      })
    })
    const cert = await pki.issue(identity)
    // The destination ztunnel's job, reduced: accept the tunnel for the app port, hand it to the app.
    const hbone = createHboneServer({
      certificate: cert,
      host: ip,
      port: 15008,
      logger: log.logger.child({ pod: name }),
      async onConnect(request) {
        if (request.authority.ip !== ip) return { kind: 'bad-request', reason: 'ip mismatch' }
        pod.tunnels.push({ serial: request.peer.serialNumber, identity: request.peer.identity.toString() })
        if (request.authority.port === appAddr.port) return acceptPiped(await connectTcp({ host: appAddr.address, port: appAddr.port }))
        if (request.authority.port === appAddr.port + 1) {
          return { kind: 'accept', serve: (stream) => h2app.emit('connection', new StreamSocket(stream)), cancel: () => undefined }
        }
        return { kind: 'unavailable', reason: 'port not resolvable' }
      },
    })
    await hbone.start()
    t.teardown(async () => {
      await hbone.close()
      app.closeAllConnections()
      await closeServer(app)
    })
    pods.set(name, pod)
  }
  const pod = (name: string): Pod => {
    const p = pods.get(name)
    if (!p) throw new Error(`no pod ${name}`)
    return p
  }

  const partial = spec.config({ vip, pod })
  const config: WaypointConfig = {
    apiVersion: WAYPOINT_CONFIG_API_VERSION,
    name: 'waypoint',
    namespace: 'default',
    identity: WAYPOINT_ID,
    trustDomain: TD,
    waypointFor: 'service',
    hbonePort: 15008,
    defaults: {
      retries: {
        attempts: 2,
        perTryTimeoutMs: null,
        retryOn: ['connect-failure', 'refused-stream', 'unavailable', 'cancelled'],
        retriableStatusCodes: [503],
      },
      connectTimeoutMs: 2_000,
    },
    ...partial,
  }
  const metrics = createMetrics()
  const waypoint = createWaypoint({
    config,
    certificate: await pki.issue(WAYPOINT_ID),
    host: waypointIp,
    ports: { hbone: 15008, metrics: 0, readiness: 0 },
    logger: log.logger,
    metrics,
    ...(spec.sniffTimeoutMs === undefined ? {} : { sniffTimeoutMs: spec.sniffTimeoutMs }),
    ...(spec.random === undefined ? {} : { random: spec.random }),
    ...(spec.spans === undefined ? {} : { spans: spec.spans }),
  })
  const addresses = await waypoint.start()
  t.teardown(() => waypoint.close())

  const pools = new Map<string, HbonePool>()
  const source = async (identity = PRODUCTPAGE_ID): Promise<HbonePool> => {
    let p = pools.get(identity)
    if (!p) {
      p = createHbonePool({ certificates: [await pki.issue(identity)], logger: log.logger.child({ role: 'source' }) })
      pools.set(identity, p)
      const created = p
      t.teardown(() => created.close())
    }
    return p
  }
  const tunnel = async (authority: string, identity: string | undefined) => {
    const pool = await source(identity)
    const [ip, port] = [authority.slice(0, authority.lastIndexOf(':')), Number(authority.slice(authority.lastIndexOf(':') + 1))]
    return pool.open({
      source: SpiffeId.parse(identity ?? PRODUCTPAGE_ID),
      destination: { host: waypointIp, port: 15008 },
      expectedIdentities: [SpiffeId.parse(WAYPOINT_ID)],
      authority: { ip, port },
      baggage: {
        'k8s.namespace.name': 'default',
        'k8s.deployment.name': 'productpage-v1',
        'service.name': 'productpage',
        'service.version': 'v1',
      },
    })
  }

  return {
    base,
    pki,
    log,
    metrics,
    waypoint,
    config,
    addresses,
    waypointIp,
    pods,
    vip,
    source,
    tunnel: (authority, identity) => tunnel(authority, identity),
    async request(authority, o = {}) {
      const t1 = await tunnel(authority, o.identity)
      const socket = new StreamSocket(t1.stream)
      return new Promise<Reply>((resolve, reject) => {
        const req = http.request(
          {
            createConnection: () => socket as never,
            method: o.method ?? 'GET',
            path: o.path ?? '/',
            headers: { host: o.host ?? authority, ...o.headers, connection: 'close' },
          },
          (res) => {
            let body = ''
            res.on('data', (d: Buffer) => {
              body += d.toString()
            })
            res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }))
            res.on('error', reject)
          },
        )
        req.on('error', reject)
        req.end(o.body)
      })
    },
    async request2(authority, o = {}) {
      const t1 = await tunnel(authority, o.identity)
      const session = http2.connect('http://waypoint', { createConnection: () => new StreamSocket(t1.stream) as never })
      session.on('error', () => undefined)
      try {
        return await new Promise((resolve, reject) => {
          const s = session.request({
            ':method': o.method ?? 'POST',
            ':path': o.path ?? '/',
            ':authority': o.host ?? authority,
            ...o.headers,
          })
          let status = 0
          let headers: http.IncomingHttpHeaders = {}
          let trailers: http2.IncomingHttpHeaders = {}
          let body = ''
          s.on('response', (h) => {
            status = Number(h[':status'])
            headers = h as http.IncomingHttpHeaders
          })
          s.on('trailers', (tr) => {
            trailers = tr
          })
          s.on('data', (d: Buffer) => {
            body += d.toString()
          })
          s.on('end', () => resolve({ status, headers, body, trailers }))
          s.on('error', reject)
          s.end(o.body)
        })
      } finally {
        session.close()
      }
    },
  }
}

/** One HTTP service (reviews, port 9080) with one pod (reviews-v1) behind the waypoint. */
export function startReviewsHarness(t: Test): Promise<WaypointHarness> {
  const host = 'reviews.default.svc.cluster.local'
  const name = `outbound|9080||${host}`
  return startWaypointHarness(t, {
    pods: ['reviews-v1'],
    config: ({ vip, pod }) => ({
      services: [
        httpService({ hostname: host, name: 'reviews', namespace: 'default', vip: vip(1) }, 9080, [route(name, host, 9080)], name),
      ],
      workloads: [],
      clusters: [cluster(name, host, 9080, [endpointOf(pod('reviews-v1'))])],
      authorization: [],
    }),
  })
}

export type { AddressInfo }
