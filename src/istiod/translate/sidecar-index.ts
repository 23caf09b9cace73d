// What every sidecar config of one translation looks up (./sidecar-config.ts), indexed once: the
// Services by `namespace/hostname` with their waypoints, the AuthorizationPolicies by the namespace
// that selects with them and by what their targetRefs name, each policy's L7 form (shared by every
// config it applies to), and the converted policies by key. A pod's lookups then cost what its own
// config holds. The predicate that decides (applies) is the one a walk over every policy would use;
// the index only narrows the candidates, in the policies' input order.
import { matchLabels } from '../../authz/authorization-policy.js'
import type { Authorization } from '../../authz/policy.js'
import { policyKey } from '../../authz/policy.js'
import type { L7AuthorizationPolicy } from '../../mesh/waypoint-config.js'
import type { AuthorizationPolicy } from '../resources/model.js'
import type { ServiceEntry, WorkloadEntry } from './clusters.js'
import { Label, WAYPOINT_CLASS, waypointServiceKey } from './enrolment.js'
import { cmp } from './messages.js'
import type { PeerAuthenticationPolicies } from './peer-authentication.js'
import { l7Policy, targetRefs } from './waypoint-authz.js'

export interface SidecarIndexInput {
  readonly services: readonly ServiceEntry[]
  readonly authorizationPolicies: readonly AuthorizationPolicy[]
  readonly peerAuthentication: PeerAuthenticationPolicies
  readonly meshPolicies: readonly Authorization[]
  readonly mesh: { readonly rootNamespace: string }
}

/** The Services a pod is an endpoint of (`namespace/name`) and their waypoints' keys. */
export interface BackedServices {
  readonly services: ReadonlySet<string>
  readonly waypoints: ReadonlySet<string>
}

export interface SidecarIndex {
  /** Every Service a sidecar routes to (not a waypoint's own), sorted by hostname. */
  readonly outboundServices: readonly ServiceEntry[]
  /** The Service's waypoint, as waypointServiceKey names it. */
  waypointOf(s: ServiceEntry): { namespace: string; name: string } | undefined
  /** The first Service whose `namespace/hostname` is `key` (a workload's services map key). */
  serviceByKey(key: string): ServiceEntry | undefined
  backedServices(entry: WorkloadEntry): BackedServices
  /** Indexes into the AuthorizationPolicies that may apply to a pod, ascending. */
  candidatePolicies(namespace: string, backed: BackedServices): number[]
  /** Does the policy apply to the pod's inbound traffic? */
  applies(ap: AuthorizationPolicy, entry: WorkloadEntry, backed: BackedServices): boolean
  /** The policy at this index in its L7 form, built once. */
  l7(index: number): L7AuthorizationPolicy
  /** The pod's PeerAuthentication as converted policies, in the converted policies' order. */
  peerAuthenticationFor(entry: WorkloadEntry): Authorization[]
}

export function sidecarIndex(input: SidecarIndexInput): SidecarIndex {
  const root = input.mesh.rootNamespace
  const meshServices = input.services.map((s) => s.mesh)
  const waypoints = new Map<ServiceEntry, { namespace: string; name: string } | undefined>()
  const byKey = new Map<string, ServiceEntry>()
  for (const s of input.services) {
    waypoints.set(s, waypointServiceKey(s.mesh.waypoint, meshServices))
    const key = `${s.mesh.namespace}/${s.mesh.hostname}`
    if (!byKey.has(key)) byKey.set(key, s)
  }
  const outboundServices = input.services
    .filter((s) => s.k8s.metadata.labels[Label.managed] === undefined)
    .sort((a, b) => cmp(a.mesh.hostname, b.mesh.hostname))

  // Selector and namespace-wide policies by their namespace; targetRefs ones by what they name.
  const byNamespace = new Map<string, number[]>()
  const byTarget = new Map<string, number[]>()
  const everyWaypoint: number[] = []
  const push = (map: Map<string, number[]>, key: string, i: number): void => {
    const list = map.get(key)
    if (list === undefined) map.set(key, [i])
    else if (list[list.length - 1] !== i) list.push(i)
  }
  input.authorizationPolicies.forEach((ap, i) => {
    const ns = ap.metadata.namespace
    const refs = targetRefs(ap)
    if (refs.length === 0) return push(byNamespace, ns, i)
    for (const r of refs) {
      if (r.kind === 'Service') push(byTarget, `Service ${ns}/${r.name}`, i)
      else if (r.kind === 'Gateway') push(byTarget, `Gateway ${ns}/${r.name}`, i)
      else if (r.kind === 'GatewayClass' && everyWaypoint[everyWaypoint.length - 1] !== i) everyWaypoint.push(i)
    }
  })
  const l7 = new Map<number, L7AuthorizationPolicy>()

  const converted = new Map<string, number[]>()
  input.meshPolicies.forEach((p, i) => push(converted, policyKey(p), i))

  return {
    outboundServices,
    waypointOf: (s) => waypoints.get(s),
    serviceByKey: (key) => byKey.get(key),
    backedServices(entry) {
      const services = new Set<string>()
      const wps = new Set<string>()
      for (const key of entry.workload.services.keys()) {
        const s = byKey.get(key)
        if (s === undefined) continue
        services.add(`${s.mesh.namespace}/${s.mesh.name}`)
        const wp = waypoints.get(s)
        if (wp !== undefined) wps.add(`${wp.namespace}/${wp.name}`)
      }
      return { services, waypoints: wps }
    },
    candidatePolicies(namespace, backed) {
      const found = new Set<number>([...(byNamespace.get(namespace) ?? []), ...(namespace === root ? [] : (byNamespace.get(root) ?? []))])
      for (const s of backed.services) for (const i of byTarget.get(`Service ${s}`) ?? []) found.add(i)
      for (const w of backed.waypoints) for (const i of byTarget.get(`Gateway ${w}`) ?? []) found.add(i)
      if (backed.waypoints.size > 0) for (const i of everyWaypoint) found.add(i)
      return [...found].sort((a, b) => a - b)
    },
    applies(ap, entry, backed) {
      const ns = ap.metadata.namespace
      const refs = targetRefs(ap)
      if (refs.length === 0) {
        return (ns === entry.workload.namespace || ns === root) && matchLabels(ap.spec.selector?.matchLabels ?? undefined, entry.labels)
      }
      return refs.some(
        (r) =>
          (r.namespace ?? ns) === ns &&
          ((r.kind === 'Service' && backed.services.has(`${ns}/${r.name}`)) ||
            (r.kind === 'Gateway' && backed.waypoints.has(`${ns}/${r.name}`)) ||
            (r.kind === 'GatewayClass' && r.name === WAYPOINT_CLASS && ns === root && backed.waypoints.size > 0)),
      )
    },
    l7(i) {
      let p = l7.get(i)
      if (p === undefined) {
        p = Object.freeze(l7Policy(input.authorizationPolicies[i]!))
        l7.set(i, p)
      }
      return p
    },
    peerAuthenticationFor(entry) {
      const keys = input.peerAuthentication.policiesFor(entry.workload.namespace, entry.labels)
      const found = new Set<number>()
      for (const k of keys) for (const i of converted.get(k) ?? []) found.add(i)
      return [...found].sort((a, b) => a - b).map((i) => input.meshPolicies[i]!)
    },
  }
}
