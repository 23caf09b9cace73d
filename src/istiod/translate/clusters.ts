// The upstreams of one waypoint, built on demand as its routes name them: a (Service hostname,
// port, subset) triple becomes an UpstreamCluster with its endpoints resolved (the subset's labels
// applied to the endpoint pods' labels), each endpoint's target port and HBONE identity, and the
// DestinationRule policy for that port and subset. Unknown hosts and subsets still get a cluster,
// with no endpoints: the waypoint then answers 503 for that route, as Envoy does, rather than
// routing somewhere the user did not write.
import { matchLabels } from '../../authz/authorization-policy.js'
import type { Service as MeshService, Workload } from '../../mesh/types.js'
import type { Labels, Service } from '../resources/model.js'
import { objectKey } from '../resources/model.js'
import { findSubset, resolveTrafficPolicy, type DestinationRuleIndex } from './destination-rules.js'
import { HBONE_PORT } from '../../net/ports.js'
import { cmp } from './messages.js'
import type { Endpoint, UpstreamCluster, WorkloadMetadata } from '../../mesh/waypoint-config.js'

/** A translated Service with the Kubernetes object it came from. */
export interface ServiceEntry {
  readonly k8s: Service
  readonly mesh: MeshService
}

/** A translated pod: its Workload and its labels (which subsets select on). */
export interface WorkloadEntry {
  readonly workload: Workload
  readonly labels: Labels
}

/** What the waypoint translation reads of the translated mesh. */
export interface MeshIndex {
  readonly trustDomain: string
  readonly rootNamespace: string
  serviceByHostname(hostname: string): ServiceEntry | undefined
  /** Workloads listing the Service (`namespace/hostname`) in their services map. */
  endpointsOf(namespace: string, hostname: string): readonly WorkloadEntry[]
  readonly destinationRules: DestinationRuleIndex
}

export function clusterName(hostname: string, port: number, subset: string | null): string {
  return `outbound|${port}|${subset ?? ''}|${hostname}`
}

export function spiffeIdentity(trustDomain: string, namespace: string, serviceAccount: string): string {
  return `spiffe://${trustDomain}/ns/${namespace}/sa/${serviceAccount}`
}

export type ClusterProblem = 'unknown-host' | 'unknown-subset' | undefined

export class ClusterRegistry {
  readonly #mesh: MeshIndex
  readonly #clientNamespace: string
  readonly #clusters = new Map<string, UpstreamCluster>()

  constructor(mesh: MeshIndex, clientNamespace: string) {
    this.#mesh = mesh
    this.#clientNamespace = clientNamespace
  }

  /** Registers the cluster for a destination and says what, if anything, is wrong with it. */
  add(hostname: string, port: number, subset: string | null): { name: string; problem: ClusterProblem } {
    const name = clusterName(hostname, port, subset)
    const svc = this.#mesh.serviceByHostname(hostname)
    const dr = svc === undefined ? undefined : this.#mesh.destinationRules.find(hostname, svc.mesh.namespace, this.#clientNamespace)
    const sub = subset === null ? undefined : findSubset(dr, subset)
    const problem: ClusterProblem = svc === undefined ? 'unknown-host' : subset !== null && sub === undefined ? 'unknown-subset' : undefined
    if (!this.#clusters.has(name)) {
      const endpoints = svc === undefined || problem !== undefined ? [] : this.#endpoints(svc, port, sub?.labels ?? {})
      this.#clusters.set(
        name,
        Object.freeze({
          name,
          hostname,
          namespace: svc?.mesh.namespace ?? '',
          port,
          subset,
          subsetLabels: sub?.labels ?? {},
          destinationRule: dr === undefined ? null : objectKey(dr),
          trafficPolicy: resolveTrafficPolicy(dr, port, sub),
          endpoints,
        }),
      )
    }
    return { name, problem }
  }

  /** Every cluster added, sorted by name. */
  list(): UpstreamCluster[] {
    return [...this.#clusters.values()].sort((a, b) => cmp(a.name, b.name))
  }

  #endpoints(svc: ServiceEntry, port: number, subsetLabels: Labels): Endpoint[] {
    const { namespace, hostname } = svc.mesh
    const servicePort = svc.mesh.ports.find((p) => p.servicePort === port)
    const out: Endpoint[] = []
    for (const { workload: w, labels } of this.#mesh.endpointsOf(namespace, hostname)) {
      if (!matchLabels(subsetLabels, labels)) continue
      const mapping = w.services.get(`${namespace}/${hostname}`)?.find((m) => m.servicePort === port)
      // A pod that does not serve this port (named targetPort missing) is not an endpoint of it.
      if (mapping === undefined || servicePort === undefined) continue
      const address = w.addresses[0]
      if (address === undefined) continue
      out.push({
        uid: w.uid,
        name: w.name,
        namespace: w.namespace,
        address,
        targetPort: mapping.targetPort || servicePort.targetPort || port,
        identity: spiffeIdentity(w.trustDomain, w.namespace, w.serviceAccount),
        hbonePort: HBONE_PORT,
        tunnelProtocol: w.tunnelProtocol === 'HBONE' ? 'HBONE' : 'NONE',
        healthy: w.status === 'HEALTHY',
        weight: w.capacity,
        node: w.node,
        metadata: workloadMetadata(w),
      })
    }
    return out.sort((a, b) => cmp(a.uid, b.uid))
  }
}

/** A workload's telemetry names, as endpoints and sidecar configs carry them. */
export function workloadMetadata(w: Workload): WorkloadMetadata {
  return {
    workloadName: w.workloadName || w.name,
    canonicalName: w.canonicalName,
    canonicalRevision: w.canonicalRevision,
    clusterId: w.clusterId,
  }
}
