// One WaypointConfig per waypoint Gateway (src/mesh/waypoint-config.ts): what it serves, how it routes
// each served Service port, the upstreams those routes reach, and the L7 policies it enforces.
//  - Services served: those whose (translated) `waypoint` names this waypoint's Service;
//    workloads served: pods whose `waypoint` names it (waypoint-for workload|all).
//  - Routes per Service port: the VirtualService for the host if there is one (./virtual-service-
//    routes.ts), else HTTPRoutes attached to the Service or the waypoint (./http-route-routes.ts),
//    else one default route to the Service itself. A VirtualService wins over HTTPRoutes for the
//    same Service (both present is reported), so one source decides a Service's routing.
//  - Port protocol: `appProtocol`, else the port name's prefix (Istio's protocol selection).
import type { GatewayAddress } from '../../mesh/types.js'
import type { ConfigSnapshot } from '../resources/model.js'
import { objectKey } from '../resources/model.js'
import { ClusterRegistry, spiffeIdentity, type MeshIndex, type ServiceEntry, type WorkloadEntry } from './clusters.js'
import { DEFAULT_CONNECT_TIMEOUT_MS } from './destination-rules.js'
import type { WaypointInfo } from './enrolment.js'
import { httpRouteRoutes, httpRoutesFor } from './http-route-routes.js'
import type { MessageSink } from './messages.js'
import { TranslationCode, cmp } from './messages.js'
import { DEFAULT_RETRIES, NO_HEADERS } from './route-parts.js'
import { virtualServiceFor, virtualServiceRoutes, type RouteContext } from './virtual-service-routes.js'
import type { WaypointPolicies } from './waypoint-authz.js'
import { waypointTelemetry } from './telemetry.js'
import {
  WAYPOINT_CONFIG_API_VERSION,
  type HttpRoute,
  type PortProtocol,
  type ServedPort,
  type ServedService,
  type WaypointConfig,
} from '../../mesh/waypoint-config.js'

export interface WaypointConfigInput {
  readonly snapshot: ConfigSnapshot
  readonly mesh: MeshIndex
  readonly services: readonly ServiceEntry[]
  readonly workloads: readonly WorkloadEntry[]
  readonly policies: WaypointPolicies
}

function names(address: GatewayAddress | undefined, w: WaypointInfo): boolean {
  if (address === undefined) return false
  if (address.kind === 'hostname') return address.namespace === w.namespace && address.hostname === w.hostname
  return w.address.kind === 'address' && address.address === w.address.address && address.network === w.address.network
}

export function waypointConfig(w: WaypointInfo, input: WaypointConfigInput, sink: MessageSink): WaypointConfig {
  const clusters = new ClusterRegistry(input.mesh, w.namespace)
  const ctx: RouteContext = { mesh: input.mesh, clusters, sink }
  const services: ServedService[] = input.services
    .filter((s) => names(s.mesh.waypoint, w))
    .sort((a, b) => cmp(a.mesh.hostname, b.mesh.hostname))
    .map((s) => servedService(s, w, input, ctx))
  const workloads = input.workloads
    .filter((e) => names(e.workload.waypoint, w))
    .map(({ workload: wl }) => ({
      uid: wl.uid,
      name: wl.name,
      namespace: wl.namespace,
      addresses: wl.addresses,
      identity: spiffeIdentity(wl.trustDomain, wl.namespace, wl.serviceAccount),
      hbonePort: w.hbonePort,
    }))
    .sort((a, b) => cmp(a.uid, b.uid))
  return {
    apiVersion: WAYPOINT_CONFIG_API_VERSION,
    name: w.name,
    namespace: w.namespace,
    identity: spiffeIdentity(input.mesh.trustDomain, w.namespace, w.name),
    trustDomain: input.mesh.trustDomain,
    waypointFor: w.waypointFor,
    hbonePort: w.hbonePort,
    services,
    workloads,
    clusters: clusters.list(),
    authorization: input.policies.forWaypoint(`${w.namespace}/${w.name}`),
    defaults: { retries: DEFAULT_RETRIES, connectTimeoutMs: DEFAULT_CONNECT_TIMEOUT_MS },
    telemetry: waypointTelemetry(input.snapshot.Telemetry, w, input.mesh.rootNamespace),
  }
}

/** Also used by the sidecar configs (./sidecar-config.ts), with the client pod's namespace as `w.namespace`. */
export function servedService(
  s: ServiceEntry,
  w: Pick<WaypointInfo, 'namespace' | 'name'>,
  input: WaypointConfigInput,
  ctx: RouteContext,
): ServedService {
  const { snapshot } = input
  const vs = virtualServiceFor(snapshot.VirtualService, s.mesh.hostname, w.namespace, ctx.sink)
  const ports = s.k8s.spec.ports.map((p): ServedPort => {
    const routesFromHttp = httpRoutesFor(snapshot.HTTPRoute, s, p.port, w)
    if (vs !== undefined && routesFromHttp.length > 0) {
      ctx.sink.add({
        code: TranslationCode.virtualServiceConflict,
        severity: 'warning',
        object: objectKey(routesFromHttp[0]!),
        path: 'spec.parentRefs',
        source: routesFromHttp[0]!.source,
        reason: `${objectKey(vs)} also routes ${s.mesh.hostname}; the VirtualService is used and this HTTPRoute is ignored for it`,
        hint: 'route a Service with either VirtualServices or HTTPRoutes, not both',
      })
    }
    let routes: HttpRoute[]
    let routeSource: string[]
    if (vs !== undefined) {
      routes = virtualServiceRoutes(vs, p.port, ctx)
      routeSource = [objectKey(vs)]
    } else if (routesFromHttp.length > 0) {
      routes = httpRouteRoutes(routesFromHttp, p.port, ctx)
      routeSource = routesFromHttp.map(objectKey)
    } else {
      routes = [defaultRoute(s, p.port, ctx)]
      routeSource = ['default']
    }
    return {
      port: p.port,
      protocol: protocolOf(p.name, p.appProtocol),
      routes,
      tcpCluster: ctx.clusters.add(s.mesh.hostname, p.port, null).name,
      routeSource,
    }
  })
  return {
    hostname: s.mesh.hostname,
    name: s.mesh.name,
    namespace: s.mesh.namespace,
    addresses: s.mesh.addresses,
    ports,
    authorization: input.policies.forService(s.mesh.namespace, s.mesh.name),
  }
}

/** Without config, a request goes to the Service it was sent to, on the same port. */
function defaultRoute(s: ServiceEntry, port: number, ctx: RouteContext): HttpRoute {
  const { name } = ctx.clusters.add(s.mesh.hostname, port, null)
  return {
    name: 'default',
    matches: [],
    action: {
      kind: 'forward',
      destinations: [{ cluster: name, hostname: s.mesh.hostname, port, subset: null, weight: 100, headers: NO_HEADERS }],
    },
    timeoutMs: null,
    retries: DEFAULT_RETRIES,
    fault: null,
    mirrors: [],
    rewrite: null,
    headers: NO_HEADERS,
  }
}

/** Istio's protocol selection: appProtocol, else `<protocol>[-<suffix>]` port names. */
export function protocolOf(name: string | undefined, appProtocol: string | undefined): PortProtocol {
  const pick = (p: string): PortProtocol | undefined => {
    const v = p.toLowerCase()
    if (v === 'http' || v === 'http1' || v === 'http/1.1') return 'HTTP'
    if (v === 'http2' || v === 'h2c' || v === 'kubernetes.io/h2c') return 'HTTP2'
    if (v === 'grpc' || v === 'grpc-web') return 'GRPC'
    if (v === 'tcp' || v === 'tls' || v === 'https' || v === 'mongo' || v === 'mysql' || v === 'redis') return 'TCP'
    return undefined
  }
  if (appProtocol !== undefined) {
    const p = pick(appProtocol)
    if (p !== undefined) return p
  }
  if (name !== undefined) {
    const p = pick(name.split('-')[0] ?? '')
    if (p !== undefined) return p
  }
  return 'UNKNOWN'
}
