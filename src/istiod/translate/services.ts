// Kubernetes Service → the Service ztunnel load-balances to (`istio.workload.Service`), and the
// endpoint side of the same Service: which pods it selects and the ports each serves. As in
// Kubernetes and istiod:
//  - hostname `<name>.<namespace>.svc.cluster.local`, addresses = [VIP] (none when headless);
//  - a numeric targetPort goes into the Service; a NAMED one is 0 there (istiod sends 0) and is
//    resolved per pod against its containers' named ports, in the workload's `services` map; a pod
//    without that port name does not serve that port (as the endpoints controller leaves it out);
//  - a Service selects pods of its namespace whose labels include its selector; no selector (or an
//    empty one, as istiod's ambient index reads it) means no endpoints from pods;
//  - a port's app_protocol comes from `appProtocol`, else from the port name's `<protocol>[-suffix]`
//    (Istio's protocol conversion): http → HTTP11, http2 → HTTP2, grpc → GRPC, anything else UNKNOWN;
//  - each waypoint Gateway gets the Service istiod creates for it: `<gateway>` on 15008 (HBONE),
//    selecting the waypoint pod, so that ztunnel can find and reach it.
import type { GatewayAddress, PortMapping, Service as MeshService, ServicePort as MeshServicePort } from '../../mesh/types.js'
import { matchLabels } from '../../authz/authorization-policy.js'
import type { Gateway, Namespace, Service, ServicePort } from '../resources/model.js'
import { objectKey } from '../resources/model.js'
import type { AllocationTable } from './allocation.js'
import { Label, type WaypointInfo, waypointFor } from './enrolment.js'
import { serviceHostname } from './hosts.js'
import type { MessageSink } from './messages.js'
import { TranslationCode } from './messages.js'
import { GATEWAY_NAME_LABEL, type PlacedPod } from './placement.js'
import { protocolOf } from './waypoint-config.js'

/** The Service istiod creates for a waypoint Gateway (not written by users). */
export function waypointService(w: WaypointInfo): Service {
  const g: Gateway = w.gateway
  return {
    kind: 'Service',
    apiVersion: 'v1',
    metadata: {
      name: w.name,
      namespace: w.namespace,
      labels: { [GATEWAY_NAME_LABEL]: w.name, [Label.managed]: 'istio.io-mesh-controller' },
      annotations: {},
    },
    spec: {
      selector: { [GATEWAY_NAME_LABEL]: w.name },
      ports: [{ name: 'mesh', port: w.hbonePort, targetPort: w.hbonePort, protocol: 'TCP' }],
      type: 'ClusterIP',
    },
    source: g.source,
  }
}

export function hasSelector(s: Service): boolean {
  return s.spec.selector !== undefined && Object.keys(s.spec.selector).length > 0
}

export function selects(s: Service, pod: Pick<PlacedPod, 'namespace' | 'labels'>): boolean {
  return hasSelector(s) && s.metadata.namespace === pod.namespace && matchLabels(s.spec.selector, pod.labels)
}

export interface ServiceContext {
  readonly namespaces: ReadonlyMap<string, Namespace>
  readonly waypoints: ReadonlyMap<string, WaypointInfo>
  readonly allocations: AllocationTable
}

/** The mesh Service, or undefined when it has no place in the mesh (ExternalName, no VIP left). */
export function meshService(s: Service, ctx: ServiceContext, sink: MessageSink): MeshService | undefined {
  const { name, namespace } = s.metadata
  if (s.spec.type === 'ExternalName') {
    sink.add({
      code: TranslationCode.unsupportedField,
      severity: 'info',
      object: objectKey(s),
      path: 'spec.type',
      source: s.source,
      reason: 'ExternalName Services have no VIP and no endpoints; ztunnel does not see them',
      hint: '',
    })
    return undefined
  }
  const vip = ctx.allocations.services[`${namespace}/${name}`]
  const headless = s.spec.clusterIP === 'None'
  if (vip === undefined && !headless) return undefined // reported by the allocator
  const waypoint: GatewayAddress | undefined = waypointFor(
    { kind: 'service', namespace, labels: s.metadata.labels, object: objectKey(s), source: s.source },
    ctx.namespaces.get(namespace),
    ctx.waypoints,
    sink,
  )
  return {
    name,
    namespace,
    hostname: serviceHostname(name, namespace),
    addresses: vip === undefined ? [] : [vip],
    ports: s.spec.ports.map((p): MeshServicePort => ({
      servicePort: p.port,
      targetPort: typeof p.targetPort === 'number' ? p.targetPort : 0,
      appProtocol: wireAppProtocol(p),
    })),
    subjectAltNames: [],
    waypoint,
  }
}

/** The domain's app protocol text for a port, as Istio's istiod picks the wire enum. */
export function wireAppProtocol(p: Pick<ServicePort, 'name' | 'appProtocol'>): string {
  switch (protocolOf(p.name, p.appProtocol)) {
    case 'HTTP':
      return 'http'
    case 'HTTP2':
      return 'http2'
    case 'GRPC':
      return 'grpc'
    default:
      return ''
  }
}

/**
 * The `services` map of a pod's Workload: for each Service selecting it, the ports it serves with
 * the target port resolved for this pod. `services` may be every Service or only those of the pod's
 * namespace (what the translation passes): no other Service can select it.
 */
export function servicesOf(pod: PlacedPod, services: readonly Service[], sink: MessageSink): Map<string, PortMapping[]> {
  const out = new Map<string, PortMapping[]>()
  for (const s of services) {
    if (!selects(s, pod)) continue
    const ports: PortMapping[] = []
    s.spec.ports.forEach((p, i) => {
      const target = resolveTargetPort(p, pod)
      if (target !== undefined) ports.push({ servicePort: p.port, targetPort: target })
      else
        sink.add({
          code: TranslationCode.targetPortNotFound,
          severity: 'warning',
          object: objectKey(s),
          path: `spec.ports[${i}].targetPort`,
          source: s.source,
          reason: `targetPort "${String(p.targetPort)}" names no container port of ${pod.object}; those pods do not serve port ${p.port}`,
          hint: `name a container port "${String(p.targetPort)}" in the pod template, or use a port number`,
        })
    })
    out.set(`${s.metadata.namespace}/${serviceHostname(s.metadata.name, s.metadata.namespace)}`, ports)
  }
  return out
}

/** A number as is; a name looked up in the pod's containers (Kubernetes' FindPort). */
export function resolveTargetPort(p: ServicePort, pod: Pick<PlacedPod, 'spec'>): number | undefined {
  if (typeof p.targetPort === 'number') return p.targetPort
  for (const c of pod.spec.containers) {
    const found = c.ports.find((cp) => cp.name === p.targetPort && cp.protocol === p.protocol)
    if (found !== undefined) return found.containerPort
  }
  return undefined
}
