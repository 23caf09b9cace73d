// The common istio.workload.Workload read straight from its bytes into the frozen domain value,
// without protobufjs's message objects or a second conversion pass: a ztunnel's sync is ~10,000 of
// these, and the two passes (and their garbage) were most of its cost.
//
// It covers the fields istiod sets on an ordinary pod (identity, addresses, waypoint, services,
// policies, capacity), each at most once where the field is singular, known enum
// values. Anything else (an extension, locality, application tunnel, network gateway, a field it
// does not know, a repeated singular field, a map key twice, a value the domain
// refuses) returns undefined and the caller takes the reference path (protobufjs + workloadFromWire
// in ./convert-address.ts), which decides and words any refusal. Both paths must agree on every
// value this one accepts: test/unit/xds/workload-bytes.test.ts compares them.
import type { GatewayAddress, PortMapping, Workload } from '../mesh/types.js'
import { builtDeepFrozen, frozenMap } from '../mesh/values.js'
import { checkIdentity, STATUS_NAMES, TUNNEL_NAMES, WIRE_DEFAULTS, WORKLOAD_TYPE_NAMES } from './convert-address.js'
import { ipFromBytes } from './ip-bytes.js'
import { BAIL, Cursor, LEN, port, shared, stringAnd, VARINT } from './wire-reader.js'

/** Frozen port lists by content (`servicePort:targetPort,…`): a Service's endpoints all carry the same list. */
const portLists = new Map<string, readonly PortMapping[]>()
/** Frozen hostname waypoints by `namespace-length:namespace hostname:port`: a namespace's workloads share one. */
const waypoints = new Map<string, GatewayAddress>()

/** Frozen `services` maps by content (keys and port lists, in order): a Service's endpoints share one. */
const serviceMaps = new Map<string, ReadonlyMap<string, readonly PortMapping[]>>()
/** Frozen `authorization_policies` lists by content: the workloads one selector picks share one. */
const policyLists = new Map<string, readonly string[]>()
const EMPTY: readonly never[] = Object.freeze([])

/** A key for a list of strings that no other list shares (each entry length-prefixed). */
const listKey = (list: readonly string[]): string => list.map((s) => `${s.length}:${s}`).join('')

/** PortList { repeated Port ports = 1 }, Port { service_port = 1, target_port = 2, app_protocol = 3 }; and its sharing key. */
function portList(c: Cursor, end: number): [readonly PortMapping[], string] {
  const out: PortMapping[] = []
  let key = ''
  while (c.pos < end) {
    const tag = c.varint()
    if (tag !== ((1 << 3) | LEN)) throw BAIL
    const pend = c.sub()
    let servicePort = 0
    let targetPort = 0
    while (c.pos < pend) {
      const t = c.varint()
      if (t === ((1 << 3) | VARINT)) servicePort = c.varint()
      else if (t === ((2 << 3) | VARINT)) targetPort = c.varint()
      else if (t === ((3 << 3) | VARINT)) c.varint()
      else throw BAIL
    }
    out.push({ servicePort: port(servicePort), targetPort: port(targetPort) })
    key += `${servicePort}:${targetPort},`
  }
  return [shared(portLists, key, () => Object.freeze(out.map((p) => Object.freeze(p)))), key]
}

/** One `services` map entry: key = 1 (string), value = 2 (PortList); and the port list's sharing key. */
function serviceEntry(c: Cursor, end: number): [string, readonly PortMapping[], string] {
  let key = ''
  let ports: readonly PortMapping[] = EMPTY
  let portsKey = ''
  let seenKey = false
  let seenValue = false // an entry without a value is an empty PortList, as protobufjs reads it
  while (c.pos < end) {
    const t = c.varint()
    if (t === ((1 << 3) | LEN) && !seenKey) {
      key = c.name()
      seenKey = true
    } else if (t === ((2 << 3) | LEN) && !seenValue) {
      const vend = c.sub()
      const list = portList(c, vend)
      ports = list[0]
      portsKey = list[1]
      seenValue = true
    } else throw BAIL
  }
  if (!key.includes('/')) throw BAIL
  return [key, ports, portsKey]
}

const readString = (c: Cursor): string => c.name()
const readBytes = (c: Cursor): Uint8Array => c.bytes()

/** GatewayAddress by hostname (1: NamespacedHostname) or address (2: NetworkAddress), port 3. */
function gateway(c: Cursor, end: number): GatewayAddress {
  let hostname: [string, string] | undefined
  let address: [string, Uint8Array] | undefined
  let hboneMtlsPort = 0
  let seenPort = false
  while (c.pos < end) {
    const t = c.varint()
    if (t === ((1 << 3) | LEN) && hostname === undefined && address === undefined) {
      hostname = stringAnd(c, c.sub(), readString, '')
    } else if (t === ((2 << 3) | LEN) && hostname === undefined && address === undefined) {
      address = stringAnd(c, c.sub(), readBytes, new Uint8Array())
    } else if (t === ((3 << 3) | VARINT) && !seenPort) {
      hboneMtlsPort = c.varint()
      seenPort = true
    } else throw BAIL
  }
  const p = port(hboneMtlsPort) || WIRE_DEFAULTS.hboneMtlsPort
  if (hostname !== undefined) {
    const [namespace, host] = hostname
    if (host === '') throw BAIL
    return shared(waypoints, `${namespace.length}:${namespace}${host}:${p}`, () =>
      Object.freeze({ kind: 'hostname', namespace, hostname: host, hboneMtlsPort: p }),
    )
  }
  if (address !== undefined) {
    return Object.freeze({ kind: 'address', network: address[0], address: ipFromBytes(address[1], ''), hboneMtlsPort: p })
  }
  throw BAIL
}

/** A string field's value, when the wire type is the string's. */
function text(c: Cursor, wire: number): string {
  if (wire !== LEN) throw BAIL
  return c.string()
}

/** A string field's value that repeats across resources (./wire-text.ts's intern). */
function sharedText(c: Cursor, wire: number): string {
  if (wire !== LEN) throw BAIL
  return c.name()
}

/** A varint field's value (an enum), when the wire type is the varint's. */
function number(c: Cursor, wire: number): number {
  if (wire !== VARINT) throw BAIL
  return c.varint()
}

/** The Workload in bytes[start, end), or undefined: take the reference path. */
export function workloadFromBytes(bytes: Uint8Array, start: number, end: number): Workload | undefined {
  try {
    return read(new Cursor(bytes, start, end))
  } catch {
    // BAIL, or a check that threw (identity, address length): the reference path decides, in its words.
    return undefined
  }
}

function read(c: Cursor): Workload {
  let uid = ''
  let name = ''
  let namespace = ''
  const addresses: string[] = []
  let hostname = ''
  let network = ''
  let tunnel = 0
  let trustDomain = ''
  let serviceAccount = ''
  let waypoint: GatewayAddress | undefined
  let node = ''
  let canonicalName = ''
  let canonicalRevision = ''
  let workloadType = 0
  let workloadName = ''
  const services: [string, readonly PortMapping[], string][] = []
  const policies: string[] = []
  let status = 0
  let clusterId = ''
  let capacity: number = WIRE_DEFAULTS.capacity
  // Singular fields seen so far, by field number (a repeat is last-wins or a merge: reference path).
  let seen = 0
  while (c.pos < c.end) {
    const tag = c.varint()
    const field = tag >>> 3
    const wire = tag & 7
    if (field === 3 && wire === LEN) {
      // IPv4 (every pod has one) printed from the bytes in place, as ipFromBytes prints it; other lengths through it.
      const end = c.sub()
      const at = c.pos
      const b = c.r.buf
      addresses.push(end - at === 4 ? `${b[at]}.${b[at + 1]}.${b[at + 2]}.${b[at + 3]}` : ipFromBytes(b.subarray(at, end), ''))
      c.r.pos = end
      continue
    }
    if (field === 22 && wire === LEN) {
      const end = c.sub()
      services.push(serviceEntry(c, end))
      continue
    }
    if (field === 16 && wire === LEN) {
      policies.push(c.name())
      continue
    }
    // Every singular field this reader knows is numbered below 31.
    if (field > 30 || (seen >>> field) & 1) throw BAIL
    seen |= 1 << field
    switch (field) {
      case 20:
        uid = text(c, wire)
        break
      case 1:
        name = text(c, wire)
        break
      case 2:
        namespace = sharedText(c, wire)
        break
      case 21:
        hostname = sharedText(c, wire)
        break
      case 4:
        network = sharedText(c, wire)
        break
      case 5:
        tunnel = number(c, wire)
        break
      case 6:
        trustDomain = sharedText(c, wire)
        break
      case 7:
        serviceAccount = sharedText(c, wire)
        break
      case 8: {
        if (wire !== LEN) throw BAIL
        const end = c.sub()
        waypoint = gateway(c, end)
        break
      }
      case 9:
        node = sharedText(c, wire)
        break
      case 10:
        canonicalName = sharedText(c, wire)
        break
      case 11:
        canonicalRevision = sharedText(c, wire)
        break
      case 12:
        workloadType = number(c, wire)
        break
      case 13:
        workloadName = sharedText(c, wire)
        break
      case 17:
        status = number(c, wire)
        break
      case 18:
        clusterId = sharedText(c, wire)
        break
      case 27: {
        // google.protobuf.UInt32Value { uint32 value = 1 }: present means its value, even 0.
        if (wire !== LEN) throw BAIL
        const end = c.sub()
        capacity = 0
        while (c.pos < end) {
          if (c.varint() !== ((1 << 3) | VARINT)) throw BAIL
          capacity = c.varint()
        }
        break
      }
      default:
        throw BAIL
    }
  }
  if (uid === '') throw BAIL
  if (trustDomain === '') trustDomain = WIRE_DEFAULTS.trustDomain
  if (serviceAccount === '') serviceAccount = WIRE_DEFAULTS.serviceAccount
  checkIdentity(trustDomain, namespace, serviceAccount, uid)
  if (addresses.length > 1 && new Set(addresses).size !== addresses.length) throw BAIL
  let servicesKey = ''
  if (services.length > 1) {
    const keys = new Set<string>()
    for (const [key] of services) {
      if (keys.has(key)) throw BAIL
      keys.add(key)
    }
  }
  for (const [key, , portsKey] of services) servicesKey += `${key.length}:${key}${portsKey};`
  const tunnelProtocol = TUNNEL_NAMES[tunnel]
  const workloadStatus = STATUS_NAMES[status]
  if (tunnelProtocol === undefined || workloadStatus === undefined) throw BAIL
  // Property order and shape as workloadFromWire builds them. No `waypoint` key when there is none (an object
  // literal with a spread would put every later property out of line): MeshState keeps this object as it is.
  const value: Omit<Workload, 'waypoint'> & { waypoint?: GatewayAddress } = {
    uid,
    name,
    namespace,
    // Exact-size copies of pushed lists: a pushed array keeps room for 16 more, in every stored Workload.
    addresses: Object.freeze(addresses.slice()),
    hostname,
    network,
    tunnelProtocol,
    trustDomain,
    serviceAccount,
    node,
    canonicalName,
    canonicalRevision,
    workloadType: WORKLOAD_TYPE_NAMES[workloadType] ?? 'DEPLOYMENT',
    workloadName,
    services: shared(serviceMaps, servicesKey, () => frozenMap(services.map(([key, ports]) => [key, ports] as const))),
    authorizationPolicies: policies.length === 0 ? EMPTY : shared(policyLists, listKey(policies), () => Object.freeze(policies.slice())),
    status: workloadStatus,
    clusterId: clusterId === '' ? WIRE_DEFAULTS.clusterId : clusterId,
    capacity,
  }
  if (waypoint !== undefined) value.waypoint = waypoint
  // Every part is frozen as it is built: MeshState shares it without walking it (tests check with walksDeepFrozen).
  return builtDeepFrozen(Object.freeze(value) as Workload)
}
