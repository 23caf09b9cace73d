// istiod + two xDS ztunnels (test/helpers/istiod-mesh.ts) + a waypoint fed by istiod's xDS and CA,
// with a bookinfo-like reviews: Service `reviews` labelled `istio.io/use-waypoint: waypoint`, pods
// reviews-v1/v2 (HTTP apps on their pod-local addresses, answering with their version), a client
// pod, the seed's 90/10 VirtualService with DestinationRule subsets, an L7 AuthorizationPolicy
// targeting the reviews Service (GET only, from the client), and the L4 ALLOW at the reviews pods
// for the waypoint's principal (the ambient trap: their ztunnel sees the waypoint as the source).
// HTTP requests go client pod → SOCKS (its ztunnel) → HBONE → waypoint → HBONE → a reviews pod.
import type { Test } from 'tap'
import http from 'node:http'
import { createMetrics, type Metrics } from '../../src/observability/metrics.js'
import { startXdsWaypoint, type XdsWaypoint } from '../../src/waypoint/xds-waypoint.js'
import { AUTHZ_YAML, SUBSETS_YAML, WAYPOINT, WAYPOINT_YAML, labelledPodYaml } from './behaviour-scenario.js'
import { NAMESPACE_YAML, startIstiodMesh, type IstiodMesh } from './istiod-mesh.js'
import { connect } from './socks-client.js'
import { SocksAgent, requestOnce, type HttpReply } from './socks-agent.js'

export { WAYPOINT }
export const REVIEWS_HOST = 'reviews.default.svc.cluster.local'
export const CLIENT_ID = 'spiffe://cluster.local/ns/default/sa/client'
export const WAYPOINT_ID = `spiffe://cluster.local/ns/default/sa/${WAYPOINT}`

export const FILES: Readonly<Record<string, string>> = {
  '00-namespace.yaml': NAMESPACE_YAML,
  'client.yaml': labelledPodYaml('client', 'node-1', { app: 'client' }, 'client'),
  'reviews.yaml': [
    labelledPodYaml('reviews-v1', 'node-2', { app: 'reviews', version: 'v1' }, 'bookinfo-reviews'),
    labelledPodYaml('reviews-v2', 'node-2', { app: 'reviews', version: 'v2' }, 'bookinfo-reviews'),
    `apiVersion: v1
kind: Service
metadata:
  name: reviews
  namespace: default
  labels:
    app: reviews
    istio.io/use-waypoint: ${WAYPOINT}
spec:
  selector:
    app: reviews
  ports:
    - name: http
      port: 9080
      targetPort: 9080
`,
  ].join('---\n'),
  'waypoint.yaml': WAYPOINT_YAML,
  // The seed's canary split (section 3): 90 % v1, 10 % v2.
  'routing.yaml': `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata:
  name: reviews
  namespace: default
spec:
  hosts:
    - reviews
  http:
    - route:
        - destination:
            host: reviews
            subset: v1
          weight: 90
        - destination:
            host: reviews
            subset: v2
          weight: 10
---
${SUBSETS_YAML}`,
  'authz.yaml': AUTHZ_YAML,
}

export type Reply = HttpReply

export interface WaypointIstiodMesh {
  readonly mesh: IstiodMesh
  readonly reviewsVip: string
  /** Requests each reviews app saw, by pod. */
  readonly seen: ReadonlyMap<string, { method: string; url: string }[]>
  /** The waypoint's node (where istiod placed its pod). */
  readonly waypointNode: string
  readonly waypointPodIp: string
  /** The running waypoint, if started. */
  readonly waypoint: XdsWaypoint | undefined
  readonly metrics: Metrics
  startWaypoint(): Promise<XdsWaypoint>
  stopWaypoint(): Promise<void>
  /** One HTTP/1.1 request from the client pod to reviews:9080 (its VIP), over a pooled SOCKS connection. */
  request(options?: { method?: string; path?: string }): Promise<Reply>
}

export async function startWaypointIstiodMesh(t: Test): Promise<WaypointIstiodMesh> {
  const mesh = await startIstiodMesh(t, { files: FILES })
  const seen = new Map<string, { method: string; url: string }[]>()
  for (const name of ['reviews-v1', 'reviews-v2']) {
    const requests: { method: string; url: string }[] = []
    seen.set(name, requests)
    const server = http.createServer((req, res) => {
      requests.push({ method: req.method ?? '', url: req.url ?? '' })
      req.resume()
      req.on('end', () => {
        const body = JSON.stringify({ pod: name, version: name.slice('reviews-'.length) })
        res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) })
        res.end(body)
      })
    })
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject)
      server.listen(9080, mesh.workload(name).podLocalAddress, () => resolve())
    })
    t.teardown(
      () =>
        new Promise<void>((resolve) => {
          server.closeAllConnections()
          server.close(() => resolve())
        }),
    )
  }
  const reviews = mesh.istiod.translation()!.mesh.services.find((s) => s.hostname === REVIEWS_HOST)
  if (reviews === undefined) throw new Error('istiod serves no reviews Service')
  const wpWorkload = mesh.workload(WAYPOINT)
  const metrics = createMetrics()
  let waypoint: XdsWaypoint | undefined
  t.teardown(() => waypoint?.close())

  // Client → reviews over SOCKS on the client pod's IP; keep-alive, a few connections.
  const agent = new SocksAgent(() => connect(mesh.podIp('client'), 15080, { ip: reviews.addresses[0]!, port: 9080 }))
  t.teardown(() => agent.destroy())

  return {
    mesh,
    reviewsVip: reviews.addresses[0]!,
    seen,
    metrics,
    waypointNode: wpWorkload.node,
    waypointPodIp: wpWorkload.addresses[0]!,
    get waypoint() {
      return waypoint
    },
    async startWaypoint() {
      waypoint = await startXdsWaypoint({
        target: mesh.istiod.addresses.grpc,
        rootCertFile: mesh.istiod.rootCertPath,
        tokenFile: mesh.istiod.tokenFile(wpWorkload.node),
        node: wpWorkload.node,
        name: WAYPOINT,
        namespace: 'default',
        logger: mesh.log.logger.child({ component: 'waypoint' }),
        metrics,
        ports: { metrics: 0, readiness: 0 },
        initialTimeoutMs: 5_000,
      })
      return waypoint
    },
    async stopWaypoint() {
      await waypoint?.close()
      waypoint = undefined
      // Pooled connections went through the old waypoint.
      agent.destroy()
    },
    request({ method = 'GET', path = '/reviews/1' } = {}) {
      return requestOnce({ agent, host: 'reviews', port: 9080, method, path, headers: { host: 'reviews:9080' }, timeout: 5_000 })
    },
  }
}
