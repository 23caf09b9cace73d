// What one analysis keeps for the next (`analyzeIncremental`, ./index.ts): per analyzer, the kinds
// of the snapshot it read (recorded while it ran, through the context) and the messages it found;
// and every AuthorizationPolicy's conversion. An analyzer is a pure function of what it reads, so
// when every kind it read is the same list (identity: see ../resources/intern.ts), its messages are
// the same and it is not run again. An analyzer that declares `perObject` (./analyzers/analyzer.ts)
// and read only that kind differently is run over the changed objects of the kind alone. Explicit
// input and output, never module state.
import type { Conversion } from '../../authz/from-authorization-policy.js'
import type { AuthorizationPolicy, ConfigObject, ConfigSnapshot, Kind } from '../resources/model.js'
import type { AnalysisContext } from './context.js'
import type { AnalysisMessage } from './messages.js'

export interface AnalyzerRun {
  /** Each kind it read, with the list it read. */
  readonly reads: ReadonlyMap<Kind, readonly unknown[]>
  /** Its messages, each with the object it is about. */
  readonly found: readonly FoundMessage[]
}

export interface FoundMessage {
  readonly object: ConfigObject
  readonly message: AnalysisMessage
}

export interface AnalysisMemo {
  /** The options (root namespace, trust domain, line locator) the runs were made under. */
  readonly options: readonly unknown[]
  readonly runs: ReadonlyMap<string, AnalyzerRun>
  readonly conversions: ReadonlyMap<AuthorizationPolicy, Conversion>
}

/** The kinds each of the context's members reads (besides `snapshot`, which records itself). */
const READS: { readonly [K in keyof AnalysisContext]: readonly Kind[] } = {
  snapshot: [],
  rootNamespace: [],
  trustDomain: [],
  workloads: ['Pod', 'Deployment'],
  namespace: ['Namespace'],
  service: ['Service'],
  gateway: ['Gateway'],
  describes: ['Namespace', 'Service', 'Pod', 'Deployment'],
  isAmbient: ['Namespace'],
  namespaceAmbient: ['Namespace'],
  namespaceWorkloads: ['Pod', 'Deployment'],
  selectWorkloads: ['Pod', 'Deployment'],
  serviceEndpoints: ['Pod', 'Deployment'],
  serviceWaypoint: ['Namespace'],
  workloadWaypoint: ['Namespace'],
  namespaceWaypoint: ['Namespace'],
  lookupHost: ['Service', 'Namespace', 'Pod', 'Deployment'],
  waypointPrincipal: [],
  // The conversion reads only the policy it is given (and the root namespace).
  authorization: [],
}

/** The context as one analyzer sees it: every read of a kind, direct or through a helper, is recorded in `reads`. */
export function recordingContext(
  ctx: AnalysisContext,
  reads: Map<Kind, readonly unknown[]>,
  snapshot: ConfigSnapshot = ctx.snapshot,
): AnalysisContext {
  const read = (kinds: readonly Kind[]): void => {
    for (const k of kinds) reads.set(k, snapshot[k])
  }
  const recorded = new Proxy(snapshot, {
    get(target, key, receiver) {
      if (typeof key === 'string' && key in target) read([key as Kind])
      return Reflect.get(target, key, receiver) as unknown
    },
    ownKeys(target) {
      read(Object.keys(target) as Kind[])
      return Reflect.ownKeys(target)
    },
  })
  const out: Record<string, unknown> = {}
  for (const key of Object.keys(READS) as (keyof AnalysisContext)[]) {
    const kinds = READS[key]
    if (key === 'snapshot') continue
    const value = ctx[key]
    // A member's kinds are recorded on its first use (they are the same lists for the whole run).
    let recorded = kinds.length === 0
    if (typeof value === 'function') {
      const fn = value as (...args: unknown[]) => unknown
      out[key] = (...args: unknown[]) => {
        if (!recorded) {
          read(kinds)
          recorded = true
        }
        return fn(...args)
      }
    } else
      Object.defineProperty(out, key, {
        enumerable: true,
        get: () => {
          if (!recorded) {
            read(kinds)
            recorded = true
          }
          return value
        },
      })
  }
  Object.defineProperty(out, 'snapshot', { enumerable: true, value: recorded })
  return out as unknown as AnalysisContext
}

/** Did every kind the run read (but `except`) stay the same list? */
export function stillValid(run: AnalyzerRun, snapshot: ConfigSnapshot, except?: Kind): boolean {
  for (const [kind, list] of run.reads) if (kind !== except && snapshot[kind] !== list) return false
  return true
}

/**
 * A `perObject` analyzer's run when only objects of its kind changed: its previous messages about the
 * objects still there, and a run over the new or changed objects alone for theirs.
 */
export function rerunChanged(
  before: AnalyzerRun,
  kind: Kind,
  snapshot: ConfigSnapshot,
  run: (restricted: ConfigSnapshot, reads: Map<Kind, readonly unknown[]>) => readonly FoundMessage[],
): AnalyzerRun {
  const had = new Set(before.reads.get(kind) ?? [])
  const now: readonly ConfigObject[] = snapshot[kind]
  const current = new Set<unknown>(now)
  const reads = new Map<Kind, readonly unknown[]>()
  const fresh = run({ ...snapshot, [kind]: now.filter((o) => !had.has(o)) }, reads).filter((f) => f.object.kind === kind)
  const kept = before.found.filter((f) => f.object.kind !== kind || current.has(f.object))
  // Everything read before is the same list now (else this is not called); this run may have read more.
  const all = new Map(before.reads)
  for (const k of reads.keys()) all.set(k, snapshot[k])
  all.set(kind, now)
  return { reads: all, found: [...kept, ...fresh] }
}
