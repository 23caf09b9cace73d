// A waypoint's destination peer is kept per (endpoint, service) config object (src/l7/telemetry.ts
// endpointDestinationPeer) and the metrics key a series by the peer object: requests to different
// endpoints or services must still land in separate series, and a new config (new objects, even with
// the same uid) must get its own labels, never a label set cached for the old objects.
import t from 'tap'
import type { Endpoint, ServedService } from '../../../src/mesh/waypoint-config.js'
import { endpointDestinationPeer, recordWaypointRequest } from '../../../src/l7/telemetry.js'
import { createMetrics, type Metrics } from '../../../src/observability/metrics.js'
import { httpLabels, type FlowPeer } from '../../../src/observability/traffic-labels.js'
import { sleep } from '../observability/fixtures.js'

function endpoint(name: string, revision: string, address: string): Endpoint {
  return {
    uid: `Kubernetes//Pod/default/${name}`,
    name,
    namespace: 'default',
    address,
    targetPort: 8080,
    identity: 'spiffe://cluster.local/ns/default/sa/reviews',
    hbonePort: 15008,
    tunnelProtocol: 'HBONE',
    healthy: true,
    weight: 1,
    node: 'node-1',
    metadata: { workloadName: `reviews-${revision}`, canonicalName: 'reviews', canonicalRevision: revision, clusterId: 'Kubernetes' },
  }
}

const reviews: Pick<ServedService, 'name' | 'namespace' | 'hostname'> = {
  name: 'reviews',
  namespace: 'default',
  hostname: 'reviews.default.svc.cluster.local',
}

function record(metrics: Metrics, dst: FlowPeer, responseCode = 200): void {
  recordWaypointRequest(metrics, {
    src: sleep,
    dst,
    requestProtocol: 'http',
    responseCode,
    responseFlags: [],
    durationMs: 3,
    requestBytes: 0,
    responseBytes: 10,
  })
}

/** prom-client's own path for the same request: what the scrape must show. */
function recordReference(metrics: Metrics, dst: FlowPeer, responseCode = 200): void {
  const labels = httpLabels({
    reporter: 'waypoint',
    src: sleep,
    dst,
    securityPolicy: 'mutual_tls',
    requestProtocol: 'http',
    responseCode,
    responseFlags: [],
  })
  metrics.http.requests.inc(labels)
  metrics.http.durationMs.observe(labels, 3)
  metrics.http.requestBytes.observe(labels, 0)
  metrics.http.responseBytes.observe(labels, 10)
}

function requestLines(text: string): string[] {
  return text.split('\n').filter((l) => l.startsWith('istio_requests_total{'))
}

t.test('one peer object per (endpoint, service) object; built as destinationPeer builds it', async (t) => {
  const v1 = endpoint('reviews-v1-abc', 'v1', '10.0.1.1')
  const peer = endpointDestinationPeer(v1, reviews)
  t.equal(endpointDestinationPeer(v1, reviews), peer, 'the same object for the same config objects')
  t.not(endpointDestinationPeer(v1, undefined), peer, 'without the service: another peer')
  t.equal(endpointDestinationPeer(v1, undefined).service, undefined)
  t.ok(Object.isFrozen(peer), 'frozen: a recorded peer is never changed')
  t.match(peer, { addr: '10.0.1.1:8080', workload: 'reviews-v1', canonicalRevision: 'v1', service: reviews })
  t.equal(peer.identity?.toString(), 'spiffe://cluster.local/ns/default/sa/reviews')
})

t.test('different destinations and services: separate series, as prom-client prints them', async (t) => {
  const metrics = createMetrics()
  const reference = createMetrics()
  const v1 = endpoint('reviews-v1-abc', 'v1', '10.0.1.1')
  const v2 = endpoint('reviews-v2-def', 'v2', '10.0.1.2')
  const ratings = { name: 'ratings', namespace: 'default', hostname: 'ratings.default.svc.cluster.local' }
  const dsts = [
    endpointDestinationPeer(v1, reviews),
    endpointDestinationPeer(v2, reviews),
    endpointDestinationPeer(v1, ratings),
    endpointDestinationPeer(v2, reviews),
  ]
  for (const dst of dsts) {
    record(metrics, dst)
    recordReference(reference, dst)
  }
  record(metrics, dsts[0]!, 503)
  recordReference(reference, dsts[0]!, 503)
  const text = await metrics.render()
  t.equal(text, await reference.render(), 'byte-identical exposition')
  const lines = requestLines(text)
  t.equal(lines.length, 4, 'v1/reviews 200, v1/reviews 503, v2/reviews, v1/ratings')
  t.ok(
    lines.some((l) => l.includes('destination_canonical_revision="v2"') && l.endsWith(' 2')),
    'the two requests to v2 in one series',
  )
  t.ok(lines.some((l) => l.includes('destination_service_name="ratings"') && l.endsWith(' 1')))
})

t.test('a config change (new objects, same uid) gets its own labels, not the old ones', async (t) => {
  const metrics = createMetrics()
  const reference = createMetrics()
  const before = endpoint('reviews-v1-abc', 'v1', '10.0.1.1')
  const service = { ...reviews }
  const old = endpointDestinationPeer(before, service)
  record(metrics, old)
  recordReference(reference, old)
  // The next config: the same pod relabelled, and the service object rebuilt with a new name.
  const after: Endpoint = { ...before, metadata: { ...before.metadata!, canonicalRevision: 'v3', workloadName: 'reviews-v3' } }
  const renamed = { ...reviews, name: 'reviews-canary' }
  const fresh = endpointDestinationPeer(after, renamed)
  t.not(fresh, old)
  t.match(fresh, { workload: 'reviews-v3', canonicalRevision: 'v3', service: { name: 'reviews-canary' } })
  t.match(old, { workload: 'reviews-v1', canonicalRevision: 'v1', service: { name: 'reviews' } }, 'the old peer is as it was')
  for (const dst of [fresh, fresh, endpointDestinationPeer(after, service)]) {
    record(metrics, dst)
    recordReference(reference, dst)
  }
  const text = await metrics.render()
  t.equal(text, await reference.render(), 'byte-identical exposition')
  const lines = requestLines(text)
  t.equal(lines.length, 3, 'v1/reviews, v3/reviews-canary, v3/reviews')
  t.ok(
    lines.some(
      (l) => l.includes('destination_workload="reviews-v3"') && l.includes('destination_service_name="reviews-canary"') && l.endsWith(' 2'),
    ),
  )
  t.ok(
    lines.some(
      (l) => l.includes('destination_workload="reviews-v3"') && l.includes('destination_service_name="reviews"') && l.endsWith(' 1'),
    ),
  )
  t.ok(lines.some((l) => l.includes('destination_workload="reviews-v1"') && l.endsWith(' 1')))
})
