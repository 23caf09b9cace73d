// One `services:` entry of ztunnel's local config → a Service. Names are the camelCase JSON of
// `istio.workload.Service`; ztunnel's local-config spellings are accepted too: `vips` for
// `addresses`, VIPs written `<network>/<ip>` (its examples write "/127.10.0.1"), and ports as a
// `{80: 8080}` mapping.
import { SpiffeId } from '../identity/spiffe-id.js'
import { PORT_MAX } from '../net/address.js'
import { canonicalIp } from '../net/ip.js'
import { Fields, type Issues, LocalConfigErrorCode, type Path, describe, isMapping } from './local-config-fields.js'
import { decodeGatewayAddress, decodePortMappings } from './local-config-workload.js'
import type { Service, ServicePort } from './types.js'

const SERVICE_FIELDS = ['name', 'namespace', 'hostname', 'addresses', 'vips', 'ports', 'subjectAltNames', 'waypoint'] as const

export function decodeService(value: unknown, path: Path, issues: Issues): Service | undefined {
  const entry = Fields.openNamed(value, path, issues, SERVICE_FIELDS)
  if (entry === undefined) return undefined
  const { f, mark, name, namespace } = entry
  const { addresses, network } = decodeVips(f)
  const service: Service = {
    name,
    namespace,
    // istiod always sets it; for a hand-written file, the Kubernetes Service's cluster-local name.
    hostname: f.string('hostname', { fallback: `${name}.${namespace}.svc.cluster.local` }),
    addresses,
    ports: decodeServicePorts(f),
    subjectAltNames: decodeSubjectAltNames(f),
    waypoint: f.has('waypoint') ? decodeGatewayAddress(f.raw('waypoint'), f.at('waypoint'), issues) : undefined,
    ...(network === '' ? {} : { network }),
  }
  return issues.since(mark) ? undefined : service
}

/** VIPs as `ip` or `<network>/<ip>`; one network per Service (the model keeps one). */
function decodeVips(f: Fields): { addresses: string[]; network: string } {
  if (f.has('addresses') && f.has('vips')) {
    f.issues.add(LocalConfigErrorCode.conflictingFields, f.at('vips'), 'give "addresses" or ztunnel\'s "vips", not both')
  }
  const key = f.has('vips') ? 'vips' : 'addresses'
  const addresses: string[] = []
  let network: string | undefined
  for (const { value, path } of f.list(key)) {
    const text = typeof value === 'string' ? value : ''
    const slash = text.indexOf('/')
    const net = slash < 0 ? '' : text.slice(0, slash)
    const ip = canonicalIp(slash < 0 ? text : text.slice(slash + 1))
    if (ip === undefined) {
      f.issues.add(LocalConfigErrorCode.invalidAddress, path, `not an IP address or "<network>/<ip>": ${describe(value)}`)
    } else if (network !== undefined && net !== network) {
      f.issues.add(LocalConfigErrorCode.invalidValue, path, `all VIPs of a Service must be on one network ("${network}", not "${net}")`)
    } else if (addresses.includes(ip)) {
      f.issues.add(LocalConfigErrorCode.duplicateAddress, path, `${ip} is listed twice`)
    } else {
      network = net
      addresses.push(ip)
    }
  }
  return { addresses, network: network ?? '' }
}

/** `{80: 8080}` (ztunnel) or `[{servicePort, targetPort, appProtocol}]` (proto JSON). */
function decodeServicePorts(f: Fields): ServicePort[] {
  const raw = f.raw('ports')
  if (raw === undefined) return []
  if (isMapping(raw)) {
    return decodePortMappings(raw, f.at('ports'), f.issues).map((p) => ({ ...p, appProtocol: '' }))
  }
  const out: ServicePort[] = []
  for (const { value, path } of f.list('ports')) {
    const p = Fields.open(value, path, f.issues, ['servicePort', 'targetPort', 'appProtocol'])
    if (p === undefined) continue
    if (!p.has('servicePort')) f.issues.add(LocalConfigErrorCode.missingField, p.at('servicePort'), '"servicePort" is required')
    out.push({
      servicePort: p.integer('servicePort', { min: 1, max: PORT_MAX, fallback: 0, code: LocalConfigErrorCode.invalidPort }),
      targetPort: p.integer('targetPort', { min: 0, max: PORT_MAX, fallback: 0, code: LocalConfigErrorCode.invalidPort }),
      appProtocol: p.string('appProtocol'),
    })
  }
  const seen = new Set<number>()
  out.forEach((p, i) => {
    if (seen.has(p.servicePort))
      f.issues.add(LocalConfigErrorCode.invalidPort, [...f.at('ports'), i], `service port ${p.servicePort} is listed twice`)
    seen.add(p.servicePort)
  })
  return out
}

/** SANs are identities the client will accept from the server: parse them here, not at handshake. */
function decodeSubjectAltNames(f: Fields): string[] {
  const out: string[] = []
  for (const { value, path } of f.list('subjectAltNames')) {
    try {
      out.push(SpiffeId.parse(value as string).toString())
    } catch (err) {
      f.issues.add(LocalConfigErrorCode.invalidValue, path, (err as Error).message)
    }
  }
  return out
}
