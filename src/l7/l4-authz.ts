// Authorization of a TCP flow through the waypoint (a TCP port, or an undeclared port whose bytes
// are not HTTP). engines/l7-authz evaluates requests only, so the L4-only rule lives here and then
// hands the rewritten policies to that engine (one matcher for both paths).
//
// Istio's rule when it builds network (TCP) RBAC from policies that use HTTP-only fields
// (Istio docs "Authorization for TCP workloads"): fail closed on both sides.
//  - ALLOW (and AUDIT) rules that need an HTTP field never match: the rule is dropped. The policy
//    itself still exists, so an ALLOW policy left without rules still makes "allow policies exist,
//    none allowed" deny the flow, exactly as Istio's TCP filter does.
//  - DENY (and CUSTOM, which fails closed here as in the engine) rules have their HTTP fields
//    ignored: a source/operation left with no field matches anything, so the rule gets broader and
//    denies more.
// HTTP-only fields: `to` methods/paths/hosts (and their `not` forms), `from` requestPrincipals
// (and not), `when` keys under `request.` (headers, request.auth.*).
import type { L7AuthorizationPolicy, L7Operation, L7Rule, L7Source } from '../mesh/waypoint-config.js'
import type { L7AuthzDecision, L7AuthzVerdict, L7RequestFacts } from './engines/l7-authz.js'
import { authorizeRequest, authorizeRequestVerdict, peerSourceLists } from './engines/l7-authz.js'

export interface L4Facts {
  readonly sourcePrincipal: string | null
  readonly sourceNamespace: string | null
  readonly sourceIp: string
  readonly destinationIp?: string
  readonly destinationPort: number
}

/** The verdict for a new TCP flow (the data path: no trace). */
export function authorizeConnection(policies: readonly L7AuthorizationPolicy[], facts: L4Facts): L7AuthzVerdict {
  return authorizeRequestVerdict(policies.map(toL4Policy), connectionRequest(facts))
}

/** `authorizeConnection` with each evaluated policy's trace (explain). */
export function explainConnection(policies: readonly L7AuthorizationPolicy[], facts: L4Facts): L7AuthzDecision {
  return authorizeRequest(policies.map(toL4Policy), connectionRequest(facts))
}

const connectionRequest = (facts: L4Facts): L7RequestFacts => ({ method: '', path: '', host: '', headers: {}, ...facts })

export function toL4Policy(p: L7AuthorizationPolicy): L7AuthorizationPolicy {
  const failClosedByDropping = p.action === 'ALLOW' || p.action === 'AUDIT'
  const rules = failClosedByDropping ? p.rules.filter((r) => !usesHttp(r)) : p.rules.map(withoutHttpFields)
  return { ...p, rules }
}

export function usesHttp(r: L7Rule): boolean {
  return r.to.some(operationUsesHttp) || r.from.some(sourceUsesHttp) || r.when.some((c) => c.key.startsWith('request.'))
}

const operationUsesHttp = (o: L7Operation): boolean =>
  o.methods.length + o.notMethods.length + o.paths.length + o.notPaths.length + o.hosts.length + o.notHosts.length > 0
const sourceUsesHttp = (s: L7Source): boolean => s.requestPrincipals.length + s.notRequestPrincipals.length > 0

function withoutHttpFields(r: L7Rule): L7Rule {
  if (!usesHttp(r)) return r
  const to = r.to.map((o) => ({ ...o, methods: [], notMethods: [], paths: [], notPaths: [], hosts: [], notHosts: [] }))
  const from = r.from.map((s) => ({ ...s, requestPrincipals: [], notRequestPrincipals: [] }))
  // An operation/source whose only constraints were HTTP ones now matches anything; the engine
  // reads an empty entry as "matches nothing", so the whole list becomes "any" instead.
  const anyTo = r.to.some((o) => operationUsesHttp(o) && o.ports.length + o.notPorts.length === 0)
  const anyFrom = r.from.some((s, i) => sourceUsesHttp(s) && isEmptySource(from[i]!))
  return { from: anyFrom ? [] : from, to: anyTo ? [] : to, when: r.when.filter((c) => !c.key.startsWith('request.')) }
}

function isEmptySource(s: L7Source): boolean {
  return peerSourceLists(s).every((l) => l.length === 0)
}
