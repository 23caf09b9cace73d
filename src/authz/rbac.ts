// L4 authorization at the destination ztunnel, as a pure function: a connection and the policies
// that apply to the destination workload in, a Decision with its reason and a full trace out.
//
// Decision order (reference "L4 authorization at the destination ztunnel"; ztunnel `assert_rbac`):
// any enforced DENY matches → deny; else no enforced ALLOW → allow; else any ALLOW matches → allow;
// else deny. Dry-run policies are evaluated and reported, never enforced. Unlike ztunnel we evaluate
// every policy (no short-circuit) so `ambient authz check` / `explain` can show each one; the
// outcome is the same because matching has no side effects.
import { AmbientError } from '../errors.js'
import type { SpiffeId } from '../identity/spiffe-id.js'
import { parseIp } from '../net/ip.js'
import { evaluateMatch, matches, type ConnectionFacts, type MatchTrace } from './match.js'
import { policyKey, type Authorization, type Clause, type PolicyAction, type PolicyScope, type Rule } from './policy.js'
import { isValidPort } from '../net/address.js'

export const AuthzErrorCode = {
  invalidConnection: 'AUTHZ_INVALID_CONNECTION',
} as const

export interface Connection {
  readonly srcIdentity?: SpiffeId | undefined
  readonly srcIp: string
  readonly dstIp: string
  readonly dstPort: number
}

/** ztunnel's wording, as it appears after `connection closed due to policy rejection: `. */
export const DecisionReason = {
  noPolicies: 'no policies',
  noAllowPolicies: 'no allow policies',
  noneAllowed: 'allow policies exist, but none allowed',
  deniedBy: (key: string) => `explicitly denied by: ${key}`,
  allowedBy: (key: string) => `allowed by: ${key}`,
} as const

export interface ClauseTrace {
  readonly index: number
  readonly matched: boolean
  readonly matches: readonly MatchTrace[]
  readonly text: string
}

export interface RuleTrace {
  readonly index: number
  readonly matched: boolean
  /** The first clause that did not match (the one ztunnel stops at). */
  readonly failedClause?: number
  readonly clauses: readonly ClauseTrace[]
  readonly text: string
}

export interface PolicyTrace {
  /** `namespace/name`. */
  readonly policy: string
  readonly action: PolicyAction
  readonly scope: PolicyScope
  readonly dryRun: boolean
  readonly matched: boolean
  readonly rules: readonly RuleTrace[]
  /** One line: the first matching rule, or why each rule failed. */
  readonly text: string
}

export interface DryRunNote {
  readonly policy: string
  readonly action: PolicyAction
  readonly matched: boolean
  readonly text: string
}

export interface Verdict {
  readonly allowed: boolean
  readonly reason: string
  readonly decidingPolicy?: string
}

export interface Decision extends Verdict {
  /** One note per dry-run policy: did it match, and what it would have done. */
  readonly dryRun: readonly DryRunNote[]
  /** Present when dry-run policies exist: the verdict had they been enforced (Envoy's "shadow"). */
  readonly shadow?: Verdict
  /** Every policy considered, in the order given. */
  readonly trace: readonly PolicyTrace[]
}

export function authorize(conn: Connection, policies: readonly Authorization[]): Decision {
  const facts = connectionFacts(conn)
  const trace = policies.map((p) => evaluatePolicy(p, facts))
  const verdict = decide(trace, false)
  const dryRuns = trace.filter((t) => t.dryRun)
  const dryRun = dryRuns.map(dryRunNote)
  if (dryRuns.length === 0) return { ...verdict, dryRun, trace }
  return { ...verdict, dryRun, shadow: decide(trace, true), trace }
}

/**
 * The verdict `authorize` would give, without a trace or dry-run notes: what the data path needs on
 * every new connection and live-flow re-check. It stops early as ztunnel does (first matching
 * enforced DENY, then first matching ALLOW) and builds no strings unless it decides, so its cost
 * is a few comparisons per applicable policy. Same order and reasons as `decide` (test/unit/authz).
 */
export function authorizeVerdict(conn: Connection, policies: readonly Authorization[]): Verdict {
  const facts = connectionFacts(conn)
  const principal = facts.srcIdentity?.principal
  let enforced = 0
  let allows = 0
  for (const p of policies) {
    if (p.dryRun) continue
    enforced++
    if (p.action !== 'DENY') {
      allows++
      continue
    }
    if (policyMatches(p, facts, principal)) {
      const key = policyKey(p)
      return { allowed: false, reason: DecisionReason.deniedBy(key), decidingPolicy: key }
    }
  }
  if (allows === 0) return { allowed: true, reason: enforced === 0 ? DecisionReason.noPolicies : DecisionReason.noAllowPolicies }
  for (const p of policies) {
    if (p.dryRun || p.action === 'DENY' || !policyMatches(p, facts, principal)) continue
    const key = policyKey(p)
    return { allowed: true, reason: DecisionReason.allowedBy(key), decidingPolicy: key }
  }
  return { allowed: false, reason: DecisionReason.noneAllowed }
}

/** `evaluatePolicy(...).matched` without the trace. */
function policyMatches(policy: Authorization, facts: ConnectionFacts, principal: string | undefined): boolean {
  // A policy with no rules never matches; a rule with no clauses matches everything; a clause with
  // no matches counts as matching (ztunnel's quirk, as in evaluateClause).
  return policy.rules.some((rule) =>
    rule.clauses.every((clause) => clause.matches.length === 0 || clause.matches.some((m) => matches(m, facts, principal))),
  )
}

/** Does this one policy match the connection? (ztunnel `Authorization::matches`.) */
export function evaluatePolicy(policy: Authorization, facts: ConnectionFacts): PolicyTrace {
  const base = { policy: policyKey(policy), action: policy.action, scope: policy.scope, dryRun: policy.dryRun }
  if (policy.rules.length === 0) {
    return { ...base, matched: false, rules: [], text: 'no rules (a policy with no rules never matches)' }
  }
  const rules = policy.rules.map((r, i) => evaluateRule(r, i, facts))
  const first = rules.find((r) => r.matched)
  const text = first ? first.text : rules.map((r) => r.text).join('; ')
  return { ...base, matched: first !== undefined, rules, text }
}

function evaluateRule(rule: Rule, index: number, facts: ConnectionFacts): RuleTrace {
  if (rule.clauses.length === 0) {
    return { index, matched: true, clauses: [], text: `rule ${index} matched (no clauses: matches everything)` }
  }
  const clauses = rule.clauses.map((c, i) => evaluateClause(c, i, facts))
  const failed = clauses.find((c) => !c.matched)
  if (failed === undefined) return { index, matched: true, clauses, text: `rule ${index} matched` }
  return { index, matched: false, failedClause: failed.index, clauses, text: `rule ${index} clause ${failed.index}: ${failed.text}` }
}

function evaluateClause(clause: Clause, index: number, facts: ConnectionFacts): ClauseTrace {
  // ztunnel quirk: a clause with no matches counts as matching (`if clause.is_empty() { true }`).
  // istiod never sends one; local config could.
  if (clause.matches.length === 0) return { index, matched: true, matches: [], text: 'no matches (treated as matching)' }
  const matches = clause.matches.map((m, i) => evaluateMatch(m, i, facts))
  const hit = matches.find((m) => m.matched)
  if (hit) return { index, matched: true, matches, text: hit.text }
  const only = matches.length === 1 ? matches[0] : undefined
  const text = only
    ? only.text
    : `none of ${matches.length} matches matched (${matches.map((m) => (m.empty ? m.text : `match ${m.index}: ${m.text}`)).join('; ')})`
  return { index, matched: false, matches, text }
}

/** The decision over evaluated policies; `withDryRun` treats dry-run policies as enforced. */
function decide(trace: readonly PolicyTrace[], withDryRun: boolean): Verdict {
  const considered = trace.filter((t) => withDryRun || !t.dryRun)
  const deny = considered.find((t) => t.action === 'DENY' && t.matched)
  if (deny) return { allowed: false, reason: DecisionReason.deniedBy(deny.policy), decidingPolicy: deny.policy }
  const allows = considered.filter((t) => t.action === 'ALLOW')
  if (allows.length === 0) {
    return { allowed: true, reason: considered.length === 0 ? DecisionReason.noPolicies : DecisionReason.noAllowPolicies }
  }
  const allow = allows.find((t) => t.matched)
  if (allow) return { allowed: true, reason: DecisionReason.allowedBy(allow.policy), decidingPolicy: allow.policy }
  return { allowed: false, reason: DecisionReason.noneAllowed }
}

function dryRunNote(t: PolicyTrace): DryRunNote {
  const would = t.action === 'DENY' ? 'would deny the connection' : 'would allow the connection'
  const text = t.matched
    ? `dry-run ${t.action} ${t.policy} matched: ${would} (${t.text})`
    : `dry-run ${t.action} ${t.policy} did not match (${t.text})`
  return { policy: t.policy, action: t.action, matched: t.matched, text }
}

function connectionFacts(conn: Connection): ConnectionFacts {
  const srcIp = parseIp(conn.srcIp)
  const dstIp = parseIp(conn.dstIp)
  if (srcIp === undefined || dstIp === undefined || !isValidPort(conn.dstPort, 0)) {
    throw new AmbientError(
      AuthzErrorCode.invalidConnection,
      `invalid connection for authorization: ${conn.srcIp} -> ${conn.dstIp}:${conn.dstPort}`,
      {
        side: 'internal',
        details: { srcIp: conn.srcIp, dstIp: conn.dstIp, dstPort: conn.dstPort },
      },
    )
  }
  return { srcIdentity: conn.srcIdentity, srcIp, dstIp, dstPort: conn.dstPort }
}

/** Human-readable lines for `ambient authz check` / `explain`: the verdict, then each policy. */
export function formatDecision(d: Decision): string[] {
  const lines = [`${d.allowed ? 'ALLOW' : 'DENY'}: ${d.reason}`]
  for (const t of d.trace) {
    const tag = `${t.dryRun ? 'dry-run ' : ''}${t.action} ${t.policy} (${t.scope})`
    lines.push(`  ${tag} ${t.matched ? 'matched' : 'did not match'}: ${t.text}`)
  }
  if (d.shadow) lines.push(`  with dry-run policies enforced: ${d.shadow.allowed ? 'ALLOW' : 'DENY'}: ${d.shadow.reason}`)
  return lines
}
