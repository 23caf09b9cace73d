// One SidecarConfig per meshed pod (sidecar mode, src/mesh/sidecar-config.ts): the waypoint
// translation's builders applied from the pod's point of view.
//  - Outbound: every Service (waypoints' own Services excepted: no waypoint runs in sidecar mode),
//    routed as a waypoint would route it (./waypoint-config.ts servedService) but with
//    VirtualServices resolved in the pod's namespace, as Istio's sidecars do; the clusters those
//    routes reach, with their endpoints' identities (the peer sidecar presents the pod identity).
//  - Inbound: the pod itself, the AuthorizationPolicies that apply to it (see appliesTo), its app
//    ports with their protocols, and its PeerAuthentication as ztunnel's converted policies.
// Pure, like the rest of translate/.
//
// At scale (issue 14): the outbound half depends only on the pod's namespace, so it is built once
// per namespace (./sidecar-outbound.ts) and its frozen Services and clusters are shared by every
// config of that namespace; the inbound half reads indexes built once per translation
// (./sidecar-index.ts), so a pod costs what its own config holds, not the mesh × its policies.
// Given the previous translation's step, a value equal to the previous one keeps the previous
// object, so istiod's providers see unchanged configs by identity and re-encode none of them.
import type { Authorization } from '../../authz/policy.js'
import type { SidecarConfig, SidecarInbound } from '../../mesh/sidecar-config.js'
import { WAYPOINT_CONFIG_API_VERSION, type L7AuthorizationPolicy, type PortProtocol } from '../../mesh/waypoint-config.js'
import { sameValue } from '../encoded-resources.js'
import type { AuthorizationPolicy } from '../resources/model.js'
import { spiffeIdentity, workloadMetadata, type WorkloadEntry } from './clusters.js'
import { DEFAULT_CONNECT_TIMEOUT_MS } from './destination-rules.js'
import type { MessageSink } from './messages.js'
import { cmp } from './messages.js'
import type { PeerAuthenticationPolicies } from './peer-authentication.js'
import { DEFAULT_RETRIES } from './route-parts.js'
import { sidecarIndex, type SidecarIndex } from './sidecar-index.js'
import { sidecarOutbound, type SidecarOutbound } from './sidecar-outbound.js'
import { protocolOf, type WaypointConfigInput } from './waypoint-config.js'
import { HBONE_PORT } from '../../net/ports.js'

export interface SidecarConfigInput extends WaypointConfigInput {
  readonly authorizationPolicies: readonly AuthorizationPolicy[]
  readonly peerAuthentication: PeerAuthenticationPolicies
  /** Every converted policy (ztunnel's), to look the PeerAuthentication ones up by key. */
  readonly meshPolicies: readonly Authorization[]
}

/** What one translation's sidecar configs keep for the next: the values to keep the identity of. */
export interface SidecarStep {
  /** The outbound half by client namespace. */
  readonly outbound: ReadonlyMap<string, SidecarOutbound>
  /** The configs by `namespace/name`. */
  readonly configs: ReadonlyMap<string, SidecarConfig>
}

/** Sidecar configs for every meshed pod with a pod-local address (waypoint pods have none), by namespace/name. */
export function sidecarConfigs(
  input: SidecarConfigInput,
  sink: MessageSink,
  previous?: SidecarStep,
): { configs: SidecarConfig[]; step: SidecarStep } {
  const index = sidecarIndex(input)
  const outbound = new Map<string, SidecarOutbound>()
  const byName = new Map<string, SidecarConfig>()
  const configs = input.workloads
    .filter((e) => e.workload.tunnelProtocol === 'HBONE' && e.workload.podLocalAddress !== undefined && e.workload.addresses.length > 0)
    .sort((a, b) => cmp(a.workload.namespace, b.workload.namespace) || cmp(a.workload.name, b.workload.name))
    .map((e) => {
      const ns = e.workload.namespace
      let out = outbound.get(ns)
      if (out === undefined) {
        out = keep(sidecarOutbound(ns, input, index, sink), previous?.outbound.get(ns))
        outbound.set(ns, out)
      }
      const key = `${ns}/${e.workload.name}`
      const config = sidecarConfig(e, input, index, out)
      const before = previous?.configs.get(key)
      // Only a config with the very same outbound half can be equal: no walk over the mesh for the rest.
      const kept =
        before !== undefined && before.services === config.services && before.clusters === config.clusters ? keep(config, before) : config
      byName.set(key, kept)
      return kept
    })
  return { configs, step: { outbound, configs: byName } }
}

/** The previous value when equal (same bytes once encoded), else the new one. */
function keep<T>(value: T, previous: T | undefined): T {
  return previous !== undefined && sameValue(previous, value) ? previous : value
}

function sidecarConfig(entry: WorkloadEntry, input: SidecarConfigInput, index: SidecarIndex, outbound: SidecarOutbound): SidecarConfig {
  const w = entry.workload
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
    ports: inboundPorts(entry, index),
    peerAuthentication: index.peerAuthenticationFor(entry),
  }
  return {
    apiVersion: WAYPOINT_CONFIG_API_VERSION,
    name: w.name,
    namespace: w.namespace,
    identity,
    trustDomain: w.trustDomain,
    waypointFor: 'none',
    hbonePort: HBONE_PORT,
    services: outbound.services,
    workloads: [{ uid: w.uid, name: w.name, namespace: w.namespace, addresses: w.addresses, identity, hbonePort: 15008 }],
    clusters: outbound.clusters,
    authorization: inboundPolicies(entry, input, index),
    defaults: { retries: DEFAULT_RETRIES, connectTimeoutMs: DEFAULT_CONNECT_TIMEOUT_MS },
    sidecar: inbound,
  }
}

/**
 * Which AuthorizationPolicies a pod's sidecar enforces inbound. Selector and namespace-wide ones
 * as Istio's sidecars do (the policy's namespace is the pod's, or the root namespace); targetRefs
 * ones when they target a Service the pod backs, that Service's waypoint, or every waypoint: in
 * sidecar mode the destination sidecar does the waypoint's L7 work, so the same YAML gives the
 * same answers. All with Istio's L7 semantics (l7Policy). The candidates come from the index (by
 * namespace and by target); they keep the policies' input order before the sort, as a walk over
 * every policy would.
 */
function inboundPolicies(entry: WorkloadEntry, input: SidecarConfigInput, index: SidecarIndex): L7AuthorizationPolicy[] {
  const backed = index.backedServices(entry)
  const out: L7AuthorizationPolicy[] = []
  for (const i of index.candidatePolicies(entry.workload.namespace, backed)) {
    if (index.applies(input.authorizationPolicies[i]!, entry, backed)) out.push(index.l7(i))
  }
  return out.sort((a, b) => cmp(a.namespace, b.namespace) || cmp(a.name, b.name))
}

function inboundPorts(entry: WorkloadEntry, index: SidecarIndex): SidecarInbound['ports'] {
  const ports = new Map<number, PortProtocol>()
  for (const [key, mappings] of entry.workload.services) {
    const s = index.serviceByKey(key)
    for (const m of mappings) {
      const k8sPort = s?.k8s.spec.ports.find((p) => p.port === m.servicePort)
      const target = m.targetPort || m.servicePort
      if (!ports.has(target)) ports.set(target, k8sPort === undefined ? 'UNKNOWN' : protocolOf(k8sPort.name, k8sPort.appProtocol))
    }
  }
  return [...ports].sort((a, b) => a[0] - b[0]).map(([port, protocol]) => ({ port, protocol }))
}
