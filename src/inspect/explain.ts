// `ambient explain`, the engine: the hop-by-hop path one connection (or HTTP request) takes through
// the ambient mesh, predicted from mesh state and the waypoints' configs alone. Pure: no I/O, no
// clock, no randomness (a Service's endpoint is the one a zero draw picks; the others are named).
//
//   capture → source ztunnel (planOutbound) → waypoint? (L7 authz, route, upstream pick)
//           → destination ztunnel (L4 authz on the identity it sees) → pod
//
// Every decision reuses the data path's own engines (planOutbound, checkAuthorization → planInbound
// → authorize, authorizeRequest / explainConnection, matchRoute), so a prediction cannot drift
// from what the proxies do. On top it names ambient's traps: the waypoint replacing the client's
// identity at the destination ztunnel, HTTP rules that ztunnel enforces without their HTTP parts, a
// missing waypoint (fail closed), and a destination that allows nobody the waypoint is.
import { assertNever } from '../errors.js'
import { AmbientError } from '../errors.js'
import { SpiffeId } from '../identity/spiffe-id.js'
import { resolveServiceHostname } from '../mesh/hostname-resolution.js'
import type { MeshView, Service, Workload } from '../mesh/types.js'
import type { HttpRoute, RetryPolicy, ServedPort, WaypointConfig } from '../mesh/waypoint-config.js'
import { applicablePolicies, authorizeRequest, type L7AuthzDecision } from '../l7/engines/l7-authz.js'
import { matchRoute } from '../l7/engines/route-match.js'
import { explainConnection } from '../l7/l4-authz.js'
import { resolveServedDestination } from '../l7/served-destination.js'
import { checkAuthorization, type AuthzCheck } from '../ztunnel/authz-check.js'
import { OutboundRejectCode, planOutbound, type OutboundDestination } from '../ztunnel/outbound-plan.js'
import { workloadIdentity } from '../ztunnel/workload-identity.js'
import { formatAuthority, isValidPort } from '../net/address.js'

export const ExplainErrorCode = {
  unknownSource: 'EXPLAIN_UNKNOWN_SOURCE',
  unknownDestination: 'EXPLAIN_UNKNOWN_DESTINATION',
  noPort: 'EXPLAIN_NO_PORT',
} as const

export const TrapCode = {
  /** Via a waypoint: the destination ztunnel sees the waypoint's principal, not the client's. */
  waypointReplacesSource: 'WAYPOINT_REPLACES_SOURCE',
  /** A policy with HTTP fields enforced by ztunnel: its HTTP parts are dropped (ALLOW) or ignored (DENY). */
  httpRulesAtZtunnel: 'HTTP_RULES_AT_ZTUNNEL',
  /** The destination names a waypoint that does not exist or has no healthy instance: fail closed. */
  missingWaypoint: 'MISSING_WAYPOINT',
  /** The destination has ALLOW policies and none admits the waypoint's principal. */
  noAllowForWaypoint: 'NO_ALLOW_FOR_WAYPOINT',
  /** HTTP attributes were asked about, but no waypoint is on the path: nobody reads them. */
  httpWithoutWaypoint: 'HTTP_WITHOUT_WAYPOINT',
  /** The source is not captured (not in ambient): no identity, no source ztunnel. */
  sourceNotCaptured: 'SOURCE_NOT_CAPTURED',
} as const
export type TrapCode = (typeof TrapCode)[keyof typeof TrapCode]

export type HopComponent = 'capture' | 'source-ztunnel' | 'waypoint' | 'destination-ztunnel' | 'destination'
export type Verdict = 'ALLOW' | 'DENY'

export interface PolicyConsidered {
  /** `namespace/name`. */
  readonly policy: string
  readonly action: string
  /** ztunnel's scope (GLOBAL, NAMESPACE, WORKLOAD_SELECTOR) or, at a waypoint, what it targets. */
  readonly scope: string
  readonly dryRun: boolean
  readonly matched: boolean
  readonly deciding: boolean
  /** The matching rule, or why each rule failed. */
  readonly detail: string
}

export interface HopDecision {
  /** The enforcement point, e.g. `L4 authorization`, `L7 authorization`, `routing`, `outbound plan`. */
  readonly point: string
  readonly verdict: Verdict
  readonly reason: string
  readonly decidingPolicy: string | null
  readonly decidingRule: string | null
  readonly policies: readonly PolicyConsidered[]
}

export interface Hop {
  readonly component: HopComponent
  /** e.g. `pod default/curl-…`, `ztunnel node-1`, `waypoint default/reviews-waypoint`. */
  readonly name: string
  readonly node: string | null
  /** Where this hop is reached (pod IP, HBONE address, VIP:port). */
  readonly address: string | null
  /** The identity this hop presents (its certificate), SPIFFE URI; null for none. */
  readonly identity: string | null
  /** The peer identity this hop sees on the connection it receives; null = plaintext / not applicable. */
  readonly peerIdentity: string | null
  /** What it does with the connection. */
  readonly action: string
  readonly decisions: readonly HopDecision[]
  readonly notes: readonly string[]
}

export interface Trap {
  readonly code: TrapCode
  readonly hop: HopComponent
  readonly message: string
}

/** What the client should observe. */
export type ExpectedOutcome =
  | { readonly kind: 'allowed' }
  /** The connection fails before any HTTP answer (SOCKS failure or closed tunnel). */
  | { readonly kind: 'refused'; readonly by: HopComponent }
  /** The mesh itself answers with this HTTP status (403 RBAC, 404 no route, 503 upstream refused, a direct response). */
  | { readonly kind: 'http'; readonly status: number; readonly by: HopComponent }

export interface ExplainRequest {
  /** Pod name, Deployment name, or `namespace/name`. */
  readonly from: string
  /** A Service name (as the pod would write it), a pod/Deployment name, or an IP; `:PORT` optional. */
  readonly to: string
  /** The namespace of a bare `from` when several match; default: `default` wins ties. */
  readonly namespace?: string
  readonly method?: string
  readonly path?: string
  readonly headers?: Readonly<Record<string, string>>
}

export interface ExplainInput extends ExplainRequest {
  readonly mesh: MeshView
  readonly waypoints: readonly WaypointConfig[]
  /** istiod's findings: policy `namespace/name` → why ztunnel enforces it without its HTTP rules. */
  readonly ztunnelHttpFindings?: ReadonlyMap<string, string>
}

export interface Explanation {
  readonly source: {
    readonly pod: string
    readonly namespace: string
    readonly node: string
    readonly address: string
    readonly identity: string | null
  }
  readonly destination: {
    readonly asked: string
    readonly kind: 'service' | 'workload' | 'ip'
    readonly name: string
    readonly address: string
    readonly port: number
    readonly host: string
  }
  readonly request: { readonly method: string; readonly path: string } | null
  readonly hops: readonly Hop[]
  readonly traps: readonly Trap[]
  readonly verdict: Verdict
  readonly decidedAt: HopComponent | null
  readonly reason: string
  readonly expected: ExpectedOutcome
}

// --- resolving what was asked --------------------------------------------------------------------

/** The source pod: exact pod name, then Deployment (workloadName), then canonical app name. */
export function findWorkload(mesh: MeshView, ref: string, namespace: string | undefined): Workload | undefined {
  const slash = ref.indexOf('/')
  const [ns, name] =
    slash > 0 && !/^(deploy|deployment|pod)\//.test(ref)
      ? [ref.slice(0, slash), ref.slice(slash + 1)]
      : [namespace, ref.replace(/^(deploy|deployment|pod)\//, '')]
  const pool = mesh
    .workloads()
    .filter((w) => ns === undefined || w.namespace === ns)
    .sort((a, b) => Number(b.namespace === 'default') - Number(a.namespace === 'default') || a.name.localeCompare(b.name))
  return pool.find((w) => w.name === name) ?? pool.find((w) => w.workloadName === name) ?? pool.find((w) => w.canonicalName === name)
}

interface Target {
  readonly kind: 'service' | 'workload' | 'ip'
  readonly name: string
  readonly dst: OutboundDestination
  readonly service?: Service
  readonly workload?: Workload
  /** The Host header a client would send. */
  readonly host: string
  readonly address: string
  readonly port: number
}

function splitHostPort(text: string): { host: string; port: number | undefined } {
  const m = /^(.*?)(?::(\d+))?$/.exec(text.trim())!
  if (text.startsWith('[')) {
    const close = text.indexOf(']')
    const rest = text.slice(close + 1)
    return { host: text.slice(1, close), port: rest.startsWith(':') ? Number(rest.slice(1)) : undefined }
  }
  if ((text.match(/:/g) ?? []).length > 1) return { host: text, port: undefined } // bare IPv6
  return { host: m[1]!, port: m[2] === undefined ? undefined : Number(m[2]) }
}

function resolveTarget(mesh: MeshView, source: Workload, to: string): Target {
  const { host, port } = splitHostPort(to)
  const forced = /^(pod|deploy|deployment)\//.test(host)
  if (!forced) {
    const r = resolveServiceHostname({ name: host, sourceNamespace: source.namespace, lookup: (h) => mesh.servicesByHostname(h) })
    if (r.kind === 'ip') {
      const p = requirePort(port, `--to ${to}: an IP needs a port`)
      const svc = mesh.serviceByAddress(r.ip, source.network)
      const wl = mesh.workloadByAddress(r.ip, source.network)
      const name = svc !== undefined ? `service ${svc.namespace}/${svc.name}` : wl !== undefined ? `pod ${wl.namespace}/${wl.name}` : r.ip
      return {
        kind: svc !== undefined ? 'service' : wl !== undefined ? 'workload' : 'ip',
        name,
        dst: { ip: r.ip, port: p },
        ...(svc ? { service: svc } : {}),
        ...(wl ? { workload: wl } : {}),
        host: `${r.ip}:${p}`,
        address: r.ip,
        port: p,
      }
    }
    if (r.kind === 'service') {
      const svc = r.service
      const p = port ?? svc.ports[0]?.servicePort
      if (p === undefined)
        throw new AmbientError(
          ExplainErrorCode.noPort,
          `service ${svc.namespace}/${svc.name} has no ports: name one with --to ${host}:PORT`,
          { side: 'config' },
        )
      const address = r.vip ?? '(no VIP)'
      return {
        kind: 'service',
        name: `service ${svc.namespace}/${svc.name}`,
        dst: r.vip === undefined ? { service: svc, port: p } : { ip: r.vip, port: p },
        service: svc,
        host: `${host}:${p}`,
        address,
        port: p,
      }
    }
  }
  const wl = findWorkload(mesh, host, source.namespace) ?? findWorkload(mesh, host, undefined)
  const ip = wl?.addresses[0]
  if (wl === undefined || ip === undefined) {
    throw new AmbientError(
      ExplainErrorCode.unknownDestination,
      `--to ${to}: no Service (from namespace ${source.namespace}) and no pod with an address is called "${host}"`,
      { side: 'config' },
    )
  }
  const p = port ?? [...wl.services.values()].flat()[0]?.targetPort
  const chosen = requirePort(p === 0 ? undefined : p, `--to ${to}: name the pod's port (--to ${host}:PORT)`)
  return {
    kind: 'workload',
    name: `pod ${wl.namespace}/${wl.name}`,
    dst: { ip, port: chosen },
    workload: wl,
    host: `${ip}:${chosen}`,
    address: ip,
    port: chosen,
  }
}

function requirePort(port: number | undefined, message: string): number {
  if (port === undefined || !isValidPort(port)) throw new AmbientError(ExplainErrorCode.noPort, message, { side: 'config' })
  return port
}

// --- the walk ------------------------------------------------------------------------------------

const HTTP_PROTOCOLS = new Set(['HTTP', 'HTTP2', 'GRPC'])
const REFUSING_WAYPOINT_CODES: ReadonlySet<string> = new Set([OutboundRejectCode.unknownWaypoint, OutboundRejectCode.waypointUnavailable])

export function explain(input: ExplainInput): Explanation {
  const { mesh } = input
  const found = findWorkload(mesh, input.from, input.namespace)
  const foundIp = found?.addresses[0]
  if (found === undefined || foundIp === undefined) {
    throw new AmbientError(
      ExplainErrorCode.unknownSource,
      `--from ${input.from}: no pod (or Deployment) with an address of that name${input.namespace === undefined ? '' : ` in namespace ${input.namespace}`}`,
      { side: 'config' },
    )
  }
  const source: Workload = found
  const srcIp: string = foundIp
  const target = resolveTarget(mesh, source, input.to)
  const srcId = workloadIdentity(source)
  const httpAsked = input.method !== undefined || input.path !== undefined
  const request = httpAsked ? { method: (input.method ?? 'GET').toUpperCase(), path: input.path ?? '/' } : null
  const hops: Hop[] = []
  const traps: Trap[] = []
  const findings = input.ztunnelHttpFindings ?? new Map<string, string>()

  const result = (verdict: Verdict, decidedAt: HopComponent | null, reason: string, expected: ExpectedOutcome): Explanation => ({
    source: { pod: source.name, namespace: source.namespace, node: source.node, address: srcIp, identity: srcId?.toString() ?? null },
    destination: { asked: input.to, kind: target.kind, name: target.name, address: target.address, port: target.port, host: target.host },
    request,
    hops,
    traps,
    verdict,
    decidedAt,
    reason,
    expected,
  })

  const captured = source.tunnelProtocol === 'HBONE'
  hops.push({
    component: 'capture',
    name: `pod ${source.namespace}/${source.name}`,
    node: source.node,
    address: srcIp,
    identity: captured ? (srcId?.toString() ?? null) : null,
    peerIdentity: null,
    action: captured
      ? `captured by its node's ztunnel (${source.node}); connects to ${target.host}`
      : 'not in ambient (tunnel protocol NONE): not captured, connects as plain TCP',
    decisions: [],
    notes: [],
  })

  if (!captured) {
    traps.push({
      code: TrapCode.sourceNotCaptured,
      hop: 'capture',
      message:
        `${source.namespace}/${source.name} is not in ambient: its connections carry no identity, so ` +
        `principal/namespace rules cannot match it and a Service's waypoint is not used`,
    })
    const dstWl =
      target.workload ?? (target.service ? mesh.endpointsOf(`${target.service.namespace}/${target.service.hostname}`)[0] : undefined)
    if (dstWl === undefined || dstWl.tunnelProtocol !== 'HBONE') {
      hops.push(destinationHop(target, dstWl, null, 'plain TCP, outside the mesh: no policy applies'))
      return result('ALLOW', null, 'neither side is in the mesh: plain TCP, no policy applies', { kind: 'allowed' })
    }
    const port = target.service ? servicePortTarget(dstWl, target.service, target.port) : target.port
    return finishAtDestinationZtunnel(checkAuthorization({ mesh, srcIdentity: undefined, srcIp, dst: { ip: dstWl.addresses[0]!, port } }), {
      viaWaypoint: false,
      seenIdentity: null,
    })
  }

  const plan = planOutbound({ mesh, source, dst: target.dst, random: () => 0 })
  const ztunnelHop = (action: string, decisions: HopDecision[] = [], notes: string[] = []): Hop => ({
    component: 'source-ztunnel',
    name: `ztunnel ${source.node}`,
    node: source.node,
    address: null,
    identity: srcId?.toString() ?? null,
    peerIdentity: null,
    action,
    decisions,
    notes,
  })

  switch (plan.kind) {
    case 'reject': {
      const d: HopDecision = {
        point: 'outbound plan',
        verdict: 'DENY',
        reason: plan.reason.message,
        decidingPolicy: null,
        decidingRule: null,
        policies: [],
      }
      hops.push(ztunnelHop(`refuses the connection [${plan.reason.code}]`, [d]))
      if (REFUSING_WAYPOINT_CODES.has(plan.reason.code)) {
        traps.push({
          code: TrapCode.missingWaypoint,
          hop: 'source-ztunnel',
          message:
            `${plan.reason.message}: ztunnel fails closed rather than skip the waypoint's L7 policy; deploy the ` +
            `waypoint (or remove istio.io/use-waypoint)`,
        })
      }
      return result('DENY', 'source-ztunnel', plan.reason.message, { kind: 'refused', by: 'source-ztunnel' })
    }
    case 'passthrough': {
      hops.push(ztunnelHop(plan.reason))
      hops.push(destinationHop(target, plan.destinationWorkload, null, 'plain TCP: no mesh policy applies'))
      noteHttpWithoutWaypoint()
      return result('ALLOW', null, plan.reason, { kind: 'allowed' })
    }
    case 'hbone': {
      const notes = endpointNotes(target.service, plan.destinationWorkload)
      hops.push(ztunnelHop(plan.reason, [], notes))
      noteHttpWithoutWaypoint()
      const check = checkAuthorization({ mesh, srcIdentity: srcId, srcIp, dst: plan.authority })
      return finishAtDestinationZtunnel(check, { viaWaypoint: false, seenIdentity: srcId?.toString() ?? null })
    }
    case 'via-waypoint':
      return viaWaypoint(plan)
    default:
      return assertNever(plan, 'outbound plan')
  }

  function noteHttpWithoutWaypoint(): void {
    if (request === null) return
    traps.push({
      code: TrapCode.httpWithoutWaypoint,
      hop: 'source-ztunnel',
      message:
        `no waypoint is on this path, so nothing reads ${request.method} ${request.path}: ztunnel decides ` +
        `on L4 facts only (identity, IPs, port); HTTP rules need a waypoint`,
    })
  }

  function viaWaypoint(plan: Extract<ReturnType<typeof planOutbound>, { kind: 'via-waypoint' }>): Explanation {
    const wpWl = plan.hboneWorkload
    const wpId = plan.expectedIdentities[0].toString()
    hops.push(ztunnelHop(`${plan.reason}: HBONE to ${formatAuthority(plan.hboneTarget)}, :authority ${formatAuthority(plan.authority)}`))
    const config =
      input.waypoints.find(
        (c) =>
          c.identity === wpId &&
          c.namespace === wpWl.namespace &&
          (wpWl.workloadName === c.name || wpWl.name === c.name || wpWl.canonicalName === c.name),
      ) ?? input.waypoints.find((c) => c.identity === wpId && c.namespace === wpWl.namespace)
    const wpHop = (action: string, decisions: HopDecision[], notes: string[] = []): Hop => ({
      component: 'waypoint',
      name: `waypoint ${config ? `${config.namespace}/${config.name}` : `${wpWl.namespace}/${wpWl.name}`}`,
      node: wpWl.node,
      address: formatAuthority(plan.hboneTarget),
      identity: wpId,
      peerIdentity: srcId?.toString() ?? null,
      action,
      decisions,
      notes,
    })
    if (config === undefined) {
      const reason = `istiod sends no waypoint config for ${wpWl.namespace}/${wpWl.name} (identity ${wpId})`
      hops.push(
        wpHop('cannot serve the request', [
          { point: 'waypoint config', verdict: 'DENY', reason, decidingPolicy: null, decidingRule: null, policies: [] },
        ]),
      )
      traps.push({
        code: TrapCode.missingWaypoint,
        hop: 'waypoint',
        message: `${reason}: a waypoint without config serves nothing (fail closed)`,
      })
      return result('DENY', 'waypoint', reason, { kind: 'refused', by: 'waypoint' })
    }
    const served = resolveServedDestination(config, plan.authority)
    if (!served.ok) {
      hops.push(
        wpHop('refuses the tunnel (HBONE 400)', [
          { point: 'served destination', verdict: 'DENY', reason: served.reason, decidingPolicy: null, decidingRule: null, policies: [] },
        ]),
      )
      return result('DENY', 'waypoint', served.reason, { kind: 'refused', by: 'waypoint' })
    }
    const dest = served.destination
    const servedService = dest.kind === 'service' ? dest.service : null
    const policies = applicablePolicies(config, servedService)
    const port: ServedPort | null = dest.kind === 'service' ? dest.port : null
    const isHttp = port === null ? request !== null : HTTP_PROTOCOLS.has(port.protocol) || (port.protocol === 'UNKNOWN' && request !== null)
    const req = request ?? { method: 'GET', path: '/' }
    const sourcePrincipal = srcId?.principal ?? null
    const notes: string[] = []
    let authz: L7AuthzDecision
    let point: string
    if (isHttp) {
      if (request === null) notes.push(`an HTTP port: assuming GET / (give --method and --path to ask about a request)`)
      authz = authorizeRequest(policies, {
        method: req.method,
        path: req.path,
        host: target.host,
        headers: lowerHeaders(input.headers),
        sourcePrincipal,
        sourceNamespace: source.namespace,
        sourceIp: srcIp,
        destinationPort: target.port,
        destinationIp: target.address,
      })
      point = 'L7 authorization'
    } else {
      if (request !== null)
        notes.push(
          `port ${target.port} is ${port?.protocol ?? 'TCP'} at the waypoint: HTTP attributes are not read; ` +
            `ALLOW rules needing them never match, DENY rules ignore them`,
        )
      authz = explainConnection(policies, {
        sourcePrincipal,
        sourceNamespace: source.namespace,
        sourceIp: srcIp,
        destinationIp: target.address,
        destinationPort: target.port,
      })
      point = 'L4 authorization (TCP at the waypoint)'
    }
    const scopeOf = (key: string): string =>
      config.authorization.some((p) => `${p.namespace}/${p.name}` === key) ? 'waypoint' : `service ${servedService?.hostname ?? ''}`
    const decidingKey = authz.policy === null ? null : `${authz.policy.namespace}/${authz.policy.name}`
    const l7Decision: HopDecision = {
      point,
      verdict: authz.kind === 'allow' ? 'ALLOW' : 'DENY',
      reason: authz.reason,
      decidingPolicy: decidingKey,
      decidingRule: decidingRuleOf(authz),
      policies: authz.traces.map((t) => {
        const key = `${t.policy.namespace}/${t.policy.name}`
        return {
          policy: key,
          action: t.policy.action,
          scope: scopeOf(key),
          dryRun: t.dryRun,
          matched: t.matchedRule !== null,
          deciding: key === decidingKey,
          detail: t.matchedRule !== null ? `rule ${t.matchedRule} matched` : t.misses.join('; '),
        }
      }),
    }
    // Policies that were not evaluated (the engine stops at the deciding one) are still listed.
    const evaluated = new Set(l7Decision.policies.map((p) => p.policy))
    const unevaluated = policies
      .filter((p) => !evaluated.has(`${p.namespace}/${p.name}`))
      .map((p): PolicyConsidered => ({
        policy: `${p.namespace}/${p.name}`,
        action: p.action,
        scope: scopeOf(`${p.namespace}/${p.name}`),
        dryRun: p.dryRun,
        matched: false,
        deciding: false,
        detail: 'not reached (an earlier policy decided)',
      }))
    const decisions: HopDecision[] = [{ ...l7Decision, policies: [...l7Decision.policies, ...unevaluated] }]
    const what =
      dest.kind === 'service'
        ? `service ${dest.service.hostname} port ${dest.port.port} (${dest.port.protocol})`
        : `workload ${dest.workload.namespace}/${dest.workload.name}`
    if (authz.kind === 'deny') {
      hops.push(wpHop(`serves ${what}; answers ${authz.reply.status} ${authz.reply.body}`, decisions, notes))
      return result(
        'DENY',
        'waypoint',
        authz.reason,
        isHttp ? { kind: 'http', status: authz.reply.status, by: 'waypoint' } : { kind: 'refused', by: 'waypoint' },
      )
    }

    // Upstream: the route's destination (HTTP) or the port's TCP cluster, then one endpoint.
    let clusterName: string | undefined
    let action = `serves ${what}`
    if (dest.kind === 'workload') {
      action += `; forwards to the workload itself`
    } else if (isHttp) {
      const route = matchRoute(dest.port.routes, {
        method: req.method,
        path: req.path,
        authority: target.host,
        scheme: 'http',
        headers: lowerHeaders(input.headers),
      })
      if (route.kind === 'noRoute') {
        decisions.push({
          point: 'routing',
          verdict: 'DENY',
          reason: `${route.reason}: 404 (NR)`,
          decidingPolicy: null,
          decidingRule: null,
          policies: [],
        })
        hops.push(wpHop(`${action}; no route: answers 404`, decisions, notes))
        return result('DENY', 'waypoint', route.reason, { kind: 'http', status: 404, by: 'waypoint' })
      }
      const a = route.route.action
      if (a.kind === 'directResponse' || a.kind === 'redirect') {
        const status = a.kind === 'directResponse' ? a.status : a.redirect.statusCode
        decisions.push({
          point: 'routing',
          verdict: 'ALLOW',
          reason: `${route.reason}: ${a.kind} ${status}`,
          decidingPolicy: null,
          decidingRule: route.route.name,
          policies: [],
        })
        hops.push(wpHop(`${action}; answers ${status} itself (${a.kind})`, decisions, notes))
        return result('ALLOW', 'waypoint', `${route.route.name}: ${a.kind} ${status}`, { kind: 'http', status, by: 'waypoint' })
      }
      const ranked = [...a.destinations].sort((x, y) => y.weight - x.weight)
      const chosen = ranked[0]
      clusterName = chosen?.cluster
      const split =
        a.destinations.length > 1
          ? ` (split: ${a.destinations.map((d) => `${d.subset ?? d.hostname} ${d.weight}`).join(' / ')}; showing the heaviest)`
          : ''
      decisions.push({
        point: 'routing',
        verdict: 'ALLOW',
        reason: `${route.reason} → ${clusterName ?? '(no destination)'}${split}`,
        decidingPolicy: null,
        decidingRule: route.route.name,
        policies: [],
      })
      notes.push(...routeBehaviour(route.route, config.defaults.retries))
    } else {
      clusterName = dest.port.tcpCluster
      action += `; TCP proxy to ${clusterName}`
    }

    let upstream: { address: string; port: number; tunnel: 'HBONE' | 'NONE'; workload: Workload | undefined } | undefined
    if (dest.kind === 'workload') {
      upstream = { address: dest.workload.addresses[0]!, port: dest.port, tunnel: 'HBONE', workload: plan.destinationWorkload }
    } else {
      const cluster = config.clusters.find((c) => c.name === clusterName)
      const endpoints = cluster?.endpoints ?? []
      const ep = endpoints.find((e) => e.healthy) ?? endpoints[0]
      if (ep === undefined || !ep.healthy) {
        const reason = `${clusterName ?? 'the route'} has no healthy endpoint: 503 no healthy upstream`
        hops.push(wpHop(`${action}; ${reason}`, decisions, notes))
        return result('DENY', 'waypoint', reason, { kind: 'http', status: 503, by: 'waypoint' })
      }
      if (endpoints.length > 1)
        notes.push(
          `upstream ${ep.name} (${ep.address}:${ep.targetPort}), 1 of ${endpoints.length} endpoints of ` +
            `${clusterName}: ${endpoints.map((e) => e.name).join(', ')}`,
        )
      upstream = { address: ep.address, port: ep.targetPort, tunnel: ep.tunnelProtocol, workload: mesh.workloadByAddress(ep.address) }
    }
    hops.push(wpHop(`${action}; opens its own connection to ${upstream.address}:${upstream.port} as ${wpId}`, decisions, notes))

    if (upstream.tunnel === 'NONE' || upstream.workload === undefined || upstream.workload.tunnelProtocol !== 'HBONE') {
      hops.push(destinationHop(target, upstream.workload, null, 'plain TCP from the waypoint (not in ambient): no ztunnel policy'))
      return result('ALLOW', null, authz.reason, { kind: 'allowed' })
    }
    const check = checkAuthorization({
      mesh,
      srcIdentity: SpiffeId.parse(wpId),
      srcIp: plan.hboneTarget.ip,
      dst: { ip: upstream.address, port: upstream.port },
    })
    // What the client's own identity would have got there: the trap's evidence.
    const asClient = checkAuthorization({ mesh, srcIdentity: srcId, srcIp, dst: { ip: upstream.address, port: upstream.port } })
    return finishAtDestinationZtunnel(check, { viaWaypoint: true, seenIdentity: wpId, asClient })
  }

  function finishAtDestinationZtunnel(
    check: AuthzCheck,
    via: { viaWaypoint: boolean; seenIdentity: string | null; asClient?: AuthzCheck },
  ): Explanation {
    const expectedDeny: ExpectedOutcome = via.viaWaypoint
      ? { kind: 'http', status: 503, by: 'destination-ztunnel' }
      : { kind: 'refused', by: 'destination-ztunnel' }
    switch (check.kind) {
      case 'passthrough':
      case 'service':
        hops.push(destinationHop(target, undefined, null, check.reason))
        return result('ALLOW', null, check.reason, { kind: 'allowed' })
      case 'rejected': {
        const node = check.workload?.node ?? null
        hops.push({
          component: 'destination-ztunnel',
          name: `ztunnel ${node ?? '?'}`,
          node,
          address: null,
          identity: null,
          peerIdentity: via.seenIdentity,
          action: `refuses the tunnel (HBONE ${check.status}) [${check.code}]`,
          decisions: [
            { point: 'inbound admission', verdict: 'DENY', reason: check.reason, decidingPolicy: null, decidingRule: null, policies: [] },
          ],
          notes: [],
        })
        return result('DENY', 'destination-ztunnel', check.reason, expectedDeny)
      }
      case 'decided': {
        const d = check.decision
        const w = check.workload
        const decision: HopDecision = {
          point: 'L4 authorization',
          verdict: d.allowed ? 'ALLOW' : 'DENY',
          reason: d.reason,
          decidingPolicy: d.decidingPolicy ?? null,
          decidingRule:
            d.decidingPolicy === undefined
              ? null
              : (d.trace.find((t) => t.policy === d.decidingPolicy)?.rules.find((r) => r.matched)?.text ?? null),
          policies: d.trace.map((t) => ({
            policy: t.policy,
            action: t.action,
            scope: t.scope,
            dryRun: t.dryRun,
            matched: t.matched,
            deciding: t.policy === d.decidingPolicy,
            detail: t.text,
          })),
        }
        const notes: string[] = []
        if (d.shadow !== undefined)
          notes.push(`with dry-run policies enforced: ${d.shadow.allowed ? 'ALLOW' : 'DENY'} (${d.shadow.reason})`)
        for (const t of d.trace) {
          const finding = findings.get(t.policy)
          if (finding === undefined) continue
          traps.push({
            code: TrapCode.httpRulesAtZtunnel,
            hop: 'destination-ztunnel',
            message:
              `${t.policy} is enforced here by ztunnel, which cannot read HTTP: ` +
              (t.action === 'ALLOW'
                ? 'its rules with HTTP fields were dropped (they never match)'
                : 'its HTTP fields were ignored (the rule matches more)') +
              `${t.policy === d.decidingPolicy || (!d.allowed && t.action === 'ALLOW') ? ' — this affects the verdict' : ''}. ` +
              `istiod: ${finding}`,
          })
        }
        if (via.viaWaypoint && !d.allowed) {
          const clientAllowed = via.asClient?.kind === 'decided' && via.asClient.decision.allowed
          if (clientAllowed) {
            traps.push({
              code: TrapCode.waypointReplacesSource,
              hop: 'destination-ztunnel',
              message:
                `the destination ztunnel sees the waypoint's principal ${stripSpiffe(via.seenIdentity)}, not the ` +
                `client's ${stripSpiffe(srcId?.toString() ?? null)}: ` +
                (via.asClient?.kind === 'decided' && via.asClient.decision.decidingPolicy
                  ? `${via.asClient.decision.decidingPolicy} would allow the client, but `
                  : 'the client would be allowed, but ') +
                `the ` +
                `waypoint is refused. Allow the waypoint's principal at the destination and check the client at the ` +
                `waypoint (a targetRefs policy)`,
            })
          } else if (d.reason.startsWith('allow policies exist')) {
            traps.push({
              code: TrapCode.noAllowForWaypoint,
              hop: 'destination-ztunnel',
              message:
                `the destination has ALLOW policies and none admits the waypoint's principal ` +
                `${stripSpiffe(via.seenIdentity)}: every request through the waypoint is refused here; add it to an ` +
                `ALLOW policy of ${w.namespace}/${w.name}`,
            })
          }
        } else if (via.viaWaypoint) {
          notes.push(`the identity seen here is the waypoint's (${via.seenIdentity}), not the client's`)
        }
        hops.push({
          component: 'destination-ztunnel',
          name: `ztunnel ${w.node}`,
          node: w.node,
          address: `${check.connection.dstIp}:15008`,
          identity: null,
          peerIdentity: check.connection.srcIdentity?.toString() ?? null,
          action: d.allowed
            ? `admits the tunnel to ${w.namespace}/${w.name} port ${check.connection.dstPort}`
            : `refuses the tunnel (HBONE 401): connection closed due to policy rejection`,
          decisions: [decision],
          notes,
        })
        if (!d.allowed) return result('DENY', 'destination-ztunnel', d.reason, expectedDeny)
        hops.push(
          destinationHop(
            target,
            w,
            workloadIdentity(w)?.toString() ?? null,
            `receives the connection on ${w.podLocalAddress ?? w.addresses[0]}:${check.connection.dstPort}`,
            check.connection.dstPort,
          ),
        )
        const last = [...hops]
          .reverse()
          .flatMap((h) => h.decisions)
          .find((x) => x.verdict === 'ALLOW' && x.point.includes('authorization'))
        return result('ALLOW', null, last?.reason ?? d.reason, { kind: 'allowed' })
      }
      default:
        return assertNever(check, 'authz check')
    }
  }
}

function destinationHop(target: Target, wl: Workload | undefined, identity: string | null, action: string, port?: number): Hop {
  return {
    component: 'destination',
    name: wl === undefined ? `${target.name}${target.kind === 'ip' ? ' (outside the mesh)' : ''}` : `pod ${wl.namespace}/${wl.name}`,
    node: wl?.node ?? null,
    address: wl === undefined ? `${target.address}:${target.port}` : `${wl.addresses[0]}:${port ?? target.port}`,
    identity,
    peerIdentity: null,
    action,
    decisions: [],
    notes: [],
  }
}

function endpointNotes(service: Service | undefined, chosen: Workload): string[] {
  return service === undefined
    ? []
    : [
        `endpoint ${chosen.namespace}/${chosen.name} of service ${service.namespace}/${service.name} (ztunnel picks one by capacity per connection)`,
      ]
}

function servicePortTarget(w: Workload, svc: Service, port: number): number {
  const mapped = w.services.get(`${svc.namespace}/${svc.hostname}`)?.find((m) => m.servicePort === port)?.targetPort
  return mapped || svc.ports.find((p) => p.servicePort === port)?.targetPort || port
}

function decidingRuleOf(d: L7AuthzDecision): string | null {
  if (d.policy === null) return null
  const t = d.traces.find((x) => x.policy.namespace === d.policy!.namespace && x.policy.name === d.policy!.name && !x.dryRun)
  return t?.matchedRule == null ? null : `rule ${t.matchedRule}`
}

function lowerHeaders(h: Readonly<Record<string, string>> | undefined): Record<string, string> {
  return Object.fromEntries(Object.entries(h ?? {}).map(([k, v]) => [k.toLowerCase(), v]))
}

function stripSpiffe(id: string | null): string {
  return id === null ? '(none)' : id.replace(/^spiffe:\/\//, '')
}

/**
 * What the chosen route does to a request besides picking the upstream: fault injection (abort,
 * delay), retries, the route timeout and mirrors, one line each, in the waypoint's own words
 * (response flags FI/DI, URX, UT), so a fault that answers some requests itself is never invisible.
 */
export function routeBehaviour(route: HttpRoute, defaultRetries: RetryPolicy): string[] {
  const out: string[] = []
  const f = route.fault
  if (f?.abort)
    out.push(
      `route ${route.name}: fault abort: ` +
        `${f.abort.httpStatus !== null ? `HTTP ${f.abort.httpStatus}` : `gRPC ${f.abort.grpcStatus}`} on ` +
        `${f.abort.percentage}% of requests, answered by the waypoint ("fault filter abort", flag FI)`,
    )
  if (f?.delay) out.push(`route ${route.name}: fault delay: ${f.delay.fixedDelayMs} ms on ${f.delay.percentage}% of requests (flag DI)`)
  const r = route.retries
  const isDefault = JSON.stringify(r) === JSON.stringify(defaultRetries)
  if (r.attempts === 0) out.push(`route ${route.name}: retries: none`)
  else
    out.push(
      `route ${route.name}: retries: ${r.attempts} after the first ` +
        `try${isDefault ? " (Istio's default)" : ''} on ` +
        `${[...r.retryOn, ...r.retriableStatusCodes.map(String)].join(', ') || '(no condition)'}` +
        `${r.perTryTimeoutMs === null ? '' : `, ${r.perTryTimeoutMs} ms per try`} ` +
        `(used up: flag URX)`,
    )
  out.push(
    `route ${route.name}: timeout: ${route.timeoutMs === null ? 'none' : `${route.timeoutMs} ms for the whole request, retries included (flag UT)`}`,
  )
  for (const m of route.mirrors)
    out.push(
      `route ${route.name}: mirror: ${m.percentage}% of requests also to ` +
        `${m.hostname}:${m.port}${m.subset === null ? '' : ` subset ${m.subset}`} (Host + "-shadow", ` +
        `replies dropped)`,
    )
  return out
}
