// Workloads that exercise every field of istio.workload.Workload the emulator keeps: the round-trip
// table of convert.test.ts and the direct reader's comparison in workload-bytes.test.ts.
import type { Workload } from '../../../src/mesh/types.js'
import { waypointByAddress, waypointByHostname, workload } from '../../helpers/mesh-view.js'

export const SVC = 'default/web.default.svc.cluster.local'

export const WORKLOAD_FIXTURES: Array<[string, Workload]> = [
  ['minimal IPv4 pod', workload({ name: 'a', addresses: ['10.0.0.1'] })],
  ['dual stack, IPv6 canonical', workload({ name: 'b', addresses: ['10.0.0.2', 'fd00::2'] })],
  ['no address, hostname only', workload({ name: 'c', addresses: [], hostname: 'vm.example.com' })],
  [
    'services map, waypoint by hostname, every field set',
    workload({
      name: 'd',
      namespace: 'shop',
      addresses: ['10.0.0.4'],
      network: 'net1',
      tunnelProtocol: 'NONE',
      trustDomain: 'example.org',
      serviceAccount: 'checkout',
      waypoint: waypointByHostname('wp', 'shop'),
      node: 'node2',
      canonicalName: 'checkout',
      canonicalRevision: 'v2',
      workloadType: 'DEPLOYMENT',
      workloadName: 'checkout',
      status: 'UNHEALTHY',
      clusterId: 'c2',
      capacity: 5,
      authorizationPolicies: ['shop/allow-web', 'shop/deny-all'],
      services: {
        [SVC]: [
          [80, 8080],
          [443, 0],
        ],
        'shop/db.shop.svc.cluster.local': [[5432, 5432]],
      },
    }),
  ],
  [
    'waypoint by address (IPv6), other workload types',
    workload({ name: 'e', addresses: ['10.0.0.5'], waypoint: waypointByAddress('fd00::9', 15009), workloadType: 'CRONJOB' }),
  ],
  ['job', workload({ name: 'f', addresses: ['10.0.0.6'], workloadType: 'JOB' })],
  ['capacity 0 survives (it is not the default)', workload({ name: 'g', addresses: ['10.0.0.7'], capacity: 0 })],
  ['pod-local address extension', workload({ name: 'h', addresses: ['127.244.1.2'], podLocalAddress: '127.245.1.2' })],
]
