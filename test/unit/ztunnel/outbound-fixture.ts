// The mesh the outbound-plan table runs against: bookinfo-like Services, a waypoint with two
// replicas, broken waypoints, a workload outside ambient, and a dual-stack pod.
import { meshView, service, waypointByAddress, waypointByHostname, workload } from '../../helpers/mesh-view.js'

const REVIEWS = 'default/reviews.default.svc.cluster.local'
const WAYPOINT = 'default/waypoint.default.svc.cluster.local'
const SICK_WP = 'default/sick-wp.default.svc.cluster.local'

export const w = {
  sleep: workload({ name: 'sleep', addresses: ['10.0.0.1'], serviceAccount: 'sleep', waypoint: waypointByHostname('sleep-wp') }),
  sleepWaypoint: workload({ name: 'sleep-wp-1', addresses: ['10.0.9.9'], serviceAccount: 'sleep-wp', services: { 'default/sleep-wp.default.svc.cluster.local': [[15008, 15008]] } }),
  // Endpoint port map wins: 9080 → 19080.
  reviewsV1: workload({ name: 'reviews-v1', addresses: ['10.0.1.1'], serviceAccount: 'reviews', capacity: 3, services: { [REVIEWS]: [[9080, 19080], [7000, 15006]] } }),
  // Target port 0 in the endpoint map: the Service's target port (9081) applies.
  reviewsV2: workload({ name: 'reviews-v2', addresses: ['10.0.1.2'], serviceAccount: 'reviews', capacity: 1, services: { [REVIEWS]: [[9080, 0]] } }),
  reviewsV3: workload({ name: 'reviews-v3', addresses: ['10.0.1.3'], serviceAccount: 'reviews', status: 'UNHEALTHY', capacity: 100, services: { [REVIEWS]: [[9080, 9080]] } }),
  productpage: workload({ name: 'productpage', addresses: ['10.0.2.1'], serviceAccount: 'productpage', services: { 'default/productpage.default.svc.cluster.local': [[9080, 9080]] } }),
  waypointA: workload({ name: 'waypoint-a', addresses: ['10.0.9.1'], serviceAccount: 'waypoint', workloadName: 'waypoint', services: { [WAYPOINT]: [[15008, 15008]] } }),
  waypointB: workload({ name: 'waypoint-b', addresses: ['10.0.9.2'], serviceAccount: 'waypoint', workloadName: 'waypoint', services: { [WAYPOINT]: [[15008, 15008]] } }),
  sickWaypoint: workload({ name: 'sick-wp-1', addresses: ['10.0.9.3'], serviceAccount: 'sick-wp', status: 'UNHEALTHY', services: { [SICK_WP]: [[15008, 15008]] } }),
  db: workload({ name: 'db', addresses: ['10.0.3.1'], serviceAccount: 'db', waypoint: waypointByHostname('waypoint') }),
  cache: workload({ name: 'cache', addresses: ['10.0.3.2'], serviceAccount: 'cache', waypoint: waypointByAddress('10.0.9.1', 15019) }),
  queue: workload({ name: 'queue', addresses: ['10.0.3.3'], waypoint: waypointByAddress('10.96.0.100') }),
  ghostly: workload({ name: 'ghostly', addresses: ['10.0.3.4'], waypoint: waypointByAddress('10.0.99.99') }),
  sickly: workload({ name: 'sickly', addresses: ['10.0.3.5'], waypoint: waypointByAddress('10.0.9.3') }),
  legacy: workload({ name: 'legacy', addresses: ['10.0.4.1'], tunnelProtocol: 'NONE', services: { 'default/legacy.default.svc.cluster.local': [[80, 8080]] } }),
  dual: workload({ name: 'dual', namespace: 'v6', addresses: ['10.0.5.1', 'fd00::1'], trustDomain: 'example.org', serviceAccount: 'dual', services: { 'v6/dual.v6.svc.cluster.local': [[80, 8080]] } }),
  unhealthyOnly: workload({ name: 'gone', addresses: ['10.0.6.1'], status: 'UNHEALTHY', services: { 'default/gone.default.svc.cluster.local': [[80, 80]] } }),
  badIdentity: workload({ name: 'bad-id', addresses: ['10.0.7.1'], serviceAccount: 'bad/sa' }),
}

export const s = {
  reviews: service({
    name: 'reviews',
    addresses: ['10.96.0.10'],
    ports: [[9080, 9081], [9999, 0], [7000, 7000]],
    subjectAltNames: ['spiffe://cluster.local/ns/default/sa/reviews-legacy', 'not-a-spiffe-id', 'spiffe://cluster.local/ns/default/sa/reviews'],
  }),
  productpage: service({ name: 'productpage', addresses: ['10.96.0.20'], ports: [[9080, 9080]], waypoint: waypointByHostname('waypoint') }),
  waypoint: service({ name: 'waypoint', addresses: ['10.96.0.100'], ports: [[15008, 15008]] }),
  sickWp: service({ name: 'sick-wp', addresses: ['10.96.0.103'], ports: [[15008, 15008]] }),
  sleepWp: service({ name: 'sleep-wp', addresses: ['10.96.0.109'], ports: [[15008, 15008]] }),
  ratings: service({ name: 'ratings', addresses: ['10.96.0.30'], ports: [[9080, 9080]], waypoint: waypointByHostname('ghost') }),
  details: service({ name: 'details', addresses: ['10.96.0.31'], ports: [[9080, 9080]], waypoint: waypointByHostname('sick-wp') }),
  empty: service({ name: 'empty', addresses: ['10.96.0.32'], ports: [[80, 80]] }),
  gone: service({ name: 'gone', addresses: ['10.96.0.33'], ports: [[80, 80]] }),
  legacy: service({ name: 'legacy', addresses: ['10.96.0.40'], ports: [[80, 0]] }),
  dual: service({ name: 'dual', namespace: 'v6', addresses: ['fd00:96::1'], ports: [[80, 8080]] }),
  headlessWithWaypoint: service({ name: 'headless', addresses: [], ports: [[80, 80]], waypoint: waypointByHostname('waypoint') }),
}

export const mesh = meshView({ workloads: Object.values(w), services: Object.values(s) })
