// A Decision as people read it (`ambient authz check`, later `explain`): the verdict first, then
// every policy considered, MATCH or NO MATCH, and for each the rule that matched or, per rule, the
// first clause that failed and why (the trace rbac.ts records). Pure text from data; `--json` prints
// the Decision itself.
import type { Decision, PolicyTrace, Verdict } from './rbac.js'

export interface ExplainContext {
  /** What was asked, one `label: value` line each (connection, destination, …), shown after the verdict. */
  readonly facts?: ReadonlyArray<readonly [label: string, value: string]>
  /** Caveats worth knowing (e.g. the source IP was not given). */
  readonly notes?: readonly string[]
}

const MARK = { match: 'MATCH', noMatch: 'NO MATCH' } as const
const MARK_WIDTH = MARK.noMatch.length

export function verdictLine(v: Verdict): string {
  return `${v.allowed ? 'ALLOW' : 'DENY'}: ${v.reason}`
}

/** The readable tree, one string per line. */
export function formatExplanation(d: Decision, context: ExplainContext = {}): string[] {
  const lines = [verdictLine(d)]
  const facts: Array<readonly [string, string]> = [...(context.facts ?? []), ['deciding policy', d.decidingPolicy ?? 'none']]
  const width = Math.max(...facts.map(([label]) => label.length)) + 1
  for (const [label, value] of facts) lines.push(`  ${`${label}:`.padEnd(width)} ${value}`)
  for (const note of context.notes ?? []) lines.push(`  note: ${note}`)
  lines.push('')
  if (d.trace.length === 0) {
    lines.push('no policies apply to this workload')
  } else {
    lines.push(`policies considered (${d.trace.length}):`)
    for (const t of d.trace) lines.push(...formatPolicy(t, t.policy === d.decidingPolicy))
  }
  if (d.shadow) {
    lines.push('')
    lines.push(`with dry-run policies enforced: ${verdictLine(d.shadow)}`)
  }
  return lines
}

function formatPolicy(t: PolicyTrace, deciding: boolean): string[] {
  const mark = (t.matched ? MARK.match : MARK.noMatch).padEnd(MARK_WIDTH)
  const tags = [t.scope, ...(t.dryRun ? ['dry-run'] : []), ...(deciding ? ['deciding'] : [])]
  const head = `  ${mark}  ${t.action.padEnd(5)} ${t.policy} (${tags.join(', ')})`
  const indent = ' '.repeat(2 + MARK_WIDTH + 2)
  if (t.rules.length === 0) return [head, `${indent}${t.text}`]
  // A match needs one rule: show it. No match means every rule failed: show each rule's first
  // failing clause, the one ztunnel stops at.
  const shown = t.matched ? t.rules.filter((r) => r.matched).slice(0, 1) : t.rules
  return [head, ...shown.map((r) => `${indent}${r.text}`)]
}
