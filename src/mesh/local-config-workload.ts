// One `workloads:` entry of ztunnel's local config → a Workload. Field names are the camelCase
// JSON of `istio.workload.Workload`; ztunnel's own local-config spellings (`workloadIps`,
// `protocol: TCP|HBONE`, from its examples/localhost.yaml) are accepted too, so that file loads
// unchanged. Defaults are Istio's (proto zero values, plus ztunnel's: trust domain cluster.local,
// service account default, cluster id Kubernetes, capacity 1) with two deliberate exceptions,
// documented where they are applied: tunnelProtocol and uid.
import { SpiffeId } from '../identity/spiffe-id.js'
import { PORT_MAX } from '../net/address.js'
import { canonicalIp } from '../net/ip.js'
import { HBONE_PORT } from '../net/ports.js'
import { Fields, type Issues, LocalConfigErrorCode, type Path, describe, isMapping, readInteger } from './local-config-fields.js'
import type { GatewayAddress, PortMapping, TunnelProtocol, Workload, WorkloadStatus, WorkloadType } from './types.js'

const WORKLOAD_FIELDS = [
  'uid',
  'name',
  'namespace',
  'addresses',
  'workloadIps',
  'hostname',
  'network',
  'tunnelProtocol',
  'protocol',
  'trustDomain',
  'serviceAccount',
  'waypoint',
  'node',
  'canonicalName',
  'canonicalRevision',
  'workloadType',
  'workloadName',
  'services',
  'authorizationPolicies',
  'status',
  'clusterId',
  'capacity',
  'podLocalAddress',
] as const

export function decodeWorkload(value: unknown, path: Path, issues: Issues): Workload | undefined {
  const entry = Fields.openNamed(value, path, issues, WORKLOAD_FIELDS)
  if (entry === undefined) return undefined
  const { f, mark, name, namespace } = entry
  const clusterId = f.string('clusterId', { fallback: 'Kubernetes' })
  const trustDomain = f.string('trustDomain', { fallback: 'cluster.local' })
  const serviceAccount = f.string('serviceAccount', { fallback: 'default' })
  checkIdentity(f, trustDomain, namespace, serviceAccount)
  const addresses = decodeAddresses(f)
  const hostname = f.string('hostname')
  if (addresses.length === 0 && hostname === '' && !f.has('addresses') && !f.has('workloadIps')) {
    issues.add(LocalConfigErrorCode.missingField, f.at('addresses'), 'a workload needs "addresses" (or a "hostname")')
  }
  const podLocalAddress = decodePodLocalAddress(f, addresses)
  const workload: Workload = {
    // Istio's uid is `<cluster>//<group/version>/<Kind>/<namespace>/<name>`; deriving it for a Pod
    // saves writing it in a hand-made file, and duplicates are still caught by name.
    uid: f.string('uid', { fallback: `${clusterId}//v1/Pod/${namespace}/${name}` }),
    name,
    namespace,
    addresses,
    hostname,
    network: f.string('network'),
    tunnelProtocol: decodeTunnelProtocol(f),
    trustDomain,
    serviceAccount,
    waypoint: f.has('waypoint') ? decodeGatewayAddress(f.raw('waypoint'), f.at('waypoint'), issues) : undefined,
    node: f.string('node'),
    canonicalName: f.string('canonicalName'),
    canonicalRevision: f.string('canonicalRevision'),
    workloadType:
      f.enumeration<WorkloadType>('workloadType', ['DEPLOYMENT', 'CRONJOB', 'POD', 'JOB'], { fallback: 'DEPLOYMENT' }) ?? 'DEPLOYMENT',
    workloadName: f.string('workloadName'),
    services: decodeWorkloadServices(f),
    authorizationPolicies: decodePolicyNames(f),
    status: f.enumeration<WorkloadStatus>('status', ['HEALTHY', 'UNHEALTHY'], { fallback: 'HEALTHY' }) ?? 'HEALTHY',
    clusterId,
    capacity: f.integer('capacity', { min: 0, max: 0xffffffff, fallback: 1 }),
    ...(podLocalAddress === undefined ? {} : { podLocalAddress }),
  }
  return issues.since(mark) ? undefined : workload
}

/**
 * Default HBONE, where Istio's proto and ztunnel's serde default to NONE/TCP: a local config file
 * describes the emulator's own captured pods, and a forgotten field silently sending their traffic
 * in plaintext is the worse failure. Write `tunnelProtocol: NONE` for an out-of-mesh workload.
 */
function decodeTunnelProtocol(f: Fields): TunnelProtocol {
  if (f.has('tunnelProtocol') && f.has('protocol')) {
    f.issues.add(LocalConfigErrorCode.conflictingFields, f.at('protocol'), 'give "tunnelProtocol" or ztunnel\'s "protocol", not both')
  }
  const key = f.has('protocol') ? 'protocol' : 'tunnelProtocol'
  return f.enumeration<TunnelProtocol>(key, ['HBONE', 'NONE'], { fallback: 'HBONE', aliases: { TCP: 'NONE' } }) ?? 'HBONE'
}

/** Each part must be usable in the workload's SPIFFE ID; report each bad part at its own field. */
function checkIdentity(f: Fields, trustDomain: string, namespace: string, serviceAccount: string): void {
  const parts = [
    ['trustDomain', { trustDomain, namespace: 'default' }],
    ['namespace', { namespace }],
    ['serviceAccount', { namespace: 'default', serviceAccount }],
  ] as const
  for (const [field, id] of parts) {
    if (field === 'namespace' && namespace === '') continue
    try {
      SpiffeId.of(id)
    } catch (err) {
      f.issues.add(LocalConfigErrorCode.invalidValue, f.at(field), `not usable in a SPIFFE ID: ${(err as Error).message}`)
    }
  }
}

function decodeAddresses(f: Fields): string[] {
  if (f.has('addresses') && f.has('workloadIps')) {
    f.issues.add(LocalConfigErrorCode.conflictingFields, f.at('workloadIps'), 'give "addresses" or ztunnel\'s "workloadIps", not both')
  }
  const key = f.has('workloadIps') ? 'workloadIps' : 'addresses'
  const out: string[] = []
  for (const { value, path } of f.list(key)) {
    const ip = typeof value === 'string' ? canonicalIp(value) : undefined
    if (ip === undefined) f.issues.add(LocalConfigErrorCode.invalidAddress, path, `not an IP address: ${describe(value)}`)
    else if (out.includes(ip)) f.issues.add(LocalConfigErrorCode.duplicateAddress, path, `${ip} is listed twice`)
    else out.push(ip)
  }
  return out
}

function decodePodLocalAddress(f: Fields, addresses: readonly string[]): string | undefined {
  if (!f.has('podLocalAddress')) return undefined
  const raw = f.raw('podLocalAddress')
  const ip = typeof raw === 'string' ? canonicalIp(raw) : undefined
  if (ip === undefined) {
    f.issues.add(LocalConfigErrorCode.invalidAddress, f.at('podLocalAddress'), `not an IP address: ${describe(raw)}`)
  } else if (addresses.includes(ip)) {
    // The app binds this address so that the pod IP stays ztunnel's; the same address would loop.
    f.issues.add(LocalConfigErrorCode.invalidValue, f.at('podLocalAddress'), `${ip} is also a pod IP; the pod-local address must differ`)
  }
  return ip
}

/**
 * ztunnel's form: `{destination: "<namespace>/<hostname>" | "<network>/<ip>", hboneMtlsPort}`.
 * As in ztunnel (an untagged enum trying NetworkAddress first) the text after the first `/` decides:
 * an IP makes it an address, anything else a hostname. The port defaults to 15008.
 */
export function decodeGatewayAddress(value: unknown, path: Path, issues: Issues): GatewayAddress | undefined {
  const f = Fields.open(value, path, issues, ['destination', 'hboneMtlsPort'])
  if (f === undefined) return undefined
  const hboneMtlsPort = f.integer('hboneMtlsPort', { min: 1, max: PORT_MAX, fallback: HBONE_PORT, code: LocalConfigErrorCode.invalidPort })
  const destination = f.string('destination', { required: true })
  const slash = destination.indexOf('/')
  if (destination === '') return undefined
  if (slash < 0 || slash === destination.length - 1) {
    issues.add(
      LocalConfigErrorCode.invalidValue,
      f.at('destination'),
      `expected "<namespace>/<hostname>" or "<network>/<ip>", found "${destination}"`,
    )
    return undefined
  }
  const head = destination.slice(0, slash)
  const tail = destination.slice(slash + 1)
  const ip = canonicalIp(tail)
  if (ip !== undefined) return { kind: 'address', network: head, address: ip, hboneMtlsPort }
  if (head === '') {
    issues.add(LocalConfigErrorCode.invalidValue, f.at('destination'), `"${destination}" has no namespace`)
    return undefined
  }
  return { kind: 'hostname', namespace: head, hostname: tail, hboneMtlsPort }
}

/**
 * `services:` maps `namespace/hostname` to the ports the workload serves for it, in any of:
 * ztunnel's `{80: 8080}`, the proto JSON PortList `{ports: [{servicePort, targetPort}]}`, or the
 * list alone. Target port 0 means "the Service's target port".
 */
function decodeWorkloadServices(f: Fields): Map<string, readonly PortMapping[]> {
  const out = new Map<string, readonly PortMapping[]>()
  const raw = f.raw('services')
  if (raw === undefined) return out
  if (!isMapping(raw)) {
    f.issues.add(LocalConfigErrorCode.shape, f.at('services'), `"services" must map "namespace/hostname" to ports, found ${describe(raw)}`)
    return out
  }
  for (const [key, ports] of Object.entries(raw)) {
    const path = [...f.at('services'), key]
    if (!/^[^/]+\/[^/]+$/.test(key))
      f.issues.add(LocalConfigErrorCode.invalidValue, path, `service key must be "namespace/hostname", found "${key}"`)
    const body = isMapping(ports) && Object.keys(ports).length === 1 && 'ports' in ports ? ports.ports : ports
    const bodyPath = body === ports ? path : [...path, 'ports']
    out.set(key, decodePortMappings(body, bodyPath, f.issues))
  }
  return out
}

export function decodePortMappings(value: unknown, path: Path, issues: Issues): PortMapping[] {
  const out: PortMapping[] = []
  if (value === null || value === undefined) return out
  if (Array.isArray(value)) {
    value.forEach((item, i) => {
      const p = Fields.open(item, [...path, i], issues, ['servicePort', 'targetPort'])
      if (p === undefined) return
      if (!p.has('servicePort')) issues.add(LocalConfigErrorCode.missingField, p.at('servicePort'), '"servicePort" is required')
      out.push({
        servicePort: p.integer('servicePort', { min: 1, max: PORT_MAX, fallback: 0, code: LocalConfigErrorCode.invalidPort }),
        targetPort: p.integer('targetPort', { min: 0, max: PORT_MAX, fallback: 0, code: LocalConfigErrorCode.invalidPort }),
      })
    })
    return out
  }
  if (!isMapping(value)) {
    issues.add(LocalConfigErrorCode.shape, path, `ports must be a mapping like {80: 8080} or a list, found ${describe(value)}`)
    return out
  }
  for (const [k, v] of Object.entries(value)) {
    const servicePort = readInteger(k, [...path, k], issues, 1, PORT_MAX, LocalConfigErrorCode.invalidPort)
    const targetPort = readInteger(v, [...path, k], issues, 0, PORT_MAX, LocalConfigErrorCode.invalidPort)
    if (servicePort !== undefined && targetPort !== undefined) out.push({ servicePort, targetPort })
  }
  return out
}

function decodePolicyNames(f: Fields): string[] {
  const out: string[] = []
  for (const { value, path } of f.list('authorizationPolicies')) {
    if (typeof value === 'string' && /^[^/]+\/[^/]+$/.test(value)) out.push(value)
    else f.issues.add(LocalConfigErrorCode.invalidValue, path, `policy name must be "namespace/name", found ${describe(value)}`)
  }
  return out
}
