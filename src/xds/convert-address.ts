// Workload and Service between the domain (src/mesh/types.ts) and `istio.workload` messages.
// Decoding is the edge where istiod's bytes become trusted values: addresses become canonical text,
// Istio's elided defaults are filled in as ztunnel fills them (trust domain cluster.local, service
// account default, cluster id Kubernetes, capacity 1, waypoint port 15008), and anything a domain
// value cannot hold is refused with XDS_RESOURCE_INVALID, so the client NACKs instead of storing it.
// Enum values follow ztunnel (src/state/workload.rs, service.rs): a number Istio's definition lacks
// is refused for tunnel_protocol, status, network_mode, application_tunnel, load_balancing and
// ip_families (ztunnel's try_from), while workload_type falls back to DEPLOYMENT (prost's accessor)
// and app_protocol to UNKNOWN (ztunnel does not read it). Fields we do not keep (native_tunnel,
// application_tunnel, network_mode, load_balancing, extensions other than ours) are checked, not kept.
// Encoding elides what Istio's istiod elides: the default trust domain and capacity 1.
import { AmbientError } from '../errors.js'
import { SpiffeId } from '../identity/spiffe-id.js'
import type {
  GatewayAddress,
  PortMapping,
  Service,
  ServicePort,
  TunnelProtocol,
  Workload,
  WorkloadStatus,
  WorkloadType,
} from '../mesh/types.js'
import { frozenMap } from '../mesh/values.js'
import { XdsErrorCode } from './errors.js'
import { google, istio } from './gen/messages.js'
import { ipFromBytes, ipToBytes } from './ip-bytes.js'
import { checkEnum, enumFromWire, enumFromWireOr, enumToWire } from './wire-enum.js'
import { PORT_MAX } from '../net/address.js'
import { HBONE_PORT } from '../net/ports.js'

type WireWorkload = istio.workload.Workload.$Properties
type WireService = istio.workload.Service.$Properties
type WireGateway = istio.workload.GatewayAddress.$Properties
type WirePort = istio.workload.Port.$Properties

const wl = istio.workload

/** ztunnel's defaults for fields istiod elides. */
export const WIRE_DEFAULTS = {
  trustDomain: 'cluster.local',
  serviceAccount: 'default',
  clusterId: 'Kubernetes',
  capacity: 1,
  hboneMtlsPort: HBONE_PORT,
} as const

/**
 * Emulator extension, in Istio's `Workload.extensions` (field 26): the pod-local address the app
 * binds in socks mode, as a `google.protobuf.BytesValue` of 4 or 16 bytes. Istio's decoders read
 * the slot and ignore a name they do not know.
 */
export const POD_LOCAL_EXTENSION = 'ambient.emulator/pod-local-address'
const BYTES_VALUE_TYPE_URL = 'type.googleapis.com/google.protobuf.BytesValue'

const TUNNEL: Record<TunnelProtocol, number> = wl.TunnelProtocol
const WORKLOAD_TYPE: Record<WorkloadType, number> = wl.WorkloadType
const STATUS: Record<WorkloadStatus, number> = wl.WorkloadStatus

/** The generated enums' names indexed by wire number, for readers that see only the number (./workload-bytes.ts). */
function namesByNumber<T extends string>(numbers: Record<T, number>): readonly (T | undefined)[] {
  const out: (T | undefined)[] = []
  for (const name of Object.keys(numbers) as T[]) out[numbers[name]] = name
  return Object.freeze(out)
}
export const TUNNEL_NAMES = namesByNumber(TUNNEL)
export const WORKLOAD_TYPE_NAMES = namesByNumber(WORKLOAD_TYPE)
export const STATUS_NAMES = namesByNumber(STATUS)

export function workloadToWire(w: Workload): WireWorkload {
  return {
    uid: w.uid,
    name: w.name,
    namespace: w.namespace,
    addresses: w.addresses.map((a) => ipToBytes(a, `workload ${w.uid} address`)),
    hostname: w.hostname,
    network: w.network,
    tunnelProtocol: enumToWire(TUNNEL, w.tunnelProtocol),
    trustDomain: w.trustDomain === WIRE_DEFAULTS.trustDomain ? '' : w.trustDomain,
    serviceAccount: w.serviceAccount,
    waypoint: w.waypoint === undefined ? null : gatewayToWire(w.waypoint, `workload ${w.uid} waypoint`),
    node: w.node,
    canonicalName: w.canonicalName,
    canonicalRevision: w.canonicalRevision,
    workloadType: enumToWire(WORKLOAD_TYPE, w.workloadType),
    workloadName: w.workloadName,
    services: Object.fromEntries([...w.services].map(([key, ports]) => [key, { ports: ports.map(portMappingToWire) }])),
    authorizationPolicies: [...w.authorizationPolicies],
    status: enumToWire(STATUS, w.status),
    clusterId: w.clusterId,
    capacity: w.capacity === WIRE_DEFAULTS.capacity ? null : { value: w.capacity },
    extensions:
      w.podLocalAddress === undefined ? [] : [podLocalExtension(ipToBytes(w.podLocalAddress, `workload ${w.uid} podLocalAddress`))],
  }
}

export function workloadFromWire(m: WireWorkload): Workload {
  const uid = m.uid ?? ''
  const what = `workload ${uid === '' ? '(no uid)' : uid}`
  if (uid === '') throw invalid(`${what}: uid is required (it is the resource name)`)
  const namespace = m.namespace ?? ''
  const trustDomain = nonEmpty(m.trustDomain) ?? WIRE_DEFAULTS.trustDomain
  const serviceAccount = nonEmpty(m.serviceAccount) ?? WIRE_DEFAULTS.serviceAccount
  checkIdentity(trustDomain, namespace, serviceAccount, what)
  const addresses = (m.addresses ?? []).map((b) => ipFromBytes(b, `${what} address`))
  if (new Set(addresses).size !== addresses.length) throw invalid(`${what}: an address is listed twice`)
  const podLocalBytes = podLocalFromExtensions(m.extensions ?? [], what)
  const podLocal = podLocalBytes === undefined ? undefined : ipFromBytes(podLocalBytes, `${what} podLocalAddress`)
  checkEnum(wl.NetworkMode, m.networkMode, `${what} network_mode`)
  if (m.applicationTunnel) {
    checkEnum(wl.ApplicationTunnel.Protocol, m.applicationTunnel.protocol, `${what} application_tunnel.protocol`)
    port(m.applicationTunnel.port, `${what} application_tunnel`)
  }
  const services: [string, readonly PortMapping[]][] = []
  for (const [key, list] of Object.entries(m.services ?? {})) {
    if (!key.includes('/')) throw invalid(`${what}: service key "${key}" is not namespace/hostname`)
    services.push([key, Object.freeze((list.ports ?? []).map((p) => portMappingFromWire(p, `${what} service ${key}`)))])
  }
  const capacity = m.capacity ? (m.capacity.value ?? 0) : WIRE_DEFAULTS.capacity
  // Checked in the order the fields are listed, as before; no `waypoint` key when there is none
  // (MeshState stores values without undefined properties).
  const tunnelProtocol = enumFromWire(TUNNEL, m.tunnelProtocol, `${what} tunnel_protocol`)
  const waypoint = m.waypoint ? gatewayFromWire(m.waypoint, `${what} waypoint`) : undefined
  const value: Omit<Workload, 'waypoint'> & { waypoint?: GatewayAddress; podLocalAddress?: string } = {
    uid,
    name: m.name ?? '',
    namespace,
    addresses: Object.freeze(addresses),
    hostname: m.hostname ?? '',
    network: m.network ?? '',
    tunnelProtocol,
    trustDomain,
    serviceAccount,
    node: m.node ?? '',
    canonicalName: m.canonicalName ?? '',
    canonicalRevision: m.canonicalRevision ?? '',
    workloadType: enumFromWireOr(WORKLOAD_TYPE, m.workloadType, 'DEPLOYMENT'),
    workloadName: m.workloadName ?? '',
    services: frozenMap(services),
    authorizationPolicies: Object.freeze([...(m.authorizationPolicies ?? [])]),
    status: enumFromWire(STATUS, m.status, `${what} status`),
    clusterId: nonEmpty(m.clusterId) ?? WIRE_DEFAULTS.clusterId,
    capacity,
  }
  if (waypoint !== undefined) value.waypoint = waypoint
  if (podLocal !== undefined) value.podLocalAddress = podLocal
  return Object.freeze(value) as Workload
}

/**
 * Identities already checked, as `trustDomain/namespace/serviceAccount`: valid parts hold no '/',
 * so a key names one triple. A mesh has far fewer identities than workloads; bounded all the same.
 */
const checkedIdentities = new Set<string>()
const CHECKED_IDENTITIES_MAX = 4096

/** The identity must be expressible as a SPIFFE ID: ztunnel builds one for every workload. */
export function checkIdentity(trustDomain: string, namespace: string, serviceAccount: string, what: string): void {
  const key = `${trustDomain}/${namespace}/${serviceAccount}`
  if (checkedIdentities.has(key)) return
  try {
    SpiffeId.of({ trustDomain, namespace, serviceAccount })
  } catch (err) {
    throw invalid(`${what}: identity parts are not usable in a SPIFFE ID`, err)
  }
  if (checkedIdentities.size >= CHECKED_IDENTITIES_MAX) checkedIdentities.clear()
  checkedIdentities.add(key)
}

/**
 * A Service's VIPs all get the Service's network: the domain holds one network per Service (see
 * src/mesh/types.ts). Decoding takes the first VIP's network; VIPs on different networks are
 * refused rather than silently merged.
 */
export function serviceToWire(s: Service): WireService {
  const network = s.network ?? ''
  const key = `${s.namespace}/${s.hostname}`
  return {
    name: s.name,
    namespace: s.namespace,
    hostname: s.hostname,
    addresses: s.addresses.map((a) => ({ network, address: ipToBytes(a, `service ${key} address`) })),
    ports: s.ports.map(servicePortToWire),
    subjectAltNames: [...s.subjectAltNames],
    waypoint: s.waypoint === undefined ? null : gatewayToWire(s.waypoint, `service ${key} waypoint`),
  }
}

export function serviceFromWire(m: WireService): Service {
  const namespace = m.namespace ?? ''
  const hostname = m.hostname ?? ''
  const what = `service ${namespace}/${hostname}`
  if (namespace === '' || hostname === '') throw invalid(`${what}: namespace and hostname are required (they are the resource name)`)
  const vips = m.addresses ?? []
  const networks = new Set(vips.map((a) => a.network ?? ''))
  if (networks.size > 1) throw invalid(`${what}: VIPs on several networks (${[...networks].join(', ')}) are not supported`)
  const network = vips[0]?.network ?? ''
  const addresses = vips.map((a) => ipFromBytes(a.address ?? new Uint8Array(), `${what} address`))
  checkEnum(wl.IPFamilies, m.ipFamilies, `${what} ip_families`)
  if (m.loadBalancing) checkLoadBalancing(m.loadBalancing, `${what} load_balancing`)
  return Object.freeze({
    name: m.name ?? '',
    namespace,
    hostname,
    addresses: Object.freeze(addresses),
    ports: Object.freeze((m.ports ?? []).map((p) => servicePortFromWire(p, what))),
    subjectAltNames: Object.freeze([...(m.subjectAltNames ?? [])]),
    waypoint: m.waypoint ? gatewayFromWire(m.waypoint, `${what} waypoint`) : undefined,
    ...(network === '' ? {} : { network }),
  })
}

export function gatewayToWire(g: GatewayAddress, what: string): WireGateway {
  switch (g.kind) {
    case 'hostname':
      return { hostname: { namespace: g.namespace, hostname: g.hostname }, hboneMtlsPort: g.hboneMtlsPort }
    case 'address':
      return { address: { network: g.network, address: ipToBytes(g.address, what) }, hboneMtlsPort: g.hboneMtlsPort }
  }
}

export function gatewayFromWire(m: WireGateway, what: string): GatewayAddress {
  const hboneMtlsPort = port(m.hboneMtlsPort, what) || WIRE_DEFAULTS.hboneMtlsPort
  if (m.hostname) {
    const namespace = m.hostname.namespace ?? ''
    const hostname = m.hostname.hostname ?? ''
    if (hostname === '') throw invalid(`${what}: hostname is empty`)
    return Object.freeze({ kind: 'hostname', namespace, hostname, hboneMtlsPort })
  }
  if (m.address) {
    return Object.freeze({
      kind: 'address',
      network: m.address.network ?? '',
      address: ipFromBytes(m.address.address ?? new Uint8Array(), what),
      hboneMtlsPort,
    })
  }
  throw invalid(`${what}: neither hostname nor address is set`)
}

/** As ztunnel reads LoadBalancing: every scope must be a real one, mode and health policy known. */
function checkLoadBalancing(lb: istio.workload.LoadBalancing.$Properties, what: string): void {
  for (const scope of lb.routingPreference ?? []) {
    if (scope === wl.LoadBalancing.Scope.UNSPECIFIED_SCOPE) throw invalid(`${what}: routing preference UNSPECIFIED_SCOPE`)
    checkEnum(wl.LoadBalancing.Scope, scope, `${what} routing_preference`)
  }
  checkEnum(wl.LoadBalancing.Mode, lb.mode, `${what} mode`)
  checkEnum(wl.LoadBalancing.HealthPolicy, lb.healthPolicy, `${what} health_policy`)
}

function podLocalExtension(address: Uint8Array): istio.workload.Extension.$Properties {
  return {
    name: POD_LOCAL_EXTENSION,
    config: { type_url: BYTES_VALUE_TYPE_URL, value: google.protobuf.BytesValue.encode({ value: address }).finish() },
  }
}

/** The pod-local address bytes from our extension; other extensions are Istio's or someone else's: ignored. */
function podLocalFromExtensions(extensions: readonly istio.workload.Extension.$Properties[], what: string): Uint8Array | undefined {
  const ours = extensions.find((e) => e.name === POD_LOCAL_EXTENSION)
  if (ours === undefined) return undefined
  const config = ours.config
  if (!config || config.type_url !== BYTES_VALUE_TYPE_URL)
    throw invalid(`${what}: extension ${POD_LOCAL_EXTENSION} is not a ${BYTES_VALUE_TYPE_URL}`)
  let value: Uint8Array | null | undefined
  try {
    value = google.protobuf.BytesValue.decode(config.value ?? new Uint8Array()).value
  } catch (err) {
    throw invalid(`${what}: extension ${POD_LOCAL_EXTENSION} does not decode`, err)
  }
  return value && value.length > 0 ? value : undefined
}

function portMappingToWire(p: PortMapping): WirePort {
  return { servicePort: p.servicePort, targetPort: p.targetPort }
}

function portMappingFromWire(p: WirePort, what: string): PortMapping {
  return Object.freeze({ servicePort: port(p.servicePort, what), targetPort: port(p.targetPort, what) })
}

/**
 * Istio's Port.app_protocol is an enum (UNKNOWN, HTTP11, HTTP2, GRPC); the domain keeps the
 * Kubernetes-style string. Strings outside these four travel as UNKNOWN and come back as '', and
 * so does a number Istio's definition lacks (ztunnel does not read the field; a newer value must
 * not make us refuse the Service).
 */
const APP_PROTOCOL_TO_WIRE: Record<string, number> = {
  http: wl.AppProtocol.HTTP11,
  'http/1.1': wl.AppProtocol.HTTP11,
  http11: wl.AppProtocol.HTTP11,
  http2: wl.AppProtocol.HTTP2,
  h2c: wl.AppProtocol.HTTP2,
  'kubernetes.io/h2c': wl.AppProtocol.HTTP2,
  grpc: wl.AppProtocol.GRPC,
}
const APP_PROTOCOL_FROM_WIRE: Record<number, string> = {
  [wl.AppProtocol.UNKNOWN]: '',
  [wl.AppProtocol.HTTP11]: 'http',
  [wl.AppProtocol.HTTP2]: 'http2',
  [wl.AppProtocol.GRPC]: 'grpc',
}

function servicePortToWire(p: ServicePort): WirePort {
  return {
    servicePort: p.servicePort,
    targetPort: p.targetPort,
    appProtocol: APP_PROTOCOL_TO_WIRE[p.appProtocol.toLowerCase()] ?? wl.AppProtocol.UNKNOWN,
  }
}

function servicePortFromWire(p: WirePort, what: string): ServicePort {
  const appProtocol = APP_PROTOCOL_FROM_WIRE[p.appProtocol ?? 0] ?? ''
  return Object.freeze({ servicePort: port(p.servicePort, what), targetPort: port(p.targetPort, what), appProtocol })
}

function port(n: number | null | undefined, what: string): number {
  const v = n ?? 0
  if (v > PORT_MAX) throw invalid(`${what}: port ${v} is out of range`)
  return v
}

function nonEmpty(s: string | null | undefined): string | undefined {
  return s === null || s === undefined || s === '' ? undefined : s
}

function invalid(message: string, cause?: unknown): AmbientError {
  return new AmbientError(XdsErrorCode.resourceInvalid, message, { side: 'upstream', cause })
}
