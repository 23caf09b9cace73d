// The mesh model: Workload and Service as Istio's workload discovery (`istio.workload`) defines them,
// in trusted domain form (parsed addresses, SpiffeId-ready fields, frozen). Wire and YAML shapes
// stay in src/mesh/local-config.ts and src/xds; nothing raw passes this wall.
import type { Authorization } from '../authz/policy.js'

export type { Authorization }

/** LEGACY_ISTIO_MTLS: a sidecar workload; ztunnel sends to it as to NONE (it does not originate Istio's legacy mTLS). */
export type TunnelProtocol = 'NONE' | 'HBONE' | 'LEGACY_ISTIO_MTLS'
export type WorkloadType = 'DEPLOYMENT' | 'CRONJOB' | 'POD' | 'JOB'
export type WorkloadStatus = 'HEALTHY' | 'UNHEALTHY'

/** Where a waypoint is: a Service by namespace/hostname, or an address. Port defaults to 15008. */
export type GatewayAddress =
  | { readonly kind: 'hostname'; readonly namespace: string; readonly hostname: string; readonly hboneMtlsPort: number }
  | { readonly kind: 'address'; readonly network: string; readonly address: string; readonly hboneMtlsPort: number }

/** service port → target port (0 = use the Service's target port). */
export interface PortMapping {
  readonly servicePort: number
  readonly targetPort: number
}

export interface Workload {
  readonly uid: string
  readonly name: string
  readonly namespace: string
  /** Canonical IP text (IPv4 dotted, IPv6 compressed lowercase). */
  readonly addresses: readonly string[]
  readonly hostname: string
  readonly network: string
  readonly tunnelProtocol: TunnelProtocol
  readonly trustDomain: string
  readonly serviceAccount: string
  readonly waypoint: GatewayAddress | undefined
  readonly node: string
  readonly canonicalName: string
  readonly canonicalRevision: string
  readonly workloadType: WorkloadType
  readonly workloadName: string
  /** `namespace/hostname` → the ports this workload serves for that Service. */
  readonly services: ReadonlyMap<string, readonly PortMapping[]>
  /** `namespace/name` of the WORKLOAD_SELECTOR policies selecting this workload. */
  readonly authorizationPolicies: readonly string[]
  readonly status: WorkloadStatus
  readonly clusterId: string
  /** Load-balancing weight (Istio's `capacity`, default 1). */
  readonly capacity: number
  /**
   * Emulator extension (not in Istio's message): the pod-local address the app binds in socks mode
   * (architecture.md, addressing). Absent for workloads not on this machine.
   */
  readonly podLocalAddress?: string
}

export interface ServicePort {
  readonly servicePort: number
  readonly targetPort: number
  readonly appProtocol: string
}

export interface Service {
  readonly name: string
  readonly namespace: string
  readonly hostname: string
  /** VIPs, canonical IP text. */
  readonly addresses: readonly string[]
  readonly ports: readonly ServicePort[]
  readonly subjectAltNames: readonly string[]
  readonly waypoint: GatewayAddress | undefined
  /**
   * The network its VIPs live on (absent = the default network ''). Compatible extension: Istio's
   * Service carries a network per VIP; one per Service is what every Kubernetes Service has.
   */
  readonly network?: string
}

/** `namespace/hostname`, the resource name Istio uses for a Service. */
export function serviceKey(s: Pick<Service, 'namespace' | 'hostname'>): string {
  return `${s.namespace}/${s.hostname}`
}

/**
 * Read-only view of mesh state: what planners, authorization and admin read. Implemented by
 * src/mesh/state.ts; tests may build one from literals. Addresses are canonical IP text.
 */
export interface MeshView {
  workloadByUid(uid: string): Workload | undefined
  /** The workload owning this IP (network '' is the default network). */
  workloadByAddress(ip: string, network?: string): Workload | undefined
  /** The Service owning this VIP. */
  serviceByAddress(ip: string, network?: string): Service | undefined
  /** By `namespace/hostname`. */
  serviceByKey(key: string): Service | undefined
  /** Services with this exact hostname (any namespace). */
  servicesByHostname(hostname: string): readonly Service[]
  /** Workloads that list this Service (`namespace/hostname`) in their `services` map, any health. */
  endpointsOf(serviceKey: string): readonly Workload[]
  /** Policies that apply to a workload: GLOBAL, NAMESPACE of its namespace, and its selector policies. */
  policiesFor(workload: Workload): readonly Authorization[]
  policyByKey(key: string): Authorization | undefined
  workloads(): readonly Workload[]
  services(): readonly Service[]
  policies(): readonly Authorization[]
}
