// A placed pod → the Workload ztunnel serves (`istio.workload.Workload`, docs/istio-reference.md,
// "Workload discovery"), field by field as istiod fills it:
//  - uid `Kubernetes//Pod/<ns>/<name>` (istiod's generatePodUID: cluster id, `//Pod/`, ns, name);
//  - canonical name: `service.istio.io/canonical-name`, `app.kubernetes.io/name`, `app`, else the
//    workload name; revision: `service.istio.io/canonical-revision`, `app.kubernetes.io/version`,
//    `version`, else `latest` (Istio's labels.CanonicalService);
//  - workloadName/Type: the Deployment (DEPLOYMENT), or the pod itself (POD) when bare;
//  - tunnelProtocol HBONE when the pod is in ambient, or is a waypoint (it terminates HBONE);
//  - waypoint: pod label, else namespace label, if the Gateway takes workload traffic;
//  - authorizationPolicies: selector AuthorizationPolicies, then PeerAuthentication conversions.
import type { Workload } from '../../mesh/types.js'
import type { Labels, Namespace, Service } from '../resources/model.js'
import type { AllocationTable } from './allocation.js'
import { inAmbient, type WaypointInfo, waypointFor } from './enrolment.js'
import type { MessageSink } from './messages.js'
import { cmp } from './messages.js'
import type { PeerAuthenticationPolicies } from './peer-authentication.js'
import type { PlacedPod } from './placement.js'
import type { ZtunnelPolicies } from './policies.js'
import { servicesOf } from './services.js'

export const CLUSTER_ID = 'Kubernetes'

export interface WorkloadContext {
  readonly trustDomain: string
  readonly namespaces: ReadonlyMap<string, Namespace>
  readonly waypoints: ReadonlyMap<string, WaypointInfo>
  /**
   * Every Service (the waypoints' included) by namespace, in translation order: a Service selects
   * only pods of its own namespace, so a pod looks at its namespace's list alone (not at every
   * Service of the mesh: pods × Services was most of a 10,000-pod translation).
   */
  readonly servicesByNamespace: ReadonlyMap<string, readonly Service[]>
  readonly policies: ZtunnelPolicies
  readonly peerAuthentication: PeerAuthenticationPolicies
  readonly allocations: AllocationTable
}

export function podUid(namespace: string, name: string): string {
  return `${CLUSTER_ID}//Pod/${namespace}/${name}`
}

export function canonicalName(labels: Labels, workloadName: string): string {
  return labels['service.istio.io/canonical-name'] ?? labels['app.kubernetes.io/name'] ?? labels['app'] ?? workloadName
}

export function canonicalRevision(labels: Labels): string {
  return labels['service.istio.io/canonical-revision'] ?? labels['app.kubernetes.io/version'] ?? labels['version'] ?? 'latest'
}

/** The Workload of a pod, or undefined when it got no address (reported by the allocator). */
export function buildWorkload(pod: PlacedPod, ctx: WorkloadContext, sink: MessageSink): Workload | undefined {
  const alloc = ctx.allocations.pods[`${pod.namespace}/${pod.name}`]
  if (alloc === undefined) return undefined
  const namespace = ctx.namespaces.get(pod.namespace)
  const isWaypoint = pod.owner.kind === 'Waypoint'
  const workloadName = pod.owner.kind === 'Deployment' ? pod.owner.name : pod.name
  const ambient = isWaypoint || inAmbient(pod.labels, namespace)
  const waypoint = isWaypoint
    ? undefined
    : waypointFor(
        { kind: 'workload', namespace: pod.namespace, labels: pod.labels, object: pod.object, source: pod.source },
        namespace,
        ctx.waypoints,
        sink,
      )
  const policies = [
    ...ctx.policies.selectorPoliciesFor(pod.namespace, pod.labels),
    ...ctx.peerAuthentication.policiesFor(pod.namespace, pod.labels),
  ]
  return {
    uid: podUid(pod.namespace, pod.name),
    name: pod.name,
    namespace: pod.namespace,
    addresses: [alloc.ip],
    hostname: '',
    network: '',
    tunnelProtocol: ambient ? 'HBONE' : 'NONE',
    trustDomain: ctx.trustDomain,
    serviceAccount: pod.spec.serviceAccountName || 'default',
    waypoint,
    node: pod.node,
    canonicalName: canonicalName(pod.labels, workloadName),
    canonicalRevision: canonicalRevision(pod.labels),
    workloadType: pod.owner.kind === 'Pod' ? 'POD' : 'DEPLOYMENT',
    workloadName,
    services: servicesOf(pod, ctx.servicesByNamespace.get(pod.namespace) ?? [], sink),
    authorizationPolicies: [...new Set(policies)].sort(cmp),
    status: 'HEALTHY',
    clusterId: CLUSTER_ID,
    capacity: 1,
    // A waypoint binds its pod IP itself (it is not captured), so it gets no pod-local address.
    ...(alloc.podLocal === undefined || isWaypoint ? {} : { podLocalAddress: alloc.podLocal }),
  }
}
