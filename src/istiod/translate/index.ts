// istiod's translation: the validated config (ConfigSnapshot) → what ztunnels need (MeshSnapshot:
// workloads, services, authorizations) and what each waypoint needs (WaypointConfig), plus the
// address allocations to feed into the next call and the findings for users. Pure and
// deterministic: same input, same output (deep-equal, and byte-equal as JSON); no I/O, no clock.
// Order of work, each step reading only what earlier ones produced:
//   waypoints → pods placed on nodes → addresses → policies → Services → Workloads → waypoint configs.
import { policyKey } from '../../authz/policy.js'
import type { MeshSnapshot } from '../../mesh/change.js'
import { DEFAULT_ROOT_NAMESPACE } from '../../authz/authorization-policy.js'
import type { ConfigSnapshot, Namespace, Service } from '../resources/model.js'
import { objectKey } from '../resources/model.js'
import { allocate, EMPTY_ALLOCATIONS, type AddressPlan, type AllocationTable } from './allocation.js'
import type { MeshIndex, ServiceEntry, WorkloadEntry } from './clusters.js'
import { indexDestinationRules } from './destination-rules.js'
import { Label, indexWaypoints, withServiceAddresses } from './enrolment.js'
import { hostMatches, resolveHost, serviceHostname } from './hosts.js'
import { checkHttpRouteParents } from './http-route-routes.js'
import { MessageSink, TranslationCode, cmp, type TranslationMessage } from './messages.js'
import { peerAuthenticationPolicies } from './peer-authentication.js'
import { placePods } from './placement.js'
import { ztunnelPolicies } from './policies.js'
import { meshService, waypointService } from './services.js'
import { appliesToMesh, checkVirtualServiceHosts } from './virtual-service-routes.js'
import { waypointPolicies } from './waypoint-authz.js'
import { sidecarConfigs } from './sidecar-config.js'
import type { SidecarConfig } from '../../mesh/sidecar-config.js'
import { waypointConfig } from './waypoint-config.js'
import type { WaypointConfig } from '../../mesh/waypoint-config.js'
import { buildWorkload } from './workloads.js'

export type { AddressPlan, AllocationTable } from './allocation.js'
export { DEFAULT_ADDRESS_PLAN } from './allocation.js'
export type { TranslationMessage } from './messages.js'
export { TranslationCode } from './messages.js'
export type { WaypointConfig } from '../../mesh/waypoint-config.js'
export { WAYPOINT_CONFIG_API_VERSION } from '../../mesh/waypoint-config.js'

export interface TranslateOptions {
  /** How many nodes the cluster has: node-1..node-N. */
  readonly nodes: number
  /** Default `cluster.local`. */
  readonly trustDomain?: string
  /** Default `istio-system`. */
  readonly rootNamespace?: string
  /** The table the previous translation returned; addresses in it are kept. Default: empty. */
  readonly allocations?: AllocationTable
  /** The address plan's prefixes; default architecture.md's (127.244 / 127.245 / 127.96). */
  readonly addressPlan?: AddressPlan
  /** Also build one SidecarConfig per meshed pod (sidecar mode). Default false. */
  readonly sidecars?: boolean
  /**
   * A real cluster (istiod on the Kubernetes API): its node names, in a stable order. Pods keep
   * their own nodes and addresses, and no pod is synthesised (see placement.ts).
   */
  readonly nodeNames?: readonly string[]
}

export interface Translation {
  readonly mesh: MeshSnapshot
  /** One per waypoint Gateway, sorted by namespace/name. */
  readonly waypoints: readonly WaypointConfig[]
  /** One per meshed pod, sorted by namespace/name, when `options.sidecars` asked for them. */
  readonly sidecars?: readonly SidecarConfig[]
  readonly allocations: AllocationTable
  readonly messages: readonly TranslationMessage[]
}

export function translate(snapshot: ConfigSnapshot, options: TranslateOptions): Translation {
  if (!Number.isInteger(options.nodes) || options.nodes < 1 || options.nodes > 255) {
    throw new RangeError(`nodes must be an integer from 1 to 255 (the address plan's 127.244.k.j), got ${options.nodes}`)
  }
  const trustDomain = options.trustDomain ?? 'cluster.local'
  const rootNamespace = options.rootNamespace ?? DEFAULT_ROOT_NAMESPACE
  const sink = new MessageSink()

  const hostnameWaypoints = indexWaypoints(snapshot.Gateway, sink)
  const namespaces = new Map<string, Namespace>(snapshot.Namespace.map((n) => [n.metadata.name, n]))
  const userServices = new Set(snapshot.Service.map((s) => `${s.metadata.namespace}/${s.metadata.name}`))
  // istiod creates each waypoint's Service; a user-written one of the same name is left as written.
  const k8sServices: Service[] = [
    ...snapshot.Service,
    ...[...hostnameWaypoints.values()].filter((w) => !userServices.has(`${w.namespace}/${w.name}`)).map(waypointService),
  ].sort((a, b) => cmp(a.metadata.namespace, b.metadata.namespace) || cmp(a.metadata.name, b.metadata.name))

  const pods = placePods(
    {
      pods: snapshot.Pod,
      deployments: snapshot.Deployment,
      waypoints: [...hostnameWaypoints.values()].map((w) => w.gateway),
      nodes: options.nodes,
      ...(options.nodeNames === undefined ? {} : { nodeNames: options.nodeNames }),
    },
    sink,
  )
  const allocations = allocate(
    options.allocations ?? EMPTY_ALLOCATIONS,
    pods.map((p) => ({ key: `${p.namespace}/${p.name}`, node: p.nodeIndex, podIP: p.podIP, object: p.object, source: p.source })),
    k8sServices.map((s) => ({
      key: `${s.metadata.namespace}/${s.metadata.name}`,
      clusterIP: s.spec.clusterIP,
      object: objectKey(s),
      source: s.source,
    })),
    sink,
    options.addressPlan,
  )
  // Workloads and Services reference a waypoint by its Service's VIP, as Istio's istiod does.
  const waypoints = withServiceAddresses(hostnameWaypoints, (key) => allocations.services[key])

  const policies = ztunnelPolicies(snapshot.AuthorizationPolicy, rootNamespace, sink)
  const peerAuthentication = peerAuthenticationPolicies(snapshot.PeerAuthentication, rootNamespace, sink)

  const services: ServiceEntry[] = []
  for (const k8s of k8sServices) {
    const mesh = meshService(k8s, { namespaces, waypoints, allocations }, sink)
    if (mesh !== undefined) services.push({ k8s, mesh: Object.freeze(mesh) })
  }
  const servicesByNamespace = new Map<string, Service[]>()
  for (const s of k8sServices) {
    const list = servicesByNamespace.get(s.metadata.namespace)
    if (list === undefined) servicesByNamespace.set(s.metadata.namespace, [s])
    else list.push(s)
  }
  const workloads: WorkloadEntry[] = []
  for (const pod of pods) {
    const workload = buildWorkload(
      pod,
      { trustDomain, namespaces, waypoints, servicesByNamespace, policies, peerAuthentication, allocations },
      sink,
    )
    if (workload !== undefined) workloads.push({ workload, labels: pod.labels })
  }

  const byHostname = new Map(services.map((s) => [s.mesh.hostname, s]))
  const endpoints = new Map<string, WorkloadEntry[]>()
  for (const e of workloads) {
    for (const key of e.workload.services.keys()) endpoints.set(key, [...(endpoints.get(key) ?? []), e])
  }
  const mesh: MeshIndex = {
    trustDomain,
    rootNamespace,
    serviceByHostname: (h) => byHostname.get(h),
    endpointsOf: (ns, h) => endpoints.get(`${ns}/${h}`) ?? [],
    destinationRules: indexDestinationRules(snapshot.DestinationRule, rootNamespace),
  }
  const l7 = waypointPolicies(
    snapshot.AuthorizationPolicy,
    waypoints,
    (ns, name) => {
      const s = byHostname.get(serviceHostname(name, ns))
      return s === undefined ? 'unknown' : s.mesh.waypoint === undefined ? 'no-waypoint' : 'served'
    },
    rootNamespace,
    sink,
  )
  const waypointConfigs = [...waypoints.values()]
    .sort((a, b) => cmp(a.namespace, b.namespace) || cmp(a.name, b.name))
    .map((w) => waypointConfig(w, { snapshot, mesh, services, workloads, policies: l7 }, sink))

  checkVirtualServiceHosts(snapshot.VirtualService, new Set(byHostname.keys()), sink)
  checkHttpRouteParents(snapshot.HTTPRoute, (ns, name) => byHostname.has(serviceHostname(name, ns)), { sink })
  reportRoutesWithoutWaypoint(snapshot, services, sink)

  const authorizations = [...policies.authorizations, ...peerAuthentication.authorizations].sort((a, b) => cmp(policyKey(a), policyKey(b)))
  const sidecars =
    options.sidecars === true
      ? sidecarConfigs(
          {
            snapshot,
            mesh,
            services,
            workloads,
            policies: l7,
            authorizationPolicies: snapshot.AuthorizationPolicy,
            peerAuthentication,
            meshPolicies: authorizations,
          },
          sink,
        )
      : undefined
  return {
    ...(sidecars === undefined ? {} : { sidecars }),
    mesh: {
      workloads: workloads.map((e) => e.workload).sort((a, b) => cmp(a.uid, b.uid)),
      services: services.map((s) => s.mesh),
      policies: authorizations,
    },
    waypoints: waypointConfigs,
    allocations,
    messages: sink.list(),
  }
}

/**
 * In ambient mode only a waypoint applies VirtualServices and HTTPRoutes: one for a Service without
 * a waypoint changes nothing, which is the first surprise of everyone coming from sidecars.
 */
function reportRoutesWithoutWaypoint(snapshot: ConfigSnapshot, services: readonly ServiceEntry[], sink: MessageSink): void {
  for (const vs of snapshot.VirtualService.filter(appliesToMesh)) {
    if (vs.spec.http.length === 0) continue
    const hosts = vs.spec.hosts.map((h) => resolveHost(h, vs.metadata.namespace))
    const targets = services.filter((s) => hosts.some((h) => hostMatches(h, s.mesh.hostname)))
    // Waypoints' own Services never use a waypoint; a wildcard host reaching them is no finding.
    const bare = targets.filter((s) => s.mesh.waypoint === undefined && s.k8s.metadata.labels[Label.managed] === undefined)
    if (bare.length === 0) continue
    sink.add({
      code: TranslationCode.routeWithoutWaypoint,
      severity: 'info',
      object: objectKey(vs),
      path: 'spec.hosts',
      source: vs.source,
      reason:
        `${bare.map((s) => s.mesh.hostname).join(', ')} ${bare.length === 1 ? 'uses' : 'use'} no waypoint, ` +
        `so in ambient mode nothing applies these routes to ${bare.length === 1 ? 'it' : 'them'}`,
      hint: 'deploy a waypoint and label the Service or namespace istio.io/use-waypoint=<waypoint>',
    })
  }
}
