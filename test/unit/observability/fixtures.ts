// Peers used across the observability tests.
import { SpiffeId } from '../../../src/identity/spiffe-id.js'
import type { FlowPeer } from '../../../src/observability/traffic-labels.js'

export const sleep: FlowPeer = {
  addr: '10.0.0.1:40000',
  workload: 'sleep',
  namespace: 'default',
  identity: SpiffeId.of({ namespace: 'default', serviceAccount: 'sleep' }),
  canonicalService: 'sleep',
  canonicalRevision: 'v1',
  app: 'sleep',
  version: 'v1',
  cluster: 'Kubernetes',
}

export const httpbin: FlowPeer = {
  addr: '10.0.0.2:8080',
  workload: 'httpbin',
  namespace: 'apps',
  identity: SpiffeId.of({ namespace: 'apps', serviceAccount: 'httpbin' }),
  canonicalService: 'httpbin',
  canonicalRevision: 'v2',
  app: 'httpbin',
  version: 'v2',
  cluster: 'Kubernetes',
  service: { name: 'httpbin', namespace: 'apps', hostname: 'httpbin.apps.svc.cluster.local' },
}

/** A peer we know nothing about but its address (plaintext client, passthrough destination). */
export const stranger: FlowPeer = { addr: '192.168.1.9:5555' }
