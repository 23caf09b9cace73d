// One SidecarConfig per meshed pod (sidecar mode, src/mesh/sidecar-config.ts): the waypoint
// translation's builders applied from the pod's point of view.
//  - Outbound: every Service (waypoints' own Services excepted: no waypoint runs in sidecar mode),
//    routed as a waypoint would route it (./waypoint-config.ts servedService) but with
//    VirtualServices resolved in the pod's namespace, as Istio's sidecars do; the clusters those
//    routes reach, with their endpoints' identities (the peer sidecar presents the pod identity).
//  - Inbound: the pod itself, the AuthorizationPolicies that apply to it (see appliesTo), its app
//    ports with their protocols, and its PeerAuthentication as ztunnel's converted policies.
// Pure, like the rest of translate/.
import { matchLabels } from '../../authz/authorization-policy.js'
import type { Authorization } from '../../authz/policy.js'
import { policyKey } from '../../authz/policy.js'
import type { SidecarConfig, SidecarInbound } from '../../mesh/sidecar-config.js'
import { WAYPOINT_CONFIG_API_VERSION, type L7AuthorizationPolicy, type PortProtocol } from '../../mesh/waypoint-config.js'
import type { AuthorizationPolicy } from '../resources/model.js'
import { ClusterRegistry, spiffeIdentity, workloadMetadata, type WorkloadEntry } from './clusters.js'
import { DEFAULT_CONNECT_TIMEOUT_MS } from './destination-rules.js'
import { Label, WAYPOINT_CLASS, waypointServiceKey } from './enrolment.js'
import type { MessageSink } from './messages.js'
import { cmp } from './messages.js'
import type { PeerAuthenticationPolicies } from './peer-authentication.js'
import { DEFAULT_RETRIES } from './route-parts.js'
import type { RouteContext } from './virtual-service-routes.js'
import { l7Policy, targetRefs } from './waypoint-authz.js'
import { protocolOf, servedService, type WaypointConfigInput } from './waypoint-config.js'
import { HBONE_PORT } from '../../net/ports.js'

export interface SidecarConfigInput extends WaypointConfigInput {
  readonly authorizationPolicies: readonly AuthorizationPolicy[]
  readonly peerAuthentication: PeerAuthenticationPolicies
  /** Every converted policy (ztunnel's), to look the PeerAuthentication ones up by key. */
  readonly meshPolicies: readonly Authorization[]
}

/** Sidecar configs for every meshed pod with a pod-local address (waypoint pods have none), by namespace/name. */
export function sidecarConfigs(input: SidecarConfigInput, sink: MessageSink): SidecarConfig[] {
  return input.workloads
    .filter((e) => e.workload.tunnelProtocol === 'HBONE' && e.workload.podLocalAddress !== undefined && e.workload.addresses.length > 0)
    .sort((a, b) => cmp(a.workload.namespace, b.workload.namespace) || cmp(a.workload.name, b.workload.name))
    .map((e) => sidecarConfig(e, input, sink))
}

export function sidecarConfig(entry: WorkloadEntry, input: SidecarConfigInput, sink: MessageSink): SidecarConfig {
  const w = entry.workload
  const clusters = new ClusterRegistry(input.mesh, w.namespace)
  const ctx: RouteContext = { mesh: input.mesh, clusters, sink }
  const meshServices = input.services.map((s) => s.mesh)
  const services = input.services
    .filter((s) => s.k8s.metadata.labels[Label.managed] === undefined)
    .sort((a, b) => cmp(a.mesh.hostname, b.mesh.hostname))
    // `name` is only used to attach HTTPRoutes to a waypoint Gateway: the Service's own, if any.
    .map((s) => ({
      ...servedService(s, { namespace: w.namespace, name: waypointServiceKey(s.mesh.waypoint, meshServices)?.name ?? '' }, input, ctx),
      authorization: [],
    }))
  const identity = spiffeIdentity(w.trustDomain, w.namespace, w.serviceAccount)
  const inbound: SidecarInbound = {
    pod: {
      uid: w.uid,
      name: w.name,
      namespace: w.namespace,
      node: w.node,
      podIp: w.addresses[0]!,
      podLocalAddress: w.podLocalAddress!,
      peer: workloadMetadata(w),
    },
    ports: inboundPorts(entry, input),
    peerAuthentication: peerAuthenticationFor(entry, input),
  }
  return {
    apiVersion: WAYPOINT_CONFIG_API_VERSION,
    name: w.name,
    namespace: w.namespace,
    identity,
    trustDomain: w.trustDomain,
    waypointFor: 'none',
    hbonePort: HBONE_PORT,
    services,
    workloads: [{ uid: w.uid, name: w.name, namespace: w.namespace, addresses: w.addresses, identity, hbonePort: 15008 }],
    clusters: clusters.list(),
    authorization: inboundPolicies(entry, input),
    defaults: { retries: DEFAULT_RETRIES, connectTimeoutMs: DEFAULT_CONNECT_TIMEOUT_MS },
    sidecar: inbound,
  }
}

/** The Services this pod is an endpoint of, as `namespace/name`, with their waypoints' keys. */
function backedServices(entry: WorkloadEntry, input: SidecarConfigInput): { services: Set<string>; waypoints: Set<string> } {
  const services = new Set<string>()
  const waypoints = new Set<string>()
  for (const key of entry.workload.services.keys()) {
    const s = input.services.find((v) => `${v.mesh.namespace}/${v.mesh.hostname}` === key)
    if (s === undefined) continue
    services.add(`${s.mesh.namespace}/${s.mesh.name}`)
    const wp = waypointServiceKey(
      s.mesh.waypoint,
      input.services.map((x) => x.mesh),
    )
    if (wp !== undefined) waypoints.add(`${wp.namespace}/${wp.name}`)
  }
  return { services, waypoints }
}

/**
 * Which AuthorizationPolicies a pod's sidecar enforces inbound. Selector and namespace-wide ones
 * as Istio's sidecars do (the policy's namespace is the pod's, or the root namespace); targetRefs
 * ones when they target a Service the pod backs, that Service's waypoint, or every waypoint: in
 * sidecar mode the destination sidecar does the waypoint's L7 work, so the same YAML gives the
 * same answers. All with Istio's L7 semantics (l7Policy).
 */
function inboundPolicies(entry: WorkloadEntry, input: SidecarConfigInput): L7AuthorizationPolicy[] {
  const w = entry.workload
  const { services, waypoints } = backedServices(entry, input)
  const out: L7AuthorizationPolicy[] = []
  for (const ap of input.authorizationPolicies) {
    const ns = ap.metadata.namespace
    const refs = targetRefs(ap)
    let applies: boolean
    if (refs.length > 0) {
      applies = refs.some(
        (r) =>
          (r.namespace ?? ns) === ns &&
          ((r.kind === 'Service' && services.has(`${ns}/${r.name}`)) ||
            (r.kind === 'Gateway' && waypoints.has(`${ns}/${r.name}`)) ||
            (r.kind === 'GatewayClass' && r.name === WAYPOINT_CLASS && ns === input.mesh.rootNamespace && waypoints.size > 0)),
      )
    } else {
      applies =
        (ns === w.namespace || ns === input.mesh.rootNamespace) && matchLabels(ap.spec.selector?.matchLabels ?? undefined, entry.labels)
    }
    if (applies) out.push(l7Policy(ap))
  }
  return out.sort((a, b) => cmp(a.namespace, b.namespace) || cmp(a.name, b.name))
}

function inboundPorts(entry: WorkloadEntry, input: SidecarConfigInput): SidecarInbound['ports'] {
  const ports = new Map<number, PortProtocol>()
  for (const [key, mappings] of entry.workload.services) {
    const s = input.services.find((v) => `${v.mesh.namespace}/${v.mesh.hostname}` === key)
    for (const m of mappings) {
      const k8sPort = s?.k8s.spec.ports.find((p) => p.port === m.servicePort)
      const target = m.targetPort || m.servicePort
      if (!ports.has(target)) ports.set(target, k8sPort === undefined ? 'UNKNOWN' : protocolOf(k8sPort.name, k8sPort.appProtocol))
    }
  }
  return [...ports].sort((a, b) => a[0] - b[0]).map(([port, protocol]) => ({ port, protocol }))
}

function peerAuthenticationFor(entry: WorkloadEntry, input: SidecarConfigInput): Authorization[] {
  const keys = new Set(input.peerAuthentication.policiesFor(entry.workload.namespace, entry.labels))
  return input.meshPolicies.filter((p) => keys.has(policyKey(p)))
}
