// Who is in the mesh and who uses which waypoint, from labels (docs/istio-reference.md, "Waypoints";
// Istio's ambient index, `fetchWaypointForTarget` / `fetchWaypointForService` / `...ForWorkload`):
//  - ambient: pod label `istio.io/dataplane-mode` (`none` opts out, `ambient` opts in) beats the
//    namespace's;
//  - waypoint: `istio.io/use-waypoint: <gateway>` on the pod or Service beats the namespace's;
//    `none` on the pod or Service opts out; `istio.io/use-waypoint-namespace` on the SAME object
//    names the Gateway's namespace (default: that object's namespace);
//  - the Gateway (class istio-waypoint) accepts per `istio.io/waypoint-for`: service (default),
//    workload, all, none. A Service binds only to service|all, a pod only to workload|all; a
//    mismatch leaves it without a waypoint (as Istio, which writes a status condition), and we say so;
//  - a waypoint's own pods and Service never use a waypoint.
// One deliberate difference: a label naming a Gateway that does not exist. Istio then sends no
// waypoint, so traffic silently skips L7 policy; the reference asks us to fail closed, so we point
// at the Gateway's would-be Service, which ztunnel cannot resolve, and report an error.
import type { GatewayAddress } from '../../mesh/types.js'
import { HBONE_PORT } from '../../net/ports.js'
import type { Gateway, Labels, Namespace, ObjectSource } from '../resources/model.js'
import { objectKey } from '../resources/model.js'
import { serviceHostname } from './hosts.js'
import type { MessageSink } from './messages.js'
import { TranslationCode } from './messages.js'

export const Label = {
  dataplaneMode: 'istio.io/dataplane-mode',
  useWaypoint: 'istio.io/use-waypoint',
  useWaypointNamespace: 'istio.io/use-waypoint-namespace',
  waypointFor: 'istio.io/waypoint-for',
  managed: 'gateway.istio.io/managed',
} as const

export const WAYPOINT_CLASS = 'istio-waypoint'

export type WaypointFor = 'service' | 'workload' | 'all' | 'none'
const WAYPOINT_FOR: readonly WaypointFor[] = ['service', 'workload', 'all', 'none']

/** A waypoint Gateway as translation uses it. */
export interface WaypointInfo {
  readonly gateway: Gateway
  readonly namespace: string
  readonly name: string
  readonly waypointFor: WaypointFor
  /** `<name>.<namespace>.svc.cluster.local`: the Service istiod creates for it. */
  readonly hostname: string
  readonly hbonePort: number
  readonly address: GatewayAddress
}

export function isWaypointGateway(g: Gateway): boolean {
  return g.spec.gatewayClassName === WAYPOINT_CLASS
}

/** Waypoints by `namespace/name`. */
export function indexWaypoints(gateways: readonly Gateway[], sink: MessageSink): Map<string, WaypointInfo> {
  const out = new Map<string, WaypointInfo>()
  for (const g of gateways.filter(isWaypointGateway)) {
    const { namespace, name } = g.metadata
    const raw = g.metadata.labels[Label.waypointFor]
    let waypointFor: WaypointFor = 'service'
    if (raw !== undefined) {
      if ((WAYPOINT_FOR as readonly string[]).includes(raw)) waypointFor = raw as WaypointFor
      else
        sink.add({
          code: TranslationCode.waypointForUnknown,
          severity: 'warning',
          object: objectKey(g),
          path: `metadata.labels['${Label.waypointFor}']`,
          source: g.source,
          reason: `"${raw}" is not service, workload, all or none; read as service`,
          hint: 'write service, workload, all or none',
        })
    }
    const hbonePort = g.spec.listeners.find((l) => l.protocol === 'HBONE')?.port ?? HBONE_PORT
    const hostname = serviceHostname(name, namespace)
    out.set(`${namespace}/${name}`, {
      gateway: g,
      namespace,
      name,
      waypointFor,
      hostname,
      hbonePort,
      address: hostnameAddress(namespace, hostname, hbonePort),
    })
  }
  return out
}

/**
 * As Istio's istiod references a waypoint: by its Service's address (`GatewayAddress.address`, the
 * VIP, on the HBONE port) once the Service has one; by hostname only while it has none (headless,
 * or before addresses are allocated).
 */
export function withServiceAddresses(
  waypoints: ReadonlyMap<string, WaypointInfo>,
  vipOf: (key: string) => string | undefined,
): Map<string, WaypointInfo> {
  const out = new Map<string, WaypointInfo>()
  for (const [key, w] of waypoints) {
    const vip = vipOf(key)
    out.set(
      key,
      vip === undefined ? w : { ...w, address: Object.freeze({ kind: 'address', network: '', address: vip, hboneMtlsPort: w.hbonePort }) },
    )
  }
  return out
}

/** `namespace/name` of the waypoint Service a GatewayAddress names, by hostname or by its VIP. */
export function waypointServiceKey(
  address: GatewayAddress | undefined,
  services: readonly {
    readonly namespace: string
    readonly name: string
    readonly hostname: string
    readonly addresses: readonly string[]
  }[],
): { namespace: string; name: string } | undefined {
  if (address === undefined) return undefined
  const s =
    address.kind === 'hostname'
      ? services.find((x) => x.namespace === address.namespace && x.hostname === address.hostname)
      : services.find((x) => x.addresses.includes(address.address))
  if (s !== undefined) return { namespace: s.namespace, name: s.name }
  return address.kind === 'hostname' ? { namespace: address.namespace, name: address.hostname.split('.')[0] ?? '' } : undefined
}

function hostnameAddress(namespace: string, hostname: string, hboneMtlsPort: number): GatewayAddress {
  return Object.freeze({ kind: 'hostname', namespace, hostname, hboneMtlsPort })
}

/** Is this pod in ambient mode (its traffic captured and tunnelled by ztunnel)? */
export function inAmbient(podLabels: Labels, namespace: Namespace | undefined): boolean {
  const own = podLabels[Label.dataplaneMode]
  if (own !== undefined) return own === 'ambient'
  return namespace?.metadata.labels[Label.dataplaneMode] === 'ambient'
}

/** The object asking for a waypoint: a Service or a pod. */
export interface WaypointUser {
  readonly kind: 'service' | 'workload'
  readonly namespace: string
  readonly labels: Labels
  readonly object: string
  readonly source: ObjectSource
}

type UseWaypoint = { readonly kind: 'none' } | { readonly kind: 'named'; readonly key: string; readonly path: string } | undefined

/** Istio's getUseWaypoint: the object's own labels, with its namespace as the default. */
function useWaypoint(labels: Labels, defaultNamespace: string, where: string): UseWaypoint {
  const name = labels[Label.useWaypoint]
  if (name === undefined || name === '') return undefined
  if (name === 'none') return { kind: 'none' }
  const ns = labels[Label.useWaypointNamespace] ?? defaultNamespace
  return { kind: 'named', key: `${ns}/${name}`, path: `${where}.labels['${Label.useWaypoint}']` }
}

/**
 * The waypoint a Service or pod uses, or undefined. The user's own label wins over its
 * namespace's; `none` on the user opts out even when the namespace names a waypoint.
 */
export function waypointFor(
  user: WaypointUser,
  namespace: Namespace | undefined,
  waypoints: ReadonlyMap<string, WaypointInfo>,
  sink: MessageSink,
): GatewayAddress | undefined {
  if (user.labels[Label.managed] === 'istio.io-mesh-controller') return undefined // a waypoint itself
  const own = useWaypoint(user.labels, user.namespace, 'metadata')
  if (own?.kind === 'none') return undefined
  const fromNs = namespace === undefined ? undefined : useWaypoint(namespace.metadata.labels, namespace.metadata.name, 'metadata')
  const chosen = own ?? (fromNs?.kind === 'named' ? fromNs : undefined)
  if (chosen === undefined) return undefined
  const w = waypoints.get(chosen.key)
  // A finding about the namespace's label is reported once, on the Namespace, not per user.
  const labelledNs = chosen === own ? undefined : namespace
  const onNamespace = labelledNs !== undefined
  const object = labelledNs === undefined ? user.object : objectKey(labelledNs)
  const source = labelledNs === undefined ? user.source : labelledNs.source
  const path = onNamespace ? `metadata.labels['${Label.useWaypoint}']` : chosen.path
  if (w === undefined) {
    const [ns, name] = chosen.key.split('/') as [string, string]
    sink.add({
      code: TranslationCode.waypointNotFound,
      severity: 'error',
      object,
      path,
      source,
      reason: `waypoint ${chosen.key} does not exist (no Gateway of class ${WAYPOINT_CLASS}); traffic through it fails closed rather than skip L7 policy`,
      hint: `create the waypoint (istioctl waypoint apply -n ${ns} --name ${name}) or remove the label`,
    })
    return hostnameAddress(ns, serviceHostname(name, ns), HBONE_PORT)
  }
  if (w.waypointFor === user.kind || w.waypointFor === 'all') return w.address
  // A namespace label reaches Services and pods alike; the waypoint taking only one of them is
  // the normal setup, not a finding. A label on the object itself that cannot bind is one.
  if (!onNamespace) {
    sink.add({
      code: TranslationCode.waypointForMismatch,
      severity: 'warning',
      object,
      path,
      source,
      reason: `waypoint ${chosen.key} is for ${w.waypointFor} traffic, not ${user.kind} traffic; this ${user.kind} uses no waypoint`,
      hint: `label the Gateway ${Label.waypointFor}=${user.kind} (or all)`,
    })
  }
  return undefined
}
