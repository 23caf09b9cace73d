// What every analyzer asks of the config, computed once per analysis: workloads (Pods and the pods a
// Deployment's template makes), ambient enrolment, waypoint use, Service lookup by host. The rules
// are Istio's (docs/istio-reference.md, "Waypoints"):
//  - a pod is in ambient when its own `istio.io/dataplane-mode` says `ambient`, else when its
//    Namespace's does (`none` on the pod opts out);
//  - `istio.io/use-waypoint` on a pod or Service beats its Namespace's; `none` opts out;
//    `istio.io/use-waypoint-namespace` on the same object names the Gateway's namespace.
// Translation (src/istiod/translate) applies the same rules; this module keeps its own copy so that
// analysis depends only on the committed model and can run when translation fails.
import { DEFAULT_ROOT_NAMESPACE, matchLabels } from '../../authz/authorization-policy.js'
import { fromAuthorizationPolicy, type Conversion } from '../../authz/from-authorization-policy.js'
import type {
  AuthorizationPolicy,
  ConfigObject,
  ConfigSnapshot,
  Deployment,
  Gateway,
  Labels,
  Namespace,
  Pod,
  Service,
} from '../resources/model.js'

export const Label = {
  dataplaneMode: 'istio.io/dataplane-mode',
  useWaypoint: 'istio.io/use-waypoint',
  useWaypointNamespace: 'istio.io/use-waypoint-namespace',
  waypointFor: 'istio.io/waypoint-for',
} as const

export const WAYPOINT_CLASS = 'istio-waypoint'
/** The DNS domain of Service hostnames (independent of the trust domain). */
export const DNS_DOMAIN = 'cluster.local'

export interface AnalysisOptions {
  /** Selector-less policies here apply mesh-wide. Default `istio-system`. */
  readonly rootNamespace?: string
  /** For the waypoint's principal. Default `cluster.local`. */
  readonly trustDomain?: string
}

/** A Pod object, or the pods a Deployment's template makes (one entry for all replicas). */
export interface Workload {
  readonly object: Pod | Deployment
  readonly namespace: string
  readonly labels: Labels
  readonly serviceAccount: string
  /** Where the labels are written, for messages. */
  readonly labelsPath: string
}

/** What an object's labels say about its waypoint. */
export type WaypointUse =
  | { readonly kind: 'none' }
  | {
      readonly kind: 'waypoint'
      readonly name: string
      readonly namespace: string
      readonly labelledBy: ConfigObject
      readonly path: string
    }

export type HostLookup =
  | { readonly kind: 'service'; readonly service: Service }
  | { readonly kind: 'missing'; readonly fqdn: string; readonly namespace: string }
  /** `name.namespace` (or `name.namespace.svc`): Istio reads it as a full name, which matches nothing. */
  | { readonly kind: 'not-fqdn'; readonly fqdn: string; readonly suggestion: string; readonly namespace: string }
  /** Wildcards and hosts outside the cluster (ServiceEntry, not modelled): not checked. */
  | { readonly kind: 'unchecked' }

export interface AnalysisContext {
  readonly snapshot: ConfigSnapshot
  readonly rootNamespace: string
  readonly trustDomain: string
  readonly workloads: readonly Workload[]
  namespace(name: string): Namespace | undefined
  service(namespace: string, name: string): Service | undefined
  gateway(namespace: string, name: string): Gateway | undefined
  /** Does the input describe this namespace (a Namespace object, a Service or a workload in it)? */
  describes(namespace: string): boolean
  isAmbient(w: Workload): boolean
  namespaceAmbient(namespace: string): boolean
  /** Workloads whose labels match `selector` in `namespace` (every namespace from the root one). */
  selectWorkloads(selector: Labels, namespace: string): Workload[]
  /** The workloads of one namespace, in the order of `workloads`. */
  namespaceWorkloads(namespace: string): readonly Workload[]
  /** Workloads a Service selects (none without a selector). */
  serviceEndpoints(service: Service): Workload[]
  serviceWaypoint(service: Service): WaypointUse
  workloadWaypoint(w: Workload): WaypointUse
  namespaceWaypoint(namespace: string): WaypointUse
  lookupHost(host: string, fromNamespace: string): HostLookup
  waypointPrincipal(gateway: Gateway): string
  /** The policy as ztunnel gets it (fromAuthorizationPolicy with the root namespace), converted once per object. */
  authorization(ap: AuthorizationPolicy): Conversion
}

export function isWaypointGateway(g: Gateway): boolean {
  return g.spec.gatewayClassName === WAYPOINT_CLASS
}

/**
 * `conversions`: AuthorizationPolicy conversions to reuse, by object (an earlier analysis's, with the
 * same root namespace); conversions made here are added to it.
 */
export function createAnalysisContext(
  snapshot: ConfigSnapshot,
  options: AnalysisOptions = {},
  conversions: Map<AuthorizationPolicy, Conversion> = new Map(),
): AnalysisContext {
  const rootNamespace = options.rootNamespace ?? DEFAULT_ROOT_NAMESPACE
  const trustDomain = options.trustDomain ?? 'cluster.local'
  const byKey = <T extends ConfigObject>(list: readonly T[]) => new Map(list.map((o) => [`${o.metadata.namespace}/${o.metadata.name}`, o]))
  const namespaces = new Map(snapshot.Namespace.map((n) => [n.metadata.name, n]))
  const services = byKey(snapshot.Service)
  const gateways = byKey(snapshot.Gateway)
  const workloads: Workload[] = [
    ...snapshot.Pod.map((p) => ({
      object: p,
      namespace: p.metadata.namespace,
      labels: p.metadata.labels,
      serviceAccount: p.spec.serviceAccountName,
      labelsPath: 'metadata.labels',
    })),
    ...snapshot.Deployment.map((d) => ({
      object: d,
      namespace: d.metadata.namespace,
      labels: d.spec.template.metadata.labels,
      serviceAccount: d.spec.template.spec.serviceAccountName,
      labelsPath: 'spec.template.metadata.labels',
    })),
  ]
  // Selectors look within one namespace: its workloads, in the same order as `workloads`.
  const workloadsIn = new Map<string, Workload[]>()
  for (const w of workloads) {
    const list = workloadsIn.get(w.namespace)
    if (list === undefined) workloadsIn.set(w.namespace, [w])
    else list.push(w)
  }
  const described = new Set([
    ...namespaces.keys(),
    ...snapshot.Service.map((s) => s.metadata.namespace),
    ...workloads.map((w) => w.namespace),
  ])

  const namespaceAmbient = (ns: string) => namespaces.get(ns)?.metadata.labels[Label.dataplaneMode] === 'ambient'

  /** The waypoint named by one object's own labels, if it names one (or opts out). */
  const ownUse = (obj: ConfigObject, labels: Labels, labelsPath: string): WaypointUse | undefined => {
    const name = labels[Label.useWaypoint]
    if (name === undefined || name === '') return undefined
    if (name === 'none') return { kind: 'none' }
    const namespace = labels[Label.useWaypointNamespace] ?? obj.metadata.namespace
    return { kind: 'waypoint', name, namespace, labelledBy: obj, path: `${labelsPath}['${Label.useWaypoint}']` }
  }
  const namespaceWaypoint = (ns: string): WaypointUse => {
    const n = namespaces.get(ns)
    // A Namespace's own labels: its namespace field is '', so the default is the Namespace itself.
    if (n === undefined) return { kind: 'none' }
    const use = ownUse(n, n.metadata.labels, 'metadata.labels')
    if (use?.kind === 'waypoint' && n.metadata.labels[Label.useWaypointNamespace] === undefined) return { ...use, namespace: ns }
    return use ?? { kind: 'none' }
  }

  const ctx: AnalysisContext = {
    snapshot,
    rootNamespace,
    trustDomain,
    workloads,
    namespace: (name) => namespaces.get(name),
    service: (ns, name) => services.get(`${ns}/${name}`),
    gateway: (ns, name) => gateways.get(`${ns}/${name}`),
    describes: (ns) => described.has(ns),
    namespaceAmbient,
    isAmbient: (w) => {
      const own = w.labels[Label.dataplaneMode]
      return own !== undefined ? own === 'ambient' : namespaceAmbient(w.namespace)
    },
    namespaceWorkloads: (ns) => workloadsIn.get(ns) ?? [],
    selectWorkloads: (selector, ns) =>
      (ns === rootNamespace ? workloads : (workloadsIn.get(ns) ?? [])).filter((w) => matchLabels(selector, w.labels)),
    serviceEndpoints: (svc) => {
      const sel = svc.spec.selector
      if (sel === undefined || Object.keys(sel).length === 0) return []
      return (workloadsIn.get(svc.metadata.namespace) ?? []).filter((w) => matchLabels(sel, w.labels))
    },
    serviceWaypoint: (svc) => ownUse(svc, svc.metadata.labels, 'metadata.labels') ?? namespaceWaypoint(svc.metadata.namespace),
    workloadWaypoint: (w) => ownUse(w.object, w.labels, w.labelsPath) ?? namespaceWaypoint(w.namespace),
    namespaceWaypoint,
    lookupHost: (host, fromNamespace) => lookupHost(host, fromNamespace, services, described),
    waypointPrincipal: (g) => `${trustDomain}/ns/${g.metadata.namespace}/sa/${g.metadata.name}`,
    authorization: (ap) => {
      let c = conversions.get(ap)
      if (c === undefined) {
        c = fromAuthorizationPolicy(ap, { rootNamespace })
        conversions.set(ap, c)
      }
      return c
    },
  }
  return ctx
}

const SERVICE_SUFFIX = `.svc.${DNS_DOMAIN}`

/**
 * Istio's host resolution for route destinations: a name without a dot is a Service of the
 * referring namespace; anything with a dot is taken as written (so `reviews.default` is NOT
 * `reviews.default.svc.cluster.local`, a classic mistake we point out).
 */
function lookupHost(
  host: string,
  fromNamespace: string,
  services: ReadonlyMap<string, Service>,
  described: ReadonlySet<string>,
): HostLookup {
  if (host.includes('*')) return { kind: 'unchecked' }
  if (!host.includes('.')) {
    const svc = services.get(`${fromNamespace}/${host}`)
    return svc
      ? { kind: 'service', service: svc }
      : { kind: 'missing', fqdn: `${host}.${fromNamespace}${SERVICE_SUFFIX}`, namespace: fromNamespace }
  }
  if (host.endsWith(SERVICE_SUFFIX)) {
    const parts = host.slice(0, -SERVICE_SUFFIX.length).split('.')
    const [name, ns] = parts
    if (parts.length !== 2 || name === undefined || ns === undefined) return { kind: 'missing', fqdn: host, namespace: fromNamespace }
    const svc = services.get(`${ns}/${name}`)
    return svc ? { kind: 'service', service: svc } : { kind: 'missing', fqdn: host, namespace: ns }
  }
  const short = /^([a-z0-9-]+)\.([a-z0-9-]+)(\.svc)?$/.exec(host)
  if (short !== null && short[1] !== undefined && short[2] !== undefined && described.has(short[2])) {
    return { kind: 'not-fqdn', fqdn: host, suggestion: `${short[1]}.${short[2]}${SERVICE_SUFFIX}`, namespace: short[2] }
  }
  return { kind: 'unchecked' }
}

/** `Kind namespace/name`, as istioctl analyze names objects (`Kind name` when cluster-scoped). */
export function objectName(obj: {
  readonly kind: string
  readonly metadata: { readonly name: string; readonly namespace: string }
}): string {
  const { name, namespace } = obj.metadata
  return namespace === '' ? `${obj.kind} ${name}` : `${obj.kind} ${namespace}/${name}`
}

export function formatLabels(labels: Labels): string {
  return Object.entries(labels)
    .map(([k, v]) => `${k}=${v}`)
    .join(',')
}
