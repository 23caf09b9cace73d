// A tiny in-memory MeshView over arrays, and builders for Workload and Service literals, so pure
// planners can be table-tested without src/mesh/state.ts. Test data, not a model of MeshState:
// lookups are linear scans, and nothing is indexed or validated.
import type { Authorization, GatewayAddress, MeshView, PortMapping, Service, Workload } from '../../src/mesh/types.js'
import { serviceKey } from '../../src/mesh/types.js'

export interface MeshLiterals {
  readonly workloads?: readonly Workload[]
  readonly services?: readonly Service[]
  readonly policies?: readonly Authorization[]
}

export function meshView(lit: MeshLiterals): MeshView {
  const workloads = lit.workloads ?? []
  const services = lit.services ?? []
  const policies = lit.policies ?? []
  const key = (p: Authorization) => `${p.namespace}/${p.name}`
  return {
    workloadByUid: (uid) => workloads.find((w) => w.uid === uid),
    workloadByAddress: (ip, network = '') => workloads.find((w) => w.network === network && w.addresses.includes(ip)),
    serviceByAddress: (ip, network = '') => services.find((s) => (s.network ?? '') === network && s.addresses.includes(ip)),
    serviceByKey: (k) => services.find((s) => serviceKey(s) === k),
    servicesByHostname: (h) => services.filter((s) => s.hostname === h),
    endpointsOf: (k) => workloads.filter((w) => w.services.has(k)),
    policiesFor: (w) =>
      policies.filter(
        (p) =>
          p.scope === 'GLOBAL' ||
          (p.scope === 'NAMESPACE' && p.namespace === w.namespace) ||
          (p.scope === 'WORKLOAD_SELECTOR' && w.authorizationPolicies.includes(key(p))),
      ),
    policyByKey: (k) => policies.find((p) => key(p) === k),
    workloads: () => workloads,
    services: () => services,
    policies: () => policies,
  }
}

/** The Service ports a workload serves: `{ 'ns/host': [[80, 9080]] }` → services map. */
export type ServicePorts = Readonly<Record<string, ReadonlyArray<readonly [servicePort: number, targetPort: number]>>>

export interface WorkloadLiteral extends Partial<Omit<Workload, 'services'>> {
  readonly name: string
  readonly addresses: readonly string[]
  readonly services?: ServicePorts
}

/** A healthy HBONE workload in `default` with service account `default`, unless overridden. */
export function workload(lit: WorkloadLiteral): Workload {
  const namespace = lit.namespace ?? 'default'
  const services = new Map<string, readonly PortMapping[]>(
    Object.entries(lit.services ?? {}).map(([k, ports]) => [k, ports.map(([servicePort, targetPort]) => ({ servicePort, targetPort }))]),
  )
  return {
    uid: `cluster1//v1/Pod/${namespace}/${lit.name}`,
    hostname: '',
    network: '',
    tunnelProtocol: 'HBONE',
    trustDomain: 'cluster.local',
    serviceAccount: 'default',
    waypoint: undefined,
    node: 'node1',
    canonicalName: lit.name,
    canonicalRevision: 'latest',
    workloadType: 'POD',
    workloadName: lit.name,
    authorizationPolicies: [],
    status: 'HEALTHY',
    clusterId: 'cluster1',
    capacity: 1,
    ...lit,
    namespace,
    services,
  }
}

export interface ServiceLiteral extends Partial<Omit<Service, 'ports'>> {
  readonly name: string
  readonly addresses: readonly string[]
  /** `[servicePort, targetPort]` pairs. */
  readonly ports?: ReadonlyArray<readonly [number, number]>
}

/** A Service in `default` with hostname `<name>.<ns>.svc.cluster.local`, unless overridden. */
export function service(lit: ServiceLiteral): Service {
  const namespace = lit.namespace ?? 'default'
  return {
    hostname: `${lit.name}.${namespace}.svc.cluster.local`,
    subjectAltNames: [],
    waypoint: undefined,
    ...lit,
    namespace,
    ports: (lit.ports ?? []).map(([servicePort, targetPort]) => ({ servicePort, targetPort, appProtocol: '' })),
  }
}

/** A waypoint reference by Service hostname (what istiod sends), HBONE port 15008. */
export function waypointByHostname(name: string, namespace = 'default'): GatewayAddress {
  return { kind: 'hostname', namespace, hostname: `${name}.${namespace}.svc.cluster.local`, hboneMtlsPort: 15008 }
}

export function waypointByAddress(address: string, hboneMtlsPort = 15008): GatewayAddress {
  return { kind: 'address', network: '', address, hboneMtlsPort }
}
