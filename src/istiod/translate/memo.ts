// What one translation keeps for the next (`translateIncremental`, ./index.ts): each step's output
// with the inputs it was computed from, so a step whose inputs are the same objects is not redone.
// It is an explicit value passed in and returned, never module state: translate stays a function of
// its arguments, and the memo only decides how much of the answer is recomputed — the result is
// deep-equal (and byte-equal as JSON) to a translation without it (test/unit/istiod/translate-incremental.test.ts).
//
// "The same" is identity: objects are immutable, and internSnapshot (../resources/intern.ts) gives an
// unchanged object (and an unchanged kind's list) its previous identity. Steps and what they read:
//  - topology (waypoints, placement, addresses, Services): Namespace, Pod, Deployment, Service,
//    Gateway, the options, and the previous allocations;
//  - ztunnel policies: each AuthorizationPolicy object on its own (./policies.ts);
//  - PeerAuthentication conversions: the PeerAuthentication list;
//  - a pod's Workload: the topology, the PeerAuthentications, and the selector policies of its
//    namespace and of the root namespace (no other policy can select it);
//  - waypoint policies and configs: the topology, the AuthorizationPolicies with targetRefs, and the
//    VirtualService, DestinationRule, HTTPRoute and Telemetry lists;
//  - sidecar configs (sidecar mode): always rebuilt, but a config or a namespace's outbound half
//    equal to the previous one keeps the previous object (./sidecar-config.ts).
import type { Authorization } from '../../authz/policy.js'
import type { WaypointConfig } from '../../mesh/waypoint-config.js'
import type { AuthorizationPolicy, ConfigSnapshot, Namespace, Service } from '../resources/model.js'
import type { AllocationTable } from './allocation.js'
import type { ServiceEntry, WorkloadEntry } from './clusters.js'
import type { WaypointInfo } from './enrolment.js'
import type { TranslationMessage } from './messages.js'
import type { PeerAuthenticationPolicies } from './peer-authentication.js'
import type { PlacedPod } from './placement.js'
import type { SidecarStep } from './sidecar-config.js'
import type { ZtunnelPolicies } from './policies.js'
import type { WaypointPolicies } from './waypoint-authz.js'

/** Waypoints, pods on nodes, addresses and Services: everything that does not read policies or routes. */
export interface Topology {
  readonly hostnameWaypoints: ReadonlyMap<string, WaypointInfo>
  /** The translated Services by hostname. */
  readonly byHostname: ReadonlyMap<string, ServiceEntry>
  readonly namespaces: ReadonlyMap<string, Namespace>
  readonly k8sServices: readonly Service[]
  readonly pods: readonly PlacedPod[]
  /** The previous allocations this was computed from (the input), and the result. */
  readonly allocationsIn: AllocationTable
  readonly allocations: AllocationTable
  readonly waypoints: ReadonlyMap<string, WaypointInfo>
  readonly services: readonly ServiceEntry[]
  readonly servicesByNamespace: ReadonlyMap<string, readonly Service[]>
  readonly messages: readonly TranslationMessage[]
}

export interface WorkloadStep {
  /** Per pod (the topology's order): its entry (undefined when it got no address) and its findings. */
  readonly perPod: readonly { readonly entry: WorkloadEntry | undefined; readonly messages: readonly TranslationMessage[] }[]
  /** Indexes into the built workloads, in uid order (the served order). */
  readonly uidOrder: readonly number[]
}

export interface WaypointStep {
  readonly refPolicies: readonly AuthorizationPolicy[]
  readonly routing: RoutingInputs
  readonly l7: WaypointPolicies
  readonly configs: readonly WaypointConfig[]
  readonly messages: readonly TranslationMessage[]
}

export interface RoutingInputs {
  readonly VirtualService: ConfigSnapshot['VirtualService']
  readonly DestinationRule: ConfigSnapshot['DestinationRule']
  readonly HTTPRoute: ConfigSnapshot['HTTPRoute']
  readonly Telemetry: ConfigSnapshot['Telemetry']
}

export interface TranslateMemo {
  /** The options that change what a step computes (not `allocations`: the topology keeps its own). */
  readonly optionsKey: string
  /** The topology's inputs. */
  readonly topologyInputs: TopologyInputs
  readonly topology: Topology
  readonly policiesInput: readonly AuthorizationPolicy[]
  readonly policies: ZtunnelPolicies
  readonly policyMessages: readonly TranslationMessage[]
  readonly peerAuthenticationInput: ConfigSnapshot['PeerAuthentication']
  readonly peerAuthentication: PeerAuthenticationPolicies
  readonly peerAuthenticationMessages: readonly TranslationMessage[]
  readonly workloads: WorkloadStep
  readonly waypoints: WaypointStep
  readonly authorizations: readonly Authorization[]
  /** Sidecar mode: the configs and their per-namespace outbound halves, whose identity an equal value keeps. */
  readonly sidecars?: SidecarStep
}

export interface TopologyInputs {
  readonly Namespace: ConfigSnapshot['Namespace']
  readonly Pod: ConfigSnapshot['Pod']
  readonly Deployment: ConfigSnapshot['Deployment']
  readonly Service: ConfigSnapshot['Service']
  readonly Gateway: ConfigSnapshot['Gateway']
}

export function topologyInputs(snapshot: ConfigSnapshot): TopologyInputs {
  const { Namespace, Pod, Deployment, Service, Gateway } = snapshot
  return { Namespace, Pod, Deployment, Service, Gateway }
}

export function routingInputs(snapshot: ConfigSnapshot): RoutingInputs {
  const { VirtualService, DestinationRule, HTTPRoute, Telemetry } = snapshot
  return { VirtualService, DestinationRule, HTTPRoute, Telemetry }
}

/** Every list the same object, or item for item the same objects. */
export function sameLists<T extends object>(a: T, b: T): boolean {
  for (const key of Object.keys(a) as (keyof T)[]) {
    if (!sameItems(a[key] as readonly unknown[], b[key] as readonly unknown[])) return false
  }
  return true
}

export function sameItems(a: readonly unknown[], b: readonly unknown[]): boolean {
  return a === b || (a.length === b.length && a.every((x, i) => x === b[i]))
}

/** The options that change a translation's steps, as one comparable string. */
export function optionsKey(o: {
  readonly nodes: number
  readonly trustDomain: string
  readonly rootNamespace: string
  readonly addressPlan?: unknown
  readonly nodeNames?: readonly string[] | undefined
}): string {
  return JSON.stringify([o.nodes, o.trustDomain, o.rootNamespace, o.addressPlan ?? null, o.nodeNames ?? null])
}
