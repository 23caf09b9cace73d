// A SidecarConfig document for tests of one sidecar's parts: a pod in `default` with no Services,
// clusters or policies, overridable per test (the pod's fields and app ports).
import { emptyConfigDoc } from './waypoint-config.js'
import type { SidecarInbound } from '../../src/mesh/sidecar-config.js'

export interface SidecarDocOptions {
  readonly name?: string
  readonly identity?: string
  readonly pod?: Partial<Record<keyof SidecarInbound['pod'], unknown>>
  readonly ports?: SidecarInbound['ports']
}

export function sidecarConfigDoc(o: SidecarDocOptions = {}): Record<string, unknown> {
  const name = o.name ?? 'productpage-v1-abc'
  return {
    ...emptyConfigDoc(name, o.identity ?? 'spiffe://cluster.local/ns/default/sa/bookinfo-productpage', 'none'),
    sidecar: {
      pod: {
        uid: `Kubernetes//Pod/default/${name}`,
        name,
        namespace: 'default',
        node: 'node-1',
        podIp: '127.10.0.5',
        podLocalAddress: '127.10.1.5',
        ...o.pod,
      },
      ports: o.ports ?? [],
      peerAuthentication: [],
    },
  }
}
