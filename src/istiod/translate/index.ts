// istiod's translation: the validated config (ConfigSnapshot) → what ztunnels need (MeshSnapshot:
// workloads, services, authorizations) and what each waypoint needs (WaypointConfig), plus the
// address allocations to feed into the next call and the findings for users. Pure and
// deterministic: same input, same output (deep-equal, and byte-equal as JSON); no I/O, no clock.
// Order of work, each step reading only what earlier ones produced:
//   waypoints → pods placed on nodes → addresses → policies → Services → Workloads → waypoint configs.
import { policyKey } from '../../authz/policy.js'
import type { MeshSnapshot } from '../../mesh/change.js'
import { DEFAULT_ROOT_NAMESPACE } from '../../authz/authorization-policy.js'
import type { AuthorizationPolicy, ConfigSnapshot, Namespace, Service } from '../resources/model.js'
import { objectKey } from '../resources/model.js'
import { allocate, EMPTY_ALLOCATIONS, type AddressPlan, type AllocationTable } from './allocation.js'
import type { MeshIndex, ServiceEntry, WorkloadEntry } from './clusters.js'
import { indexDestinationRules, type DestinationRuleIndex } from './destination-rules.js'
import { Label, indexWaypoints, withServiceAddresses } from './enrolment.js'
import { hostMatches, resolveHost, serviceHostname } from './hosts.js'
import { checkHttpRouteParents } from './http-route-routes.js'
import { MessageSink, TranslationCode, cmp, type TranslationMessage } from './messages.js'
import { peerAuthenticationPolicies } from './peer-authentication.js'
import { placePods } from './placement.js'
import { ztunnelPolicies } from './policies.js'
import { meshService, waypointService } from './services.js'
import { appliesToMesh, checkVirtualServiceHosts } from './virtual-service-routes.js'
import { targetRefs, waypointPolicies } from './waypoint-authz.js'
import { sidecarConfigs } from './sidecar-config.js'
import type { SidecarConfig } from '../../mesh/sidecar-config.js'
import { waypointConfig } from './waypoint-config.js'
import type { WaypointConfig } from '../../mesh/waypoint-config.js'
import { buildWorkload } from './workloads.js'
import { sameValue } from '../encoded-resources.js'
import type { WaypointInfo } from './enrolment.js'
import {
  optionsKey,
  routingInputs,
  sameItems,
  sameLists,
  topologyInputs,
  type RoutingInputs,
  type Topology,
  type TranslateMemo,
  type WaypointStep,
  type WorkloadStep,
} from './memo.js'

export type { AddressPlan, AllocationTable } from './allocation.js'
export { DEFAULT_ADDRESS_PLAN } from './allocation.js'
export type { TranslationMessage } from './messages.js'
export type { TranslateMemo } from './memo.js'
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
  return translateIncremental(snapshot, options, undefined).translation
}

export interface IncrementalTranslation {
  readonly translation: Translation
  /** Pass it to the next call: steps whose inputs are the same objects are not redone (./memo.ts). */
  readonly memo: TranslateMemo
}

/**
 * `translate`, reusing what `previous` (the memo of an earlier call) computed from the same objects:
 * the result is the same as translate's, byte for byte. Feed it a snapshot from internSnapshot
 * (../resources/intern.ts) so that unchanged objects keep their identity.
 */
export function translateIncremental(
  snapshot: ConfigSnapshot,
  options: TranslateOptions,
  previous: TranslateMemo | undefined,
): IncrementalTranslation {
  if (!Number.isInteger(options.nodes) || options.nodes < 1 || options.nodes > 255) {
    throw new RangeError(`nodes must be an integer from 1 to 255 (the address plan's 127.244.k.j), got ${options.nodes}`)
  }
  const trustDomain = options.trustDomain ?? 'cluster.local'
  const rootNamespace = options.rootNamespace ?? DEFAULT_ROOT_NAMESPACE
  const key = optionsKey({ ...options, trustDomain, rootNamespace })
  const memo = previous?.optionsKey === key ? previous : undefined
  const sink = new MessageSink()

  const inputs = topologyInputs(snapshot)
  const allocationsIn = options.allocations ?? EMPTY_ALLOCATIONS
  // The same objects and the same previous table give the same topology; so does the table that
  // topology made: allocation keeps every address it gave (allocation.ts), so it is its own result.
  const topologyReused =
    memo !== undefined &&
    sameLists(inputs, memo.topologyInputs) &&
    (allocationsIn === memo.topology.allocationsIn || allocationsIn === memo.topology.allocations)
  const topology = topologyReused ? memo.topology : buildTopology(snapshot, options, allocationsIn)
  sink.addAll(topology.messages)
  const { namespaces, pods, allocations, waypoints, services, servicesByNamespace } = topology

  const policiesReused = memo !== undefined && sameItems(snapshot.AuthorizationPolicy, memo.policiesInput)
  const policyMark = sink.mark()
  const policies = policiesReused
    ? memo.policies
    : ztunnelPolicies(snapshot.AuthorizationPolicy, rootNamespace, sink, memo?.policies.conversions)
  if (policiesReused) sink.addAll(memo.policyMessages)
  const policyMessages = policiesReused ? memo.policyMessages : sink.since(policyMark)

  const paReused = memo !== undefined && sameItems(snapshot.PeerAuthentication, memo.peerAuthenticationInput)
  const paMark = sink.mark()
  const peerAuthentication = paReused
    ? memo.peerAuthentication
    : peerAuthenticationPolicies(snapshot.PeerAuthentication, rootNamespace, sink)
  if (paReused) sink.addAll(memo.peerAuthenticationMessages)
  const peerAuthenticationMessages = paReused ? memo.peerAuthenticationMessages : sink.since(paMark)

  // A pod's Workload reads policies only through its namespace's and the root namespace's selector policies.
  const selectorsSame = new Map<string, boolean>()
  const sameSelectors = (ns: string): boolean => {
    if (policiesReused) return true
    let same = selectorsSame.get(ns)
    if (same === undefined) {
      same = sameItems(policies.selectorsIn(ns), memo?.policies.selectorsIn(ns) ?? [])
      selectorsSame.set(ns, same)
    }
    return same
  }
  const workloadsReusable = topologyReused && paReused
  const perPod: WorkloadStep['perPod'][number][] = []
  const workloads: WorkloadEntry[] = []
  pods.forEach((pod, i) => {
    const before = workloadsReusable ? memo.workloads.perPod[i] : undefined
    let step = before
    if (step === undefined || !sameSelectors(pod.namespace) || (pod.namespace !== rootNamespace && !sameSelectors(rootNamespace))) {
      const mark = sink.mark()
      const workload = buildWorkload(
        pod,
        { trustDomain, namespaces, waypoints, servicesByNamespace, policies, peerAuthentication, allocations },
        sink,
      )
      // A Workload equal to the one before keeps its identity: the providers then skip it at once.
      const entry =
        workload === undefined
          ? undefined
          : before?.entry !== undefined && sameValue(before.entry.workload, workload)
            ? before.entry
            : { workload, labels: pod.labels }
      step = { entry, messages: sink.since(mark) }
    } else sink.addAll(step.messages)
    perPod.push(step)
    if (step.entry !== undefined) workloads.push(step.entry)
  })
  // The served order (by uid) is the topology's: the same pods give the same permutation.
  const uidOrder = topologyReused
    ? memo.workloads.uidOrder
    : workloads
        .map((e, i) => ({ uid: e.workload.uid, i }))
        .sort((a, b) => cmp(a.uid, b.uid))
        .map((e) => e.i)

  const byHostname = topology.byHostname
  // Endpoints and DestinationRules are built when a waypoint or sidecar config reads them: a change
  // that redoes neither (a selector policy's, say) does not index 10,000 workloads for nothing.
  let endpoints: Map<string, WorkloadEntry[]> | undefined
  let destinationRules: DestinationRuleIndex | undefined
  const mesh: MeshIndex = {
    trustDomain,
    rootNamespace,
    serviceByHostname: (h) => byHostname.get(h),
    endpointsOf: (ns, h) => (endpoints ??= indexEndpoints(workloads)).get(`${ns}/${h}`) ?? [],
    get destinationRules() {
      return (destinationRules ??= indexDestinationRules(snapshot.DestinationRule, rootNamespace))
    },
  }
  // Only policies with targetRefs are a waypoint's (./waypoint-authz.ts).
  const refPolicies = snapshot.AuthorizationPolicy.filter((ap) => targetRefs(ap).length > 0)
  const routing = routingInputs(snapshot)
  const waypointStep: WaypointStep =
    topologyReused && sameItems(refPolicies, memo.waypoints.refPolicies) && sameLists(routing, memo.waypoints.routing)
      ? memo.waypoints
      : waypointStage(snapshot, { refPolicies, routing, waypoints, services, workloads, mesh, byHostname, rootNamespace })
  sink.addAll(waypointStep.messages)
  const l7 = waypointStep.l7

  checkVirtualServiceHosts(snapshot.VirtualService, new Set(byHostname.keys()), sink)
  checkHttpRouteParents(snapshot.HTTPRoute, (ns, name) => byHostname.has(serviceHostname(name, ns)), { sink })
  reportRoutesWithoutWaypoint(snapshot, services, sink)

  const authorizations =
    policiesReused && paReused
      ? memo.authorizations
      : [...policies.authorizations, ...peerAuthentication.authorizations].sort((a, b) => cmp(policyKey(a), policyKey(b)))
  const sidecarStep =
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
          memo?.sidecars,
        )
      : undefined
  const sidecars = sidecarStep?.configs
  const translation: Translation = {
    ...(sidecars === undefined ? {} : { sidecars }),
    mesh: {
      workloads: uidOrder.map((i) => workloads[i]!.workload),
      services: services.map((s) => s.mesh),
      policies: authorizations,
    },
    waypoints: waypointStep.configs,
    allocations,
    messages: sink.list(),
  }
  return {
    translation,
    memo: {
      optionsKey: key,
      topologyInputs: inputs,
      topology,
      policiesInput: snapshot.AuthorizationPolicy,
      policies,
      policyMessages,
      peerAuthenticationInput: snapshot.PeerAuthentication,
      peerAuthentication,
      peerAuthenticationMessages,
      workloads: { perPod, uidOrder },
      waypoints: waypointStep,
      authorizations,
      ...(sidecarStep === undefined ? {} : { sidecars: sidecarStep.step }),
    },
  }
}

/** Workloads by the Services (`namespace/hostname`) their `services` map lists. */
function indexEndpoints(workloads: readonly WorkloadEntry[]): Map<string, WorkloadEntry[]> {
  const endpoints = new Map<string, WorkloadEntry[]>()
  for (const e of workloads) {
    for (const key of e.workload.services.keys()) {
      const list = endpoints.get(key)
      if (list === undefined) endpoints.set(key, [e])
      else list.push(e)
    }
  }
  return endpoints
}

/** Waypoints → pods placed on nodes → addresses → Services; the messages of those steps with them. */
function buildTopology(snapshot: ConfigSnapshot, options: TranslateOptions, allocationsIn: AllocationTable): Topology {
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
    allocationsIn,
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
  return {
    hostnameWaypoints,
    byHostname: new Map(services.map((s) => [s.mesh.hostname, s])),
    namespaces,
    k8sServices,
    pods,
    allocationsIn,
    allocations,
    waypoints,
    services,
    servicesByNamespace,
    messages: sink.since(0),
  }
}

interface WaypointStageInput {
  readonly refPolicies: readonly AuthorizationPolicy[]
  readonly routing: RoutingInputs
  readonly waypoints: ReadonlyMap<string, WaypointInfo>
  readonly services: readonly ServiceEntry[]
  readonly workloads: readonly WorkloadEntry[]
  readonly mesh: MeshIndex
  readonly byHostname: ReadonlyMap<string, ServiceEntry>
  readonly rootNamespace: string
}

/** The waypoints' L7 policies and one WaypointConfig per waypoint, sorted by namespace/name. */
function waypointStage(snapshot: ConfigSnapshot, input: WaypointStageInput): WaypointStep {
  const sink = new MessageSink()
  const { waypoints, byHostname, mesh, services, workloads } = input
  const l7 = waypointPolicies(
    input.refPolicies,
    waypoints,
    (ns, name) => {
      const s = byHostname.get(serviceHostname(name, ns))
      return s === undefined ? 'unknown' : s.mesh.waypoint === undefined ? 'no-waypoint' : 'served'
    },
    input.rootNamespace,
    sink,
  )
  const configs = [...waypoints.values()]
    .sort((a, b) => cmp(a.namespace, b.namespace) || cmp(a.name, b.name))
    .map((w) => waypointConfig(w, { snapshot, mesh, services, workloads, policies: l7 }, sink))
  return { refPolicies: input.refPolicies, routing: input.routing, l7, configs, messages: sink.since(0) }
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
