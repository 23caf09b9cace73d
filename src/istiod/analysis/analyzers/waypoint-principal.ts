// AMB0204, the classic ambient trap: a waypoint forwards to the destination pod over HBONE as
// ITSELF, so the destination ztunnel's L4 policies see the waypoint's identity, not the client's.
// If ALLOW policies apply to a workload behind a waypoint and none of them can admit the
// waypoint's principal, every request through the waypoint is denied (HBONE 401).
//
// "Can admit" is decided on identity alone and optimistically: source/destination IPs and ports are
// assumed satisfiable (they depend on the request), so this reports only when no ALLOW rule could
// ever match a connection from the waypoint. DENY policies and dry-run ALLOWs are not considered.
import { selectsWorkload } from '../../../authz/from-authorization-policy.js'
import { isEmptyMatch, stringMatches } from '../../../authz/match.js'
import type { Authorization, Match, StringMatch } from '../../../authz/policy.js'
import type { AuthorizationPolicy, Gateway } from '../../resources/model.js'
import { isWaypointGateway, Label, objectName, type AnalysisContext, type Workload } from '../context.js'
import type { Analyzer, Finding } from './analyzer.js'

interface Peer {
  readonly principal: string
  readonly namespace: string
  readonly serviceAccount: string
}

interface AllowPolicy {
  readonly resource: AuthorizationPolicy
  readonly authorization: Authorization
  /** Its place in the snapshot: the message lists a workload's policies in that order. */
  readonly index: number
}

export const waypointPrincipal: Analyzer = {
  name: 'waypoint-principal',
  analyze(ctx) {
    // The ALLOW policies that can apply to a workload are its namespace's, the root namespace's
    // selector ones, and the global ones: index them so each workload looks at those alone (not at
    // every policy of the mesh: workloads × policies was most of an analysis at 1,000 policies).
    const byNamespace = new Map<string, AllowPolicy[]>()
    const global: AllowPolicy[] = []
    ctx.snapshot.AuthorizationPolicy.forEach((ap, index) => {
      const a = ctx.authorization(ap).authorization
      if (a === undefined || a.action !== 'ALLOW' || a.dryRun) return
      const p: AllowPolicy = { resource: ap, authorization: a, index }
      if (a.scope === 'GLOBAL') global.push(p)
      else {
        const ns = a.scope === 'NAMESPACE' ? a.namespace : ap.metadata.namespace
        const list = byNamespace.get(ns)
        if (list === undefined) byNamespace.set(ns, [p])
        else list.push(p)
      }
    })
    const out: Finding[] = []
    for (const [w, gw] of workloadsBehindWaypoints(ctx)) {
      if (!ctx.isAmbient(w)) continue
      const own = byNamespace.get(w.namespace) ?? []
      const root = w.namespace === ctx.rootNamespace ? [] : (byNamespace.get(ctx.rootNamespace) ?? [])
      const allows = [...global, ...own, ...root]
        .filter(({ resource, authorization: a }) => {
          if (a.scope === 'GLOBAL') return true
          if (a.scope === 'NAMESPACE') return a.namespace === w.namespace
          return selectsWorkload(resource, { namespace: w.namespace, labels: w.labels }, ctx.rootNamespace)
        })
        .sort((a, b) => a.index - b.index)
      if (allows.length === 0) continue
      const peer: Peer = { principal: ctx.waypointPrincipal(gw), namespace: gw.metadata.namespace, serviceAccount: gw.metadata.name }
      if (allows.some(({ authorization }) => admits(authorization, peer))) continue
      const names = allows.map(({ resource }) => `${resource.metadata.namespace}/${resource.metadata.name}`)
      out.push({
        type: 'WaypointPrincipalNotAllowed',
        args: [objectName(w.object), `${gw.metadata.namespace}/${gw.metadata.name}`, names.join(', '), peer.principal],
        object: w.object,
        path: '',
        fix: `add to ${names[0] ?? 'an ALLOW policy'} a rule: - from: [{source: {principals: ["${peer.principal}"]}}]`,
      })
    }
    return out
  },
}

/** Each (workload, waypoint) pair once: via a Service that uses the waypoint, or the pod's own waypoint. */
function workloadsBehindWaypoints(ctx: AnalysisContext): [Workload, Gateway][] {
  const pairs = new Map<string, [Workload, Gateway]>()
  const add = (w: Workload, gw: Gateway) => pairs.set(`${objectName(w.object)}|${gw.metadata.namespace}/${gw.metadata.name}`, [w, gw])
  const waypointFor = (gw: Gateway) => gw.metadata.labels[Label.waypointFor] ?? 'service'
  for (const svc of ctx.snapshot.Service) {
    const gw = resolve(ctx, ctx.serviceWaypoint(svc))
    if (gw === undefined || !['service', 'all'].includes(waypointFor(gw))) continue
    for (const w of ctx.serviceEndpoints(svc)) add(w, gw)
  }
  for (const w of ctx.workloads) {
    const gw = resolve(ctx, ctx.workloadWaypoint(w))
    if (gw !== undefined && ['workload', 'all'].includes(waypointFor(gw))) add(w, gw)
  }
  return [...pairs.values()]
}

function resolve(ctx: AnalysisContext, use: ReturnType<AnalysisContext['serviceWaypoint']>): Gateway | undefined {
  if (use.kind !== 'waypoint') return undefined
  const gw = ctx.gateway(use.namespace, use.name)
  return gw !== undefined && isWaypointGateway(gw) ? gw : undefined
}

/** Could some rule of this ALLOW policy match a connection from `peer`? */
function admits(a: Authorization, peer: Peer): boolean {
  return a.rules.some((rule) => rule.clauses.every((clause) => clause.matches.some((m) => matchAdmits(m, peer))))
}

function matchAdmits(m: Match, peer: Peer): boolean {
  if (isEmptyMatch(m)) return false
  const any = (list: readonly StringMatch[], value: string) => list.some((s) => stringMatches(s, value))
  const saHit = (list: Match['serviceAccounts']) =>
    list.some((sa) => sa.namespace === peer.namespace && sa.serviceAccount === peer.serviceAccount)
  if (m.principals.length > 0 && !any(m.principals, peer.principal)) return false
  if (any(m.notPrincipals, peer.principal)) return false
  if (m.namespaces.length > 0 && !any(m.namespaces, peer.namespace)) return false
  if (any(m.notNamespaces, peer.namespace)) return false
  if (m.serviceAccounts.length > 0 && !saHit(m.serviceAccounts)) return false
  if (saHit(m.notServiceAccounts)) return false
  return true
}
