// istiod's config analysis: `analyze(snapshot, parseMessages, translation?)` runs every analyzer
// over the snapshot, adds the parser's (and translation's) findings in the catalogue's terms, and
// returns the messages sorted by file and line, each problem once. Pure: the same input gives the
// same list, so it runs at start, on every config change and in `ambient analyze` alike.
import type { ConfigMessage } from '../resources/messages.js'
import type { Conversion } from '../../authz/from-authorization-policy.js'
import type { AuthorizationPolicy, ConfigSnapshot, Kind } from '../resources/model.js'
import type { TranslationMessage } from '../translate/index.js'
import type { Analyzer, Finding } from './analyzers/analyzer.js'
import { namespaces } from './analyzers/namespaces.js'
import { peerAuthentication } from './analyzers/peer-authentication.js'
import { policyTargets } from './analyzers/policy-targets.js'
import { portNames } from './analyzers/port-names.js'
import { referencedHosts } from './analyzers/referenced-hosts.js'
import { routeReferences } from './analyzers/route-references.js'
import { selectors } from './analyzers/selectors.js'
import { serviceAccounts } from './analyzers/service-accounts.js'
import { waypointPrincipal } from './analyzers/waypoint-principal.js'
import { waypointUse } from './analyzers/waypoint-use.js'
import { ztunnelPolicies } from './analyzers/ztunnel-policies.js'
import { createAnalysisContext, objectName, type AnalysisOptions } from './context.js'
import type { LineLocator } from './locate.js'
import { recordingContext, rerunChanged, stillValid, type AnalysisMemo, type AnalyzerRun, type FoundMessage } from './memo.js'
import { MessageTypes, renderTemplate, type AnalysisMessage, type Level } from './messages.js'
import { fromConfigMessage, fromTranslationMessage } from './origin-messages.js'

export type { AnalysisMessage, Level } from './messages.js'
export type { AnalysisMemo } from './memo.js'
export { MessageTypes } from './messages.js'
export { formatText, formatJson, hasErrors } from './format.js'
export { createLineLocator } from './locate.js'

export const ANALYZERS: readonly Analyzer[] = Object.freeze([
  referencedHosts,
  routeReferences,
  policyTargets,
  serviceAccounts,
  selectors,
  ztunnelPolicies,
  peerAuthentication,
  waypointUse,
  waypointPrincipal,
  portNames,
  namespaces,
])

export interface AnalyzeOptions extends AnalysisOptions {
  /** Finds the line of a field; without it, messages carry the object's line. */
  readonly locate?: LineLocator
}

export function analyze(
  snapshot: ConfigSnapshot,
  parseMessages: readonly ConfigMessage[],
  translation?: { readonly messages: readonly TranslationMessage[] },
  options: AnalyzeOptions = {},
): AnalysisMessage[] {
  return analyzeIncremental(snapshot, parseMessages, translation, options, undefined).messages
}

export interface IncrementalAnalysis {
  readonly messages: AnalysisMessage[]
  /** Pass it to the next call: an analyzer whose inputs are the same lists is not run again (./memo.ts). */
  readonly memo: AnalysisMemo
}

/**
 * `analyze`, reusing what `previous` (an earlier call's memo) found: the same messages as analyze
 * gives. Feed it snapshots from internSnapshot (../resources/intern.ts), so unchanged kinds keep their lists.
 */
export function analyzeIncremental(
  snapshot: ConfigSnapshot,
  parseMessages: readonly ConfigMessage[],
  translation: { readonly messages: readonly TranslationMessage[] } | undefined,
  options: AnalyzeOptions,
  previous: AnalysisMemo | undefined,
): IncrementalAnalysis {
  const memoOptions = [options.rootNamespace, options.trustDomain, options.locate]
  const memo = previous !== undefined && previous.options.every((o, i) => o === memoOptions[i]) ? previous : undefined
  const conversions = new Map(memo?.conversions)
  const ctx = createAnalysisContext(snapshot, options, conversions)
  const runs = new Map<string, AnalyzerRun>()
  const found: AnalysisMessage[] = []
  const analyzeWith = (a: Analyzer, view: ConfigSnapshot, reads: Map<Kind, readonly unknown[]>): FoundMessage[] =>
    a.analyze(recordingContext(ctx, reads, view)).map((f) => ({ object: f.object, message: toMessage(f, options.locate) }))
  for (const a of ANALYZERS) {
    const before = memo?.runs.get(a.name)
    let run: AnalyzerRun
    if (before !== undefined && stillValid(before, snapshot)) run = before
    else if (before !== undefined && a.perObject !== undefined && stillValid(before, snapshot, a.perObject))
      run = rerunChanged(before, a.perObject, snapshot, (view, reads) => analyzeWith(a, view, reads))
    else {
      const reads = new Map<Kind, readonly unknown[]>()
      run = { reads, found: analyzeWith(a, snapshot, reads) }
    }
    runs.set(a.name, run)
    for (const f of run.found) found.push(f.message)
  }
  // Only the policies of this snapshot: the next analysis has no use for the others.
  const kept = new Map<AuthorizationPolicy, Conversion>()
  for (const ap of snapshot.AuthorizationPolicy) {
    const c = conversions.get(ap)
    if (c !== undefined) kept.set(ap, c)
  }
  const fromTranslation = (translation?.messages ?? []).flatMap((m) => {
    const msg = fromTranslationMessage(m)
    if (msg === undefined) return []
    const line = m.source !== undefined && options.locate !== undefined ? options.locate(m.source, m.path) : msg.line
    return [{ ...msg, line }]
  })
  return {
    messages: sortAndDedupe([...parseMessages.map(fromConfigMessage), ...found, ...fromTranslation]),
    memo: { options: memoOptions, runs, conversions: kept },
  }
}

/** IST0001, for a step that failed (e.g. translation threw): printed, never silently dropped. */
export function internalError(detail: string): AnalysisMessage {
  const t = MessageTypes.InternalError
  return Object.freeze({
    code: t.code,
    name: 'InternalError',
    level: t.level,
    message: renderTemplate(t.template, [detail]),
    object: undefined,
    file: undefined,
    line: undefined,
    path: '',
    fix: t.fix,
  })
}

function toMessage(f: Finding, locate: LineLocator | undefined): AnalysisMessage {
  const type = MessageTypes[f.type]
  const path = f.path ?? ''
  const text = renderTemplate(type.template, f.args)
  const level: Level = f.level ?? type.level
  return {
    code: type.code,
    name: f.type,
    level,
    message: f.note === undefined ? text : `${text} (${f.note})`,
    object: objectName(f.object),
    file: f.object.source.file,
    line: locate === undefined ? f.object.source.line : (locate(f.object.source, path) ?? f.object.source.line),
    path,
    fix: f.fix ?? type.fix,
  }
}

const cmp = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0)

/** By file, line, code, object, message (code-point order: the same on every machine); exact repeats dropped. */
function sortAndDedupe(messages: AnalysisMessage[]): AnalysisMessage[] {
  const sorted = [...messages].sort(
    (a, b) =>
      cmp(a.file ?? '', b.file ?? '') ||
      (a.line ?? 0) - (b.line ?? 0) ||
      cmp(a.code, b.code) ||
      cmp(a.object ?? '', b.object ?? '') ||
      cmp(a.message, b.message),
  )
  const seen = new Set<string>()
  return sorted
    .filter((m) => {
      const key = [m.code, m.object, m.file, m.line, m.path, m.message].join('\0')
      if (seen.has(key)) return false
      seen.add(key)
      return true
    })
    .map((m) => Object.freeze(m))
}
