// The discovery resources the emulator sends over Delta ADS, as bytes (what a Resource's Any
// carries) and as domain values. Type URLs and resource names are Istio's; WaypointConfig is the
// emulator's own extension (proto/ambient/waypoint/v1/waypoint.proto).
import { policyKey } from '../authz/policy.js'
import type { Authorization } from '../authz/policy.js'
import { AmbientError } from '../errors.js'
import { serviceKey } from '../mesh/types.js'
import type { Service, Workload } from '../mesh/types.js'
import { authorizationFromBytes } from './authorization-bytes.js'
import { authorizationFromWire, authorizationToWire } from './convert-authorization.js'
import { serviceFromWire, serviceToWire, workloadFromWire, workloadToWire } from './convert-address.js'
import { XdsErrorCode } from './errors.js'
import { documentJson } from './shared-json.js'
import { workloadFromBytes } from './workload-bytes.js'
import { ambient, istio } from './gen/messages.js'

export { authorizationFromWire, authorizationToWire } from './convert-authorization.js'
export {
  gatewayFromWire,
  gatewayToWire,
  serviceFromWire,
  serviceToWire,
  workloadFromWire,
  workloadToWire,
  WIRE_DEFAULTS,
} from './convert-address.js'

export const TYPE_URL = {
  address: 'type.googleapis.com/istio.workload.Address',
  authorization: 'type.googleapis.com/istio.security.Authorization',
  /** Emulator extension: one typed-JSON document per waypoint. */
  waypointConfig: 'type.googleapis.com/ambient.waypoint.v1.WaypointConfig',
} as const

/** One `istio.workload.Address` resource: a workload or a service. */
export type AddressResource =
  { readonly kind: 'workload'; readonly value: Workload } | { readonly kind: 'service'; readonly value: Service }

/**
 * Emulator extension: a waypoint's configuration. `document` is parsed JSON whose schema
 * src/istiod's translation defines; the waypoint validates it (this layer only checks it is JSON).
 */
export interface WaypointConfig {
  readonly name: string
  readonly namespace: string
  readonly document: unknown
}

/** The Delta xDS resource name: workload uid, or `namespace/hostname` for a service. */
export function addressResourceName(r: AddressResource): string {
  return r.kind === 'workload' ? r.value.uid : serviceKey(r.value)
}

export function encodeAddress(r: AddressResource): Uint8Array {
  const message = r.kind === 'workload' ? { workload: workloadToWire(r.value) } : { service: serviceToWire(r.value) }
  return istio.workload.Address.encode(message).finish()
}

/** Address's `workload` member: field 1, length-delimited. */
const ADDRESS_WORKLOAD_TAG = (1 << 3) | 2

export function decodeAddress(bytes: Uint8Array): AddressResource {
  return decodeAddressIn(bytes, 0, bytes.length)
}

/** decodeAddress(bytes.subarray(start, end)), the common Workload read in place. */
export function decodeAddressIn(bytes: Uint8Array, start: number, end: number): AddressResource {
  const fast = commonWorkload(bytes, start, end)
  if (fast !== undefined) return Object.freeze({ kind: 'workload', value: fast })
  return addressFromWire(start === 0 && end === bytes.length ? bytes : bytes.subarray(start, end))
}

function addressFromWire(bytes: Uint8Array): AddressResource {
  const m = decoding('istio.workload.Address', () => istio.workload.Address.decode(bytes))
  if (m.workload) return Object.freeze({ kind: 'workload', value: workloadFromWire(m.workload) })
  if (m.service) return Object.freeze({ kind: 'service', value: serviceFromWire(m.service) })
  throw invalid('istio.workload.Address holds neither a workload nor a service')
}

/**
 * An Address that is one Workload field spanning the whole message, read by ./workload-bytes.ts;
 * undefined for anything else (a Service, several members, what that reader leaves to protobufjs).
 */
function commonWorkload(bytes: Uint8Array, start: number, end: number): Workload | undefined {
  if (end - start < 2 || bytes[start] !== ADDRESS_WORKLOAD_TAG) return undefined
  let len = 0
  let at = start + 1
  for (let shift = 0; at < end && shift < 28; shift += 7) {
    const c = bytes[at++]!
    len += (c & 0x7f) * 2 ** shift
    if (c < 0x80) return at + len === end ? workloadFromBytes(bytes, at, end) : undefined
  }
  return undefined
}

/** `namespace/name`. */
export function authorizationResourceName(a: Authorization): string {
  return policyKey(a)
}

export function encodeAuthorization(a: Authorization): Uint8Array {
  return istio.security.Authorization.encode(authorizationToWire(a)).finish()
}

export function decodeAuthorization(bytes: Uint8Array): Authorization {
  return decodeAuthorizationIn(bytes, 0, bytes.length)
}

/** decodeAuthorization(bytes.subarray(start, end)), the common Authorization read in place. */
export function decodeAuthorizationIn(bytes: Uint8Array, start: number, end: number): Authorization {
  const fast = authorizationFromBytes(bytes, start, end)
  if (fast !== undefined) return fast
  const own = start === 0 && end === bytes.length ? bytes : bytes.subarray(start, end)
  return authorizationFromWire(decoding('istio.security.Authorization', () => istio.security.Authorization.decode(own)))
}

/** The Delta client's decoders of the two types every ztunnel subscribes to (with their in-place forms). */
export const ADDRESS_DECODER = Object.freeze({ typeUrl: TYPE_URL.address, decode: decodeAddress, decodeIn: decodeAddressIn })
export const AUTHORIZATION_DECODER = Object.freeze({
  typeUrl: TYPE_URL.authorization,
  decode: decodeAuthorization,
  decodeIn: decodeAuthorizationIn,
})

/** `namespace/name`. */
export function waypointConfigResourceName(c: Pick<WaypointConfig, 'namespace' | 'name'>): string {
  return `${c.namespace}/${c.name}`
}

export function encodeWaypointConfig(c: WaypointConfig): Uint8Array {
  return ambient.waypoint.v1.WaypointConfig.encode({ name: c.name, namespace: c.namespace, json: documentJson(c.document) }).finish()
}

export function decodeWaypointConfig(bytes: Uint8Array): WaypointConfig {
  const m = decoding('ambient.waypoint.v1.WaypointConfig', () => ambient.waypoint.v1.WaypointConfig.decode(bytes))
  const name = m.name ?? ''
  const namespace = m.namespace ?? ''
  if (name === '' || namespace === '') throw invalid('WaypointConfig needs a name and a namespace')
  let document: unknown
  try {
    document = JSON.parse(m.json ?? '')
  } catch (err) {
    throw invalid(`WaypointConfig ${namespace}/${name}: json does not parse`, err)
  }
  return Object.freeze({ name, namespace, document })
}

function decoding<T>(what: string, decode: () => T): T {
  try {
    return decode()
  } catch (err) {
    throw invalid(`${what} does not decode: ${err instanceof Error ? err.message : String(err)}`, err)
  }
}

function invalid(message: string, cause?: unknown): AmbientError {
  return new AmbientError(XdsErrorCode.resourceInvalid, message, { side: 'upstream', cause })
}
