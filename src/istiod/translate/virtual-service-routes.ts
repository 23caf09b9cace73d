// VirtualService → the HTTP routes a waypoint applies to one served Service port. Which
// VirtualService: one that applies to the mesh (`gateways` empty or listing `mesh`), is visible to
// the waypoint's namespace (`exportTo`), and has a host that, resolved relative to the
// VirtualService's namespace (./hosts.ts: Istio's short-name rule), matches the Service. When
// several do, exact hosts beat wildcards, then the first by namespace/name is used and the others
// are reported (istioctl analyze IST0109). Per route: matches restricted to the port, destinations
// resolved to clusters with weights, retries/timeout/fault/mirror/rewrite/headers with every default.
import type { HttpFault, HttpMatchRequest, VirtualService, VirtualServiceHttpRoute } from '../resources/model.js'
import { objectKey } from '../resources/model.js'
import type { ClusterRegistry, MeshIndex } from './clusters.js'
import { visibleTo } from './destination-rules.js'
import { hostMatches, hostSpecificity, meantAsService, resolveHost } from './hosts.js'
import type { MessageSink } from './messages.js'
import { TranslationCode, cmp } from './messages.js'
import { destinationPort, headerOperations, namedMatches, retryPolicy, stringMatch, weights } from './route-parts.js'
import type { FaultInjection, HttpMatch, HttpRoute, Mirror, RouteAction, WeightedDestination } from '../../mesh/waypoint-config.js'

export function appliesToMesh(vs: VirtualService): boolean {
  return vs.spec.gateways.length === 0 || vs.spec.gateways.includes('mesh')
}

/** The VirtualService for a Service as seen from a waypoint namespace, reporting any it shadows. */
export function virtualServiceFor(
  all: readonly VirtualService[],
  hostname: string,
  clientNamespace: string,
  sink: MessageSink,
): VirtualService | undefined {
  const candidates = all
    .filter((vs) => appliesToMesh(vs) && visibleTo(vs, clientNamespace) && vs.spec.http.length > 0)
    .map((vs) => ({
      vs,
      best: Math.max(
        -1,
        ...vs.spec.hosts
          .map((h) => resolveHost(h, vs.metadata.namespace))
          .filter((h) => hostMatches(h, hostname))
          .map(hostSpecificity),
      ),
    }))
    .filter((c) => c.best >= 0)
    .sort((a, b) => b.best - a.best || cmp(a.vs.metadata.namespace, b.vs.metadata.namespace) || cmp(a.vs.metadata.name, b.vs.metadata.name))
  const chosen = candidates[0]?.vs
  for (const { vs } of candidates.slice(1)) {
    sink.add({
      code: TranslationCode.virtualServiceConflict,
      severity: 'warning',
      object: objectKey(vs),
      path: 'spec.hosts',
      source: vs.source,
      reason: `${objectKey(chosen!)} also routes ${hostname}; only that one is used`,
      hint: 'keep one VirtualService per host (merge their http routes)',
    })
  }
  return chosen
}

/** Reports hosts written `name.namespace`, which Istio takes as full names that match nothing. */
export function checkVirtualServiceHosts(all: readonly VirtualService[], serviceHostnames: ReadonlySet<string>, sink: MessageSink): void {
  for (const vs of all) {
    vs.spec.hosts.forEach((h, i) => {
      const meant = serviceHostnames.has(h) ? undefined : meantAsService(h, serviceHostnames)
      if (meant === undefined) return
      sink.add({
        code: TranslationCode.virtualServiceHostNotFqdn,
        severity: 'warning',
        object: objectKey(vs),
        path: `spec.hosts[${i}]`,
        source: vs.source,
        reason: `"${h}" has a dot, so Istio reads it as a full hostname (not ${meant}); this host matches no Service`,
        hint: `write "${meant}" (or the short name, if the Service is in namespace ${vs.metadata.namespace})`,
      })
    })
  }
}

export interface RouteContext {
  readonly mesh: MeshIndex
  readonly clusters: ClusterRegistry
  readonly sink: MessageSink
}

/** The routes of `vs` for requests arriving on `port` of the served Service. */
export function virtualServiceRoutes(vs: VirtualService, port: number, ctx: RouteContext): HttpRoute[] {
  const out: HttpRoute[] = []
  vs.spec.http.forEach((r, i) => {
    const path = `spec.http[${i}]`
    const matches = r.match.filter((m, j) => matchApplies(vs, m, port, `${path}.match[${j}]`, ctx.sink))
    if (r.match.length > 0 && matches.length === 0) return // every match is for another port
    out.push({
      name: r.name ?? `${objectKey(vs)}#${i}`,
      matches: matches.map(httpMatch),
      action: action(vs, r, port, path, ctx),
      timeoutMs: r.timeoutMs === undefined || r.timeoutMs === 0 ? null : r.timeoutMs,
      retries: retryPolicy(r.retries),
      fault: fault(vs, r.fault, `${path}.fault`, ctx.sink),
      mirrors: r.mirror === undefined ? [] : [mirror(vs, r, port, `${path}.mirror`, ctx)],
      rewrite:
        r.rewrite === undefined
          ? null
          : {
              uriPrefix: r.rewrite.uri ?? null,
              fullPath: null,
              uriRegex: r.rewrite.uriRegexRewrite ?? null,
              authority: r.rewrite.authority ?? null,
            },
      headers: headerOperations(r.headers),
    })
  })
  return out
}

function matchApplies(vs: VirtualService, m: HttpMatchRequest, port: number, path: string, sink: MessageSink): boolean {
  if (m.port !== undefined && m.port !== port) return false
  if (m.gateways.length > 0 && !m.gateways.includes('mesh')) return false
  if (Object.keys(m.sourceLabels).length > 0) {
    // A waypoint knows its client by identity, not labels. Ignoring the condition would send every
    // client where only some should go, so the match is dropped instead (it never matches).
    sink.add({
      code: TranslationCode.unsupportedField,
      severity: 'warning',
      object: objectKey(vs),
      path: `${path}.sourceLabels`,
      source: vs.source,
      reason: 'sourceLabels cannot be evaluated at a waypoint; this match never matches',
      hint: 'match on a request header set by the client instead',
    })
    return false
  }
  return true
}

function httpMatch(m: HttpMatchRequest): HttpMatch {
  return {
    path: m.uri === undefined ? null : stringMatch(m.uri),
    ignoreUriCase: m.ignoreUriCase,
    method: m.method === undefined ? null : stringMatch(m.method),
    scheme: m.scheme === undefined ? null : stringMatch(m.scheme),
    authority: m.authority === undefined ? null : stringMatch(m.authority),
    headers: namedMatches(m.headers, 'header'),
    withoutHeaders: namedMatches(m.withoutHeaders, 'header'),
    queryParams: namedMatches(m.queryParams, 'query'),
  }
}

function action(vs: VirtualService, r: VirtualServiceHttpRoute, port: number, path: string, ctx: RouteContext): RouteAction {
  if (r.redirect !== undefined) {
    const d = r.redirect
    return {
      kind: 'redirect',
      redirect: {
        scheme: d.scheme ?? null,
        authority: d.authority ?? null,
        port: d.port ?? null,
        path: d.uri ?? null,
        pathPrefix: null,
        statusCode: d.redirectCode,
      },
    }
  }
  if (r.directResponse !== undefined)
    return { kind: 'directResponse', status: r.directResponse.status, body: r.directResponse.body ?? null }
  const w = weights(r.route.map((d) => d.weight))
  const destinations: WeightedDestination[] = r.route.map((d, i) => ({
    ...destination(vs, d.destination.host, d.destination.port, d.destination.subset, port, `${path}.route[${i}].destination`, ctx),
    weight: w[i] ?? 0,
    headers: headerOperations(d.headers),
  }))
  return { kind: 'forward', destinations }
}

function destination(
  vs: VirtualService,
  host: string,
  writtenPort: number | undefined,
  subset: string | undefined,
  port: number,
  path: string,
  ctx: RouteContext,
) {
  const hostname = resolveHost(host, vs.metadata.namespace)
  const target = ctx.mesh.serviceByHostname(hostname)
  const p = destinationPort(writtenPort, port, target)
  const { name, problem } = ctx.clusters.add(hostname, p, subset ?? null)
  if (problem === 'unknown-host') {
    ctx.sink.add({
      code: TranslationCode.unknownDestination,
      severity: 'error',
      object: objectKey(vs),
      path: `${path}.host`,
      source: vs.source,
      reason: `host "${host}" (${hostname}) is not a Service of the mesh; requests routed there get 503`,
      hint: 'name an existing Service: its short name in this namespace, or <name>.<namespace>.svc.cluster.local',
    })
  } else if (problem === 'unknown-subset') {
    ctx.sink.add({
      code: TranslationCode.unknownSubset,
      severity: 'error',
      object: objectKey(vs),
      path: `${path}.subset`,
      source: vs.source,
      reason: `no DestinationRule for ${hostname} defines subset "${subset}"; requests routed there get 503`,
      hint: `define the subset in a DestinationRule with host ${hostname}`,
    })
  }
  return { cluster: name, hostname, port: p, subset: subset ?? null }
}

function mirror(vs: VirtualService, r: VirtualServiceHttpRoute, port: number, path: string, ctx: RouteContext): Mirror {
  const m = r.mirror!
  return { ...destination(vs, m.host, m.port, m.subset, port, path, ctx), percentage: r.mirrorPercentage ?? 100 }
}

/**
 * Istio takes a fault's percentage from `percentage.value`, else from the deprecated integer
 * `percent`, whose zero value means no request: a fault written without either injects nothing.
 * That surprises people, so it is reported.
 */
function fault(vs: VirtualService, f: HttpFault | undefined, path: string, sink: MessageSink): FaultInjection | null {
  if (f === undefined) return null
  const pct = (p: number | undefined, what: string): number => {
    if (p !== undefined) return p
    sink.add({
      code: TranslationCode.unsupportedField,
      severity: 'info',
      object: objectKey(vs),
      path: `${path}.${what}.percentage`,
      source: vs.source,
      reason: `the ${what} has no percentage, so (as in Istio) no request gets it`,
      hint: `write ${what}.percentage.value: 100 to apply it to every request`,
    })
    return 0
  }
  return {
    delay: f.delay === undefined ? null : { fixedDelayMs: f.delay.fixedDelayMs, percentage: pct(f.delay.percentage, 'delay') },
    abort:
      f.abort === undefined
        ? null
        : { httpStatus: f.abort.httpStatus ?? null, grpcStatus: f.abort.grpcStatus ?? null, percentage: pct(f.abort.percentage, 'abort') },
  }
}
