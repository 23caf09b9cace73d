// What one analysis keeps for the next (`analyzeIncremental`, ./index.ts): per analyzer, the kinds
// of the snapshot it read (recorded while it ran, through the context) and the messages it found;
// and every AuthorizationPolicy's conversion. An analyzer is a pure function of what it reads, so
// when every kind it read is the same list (identity: see ../resources/intern.ts), its messages are
// the same and it is not run again. Explicit input and output, never module state.
import type { Conversion } from '../../authz/from-authorization-policy.js'
import type { AuthorizationPolicy, ConfigSnapshot, Kind } from '../resources/model.js'
import type { AnalysisContext } from './context.js'
import type { AnalysisMessage } from './messages.js'

export interface AnalyzerRun {
  /** Each kind it read, with the list it read. */
  readonly reads: ReadonlyMap<Kind, readonly unknown[]>
  readonly messages: readonly AnalysisMessage[]
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
export function recordingContext(ctx: AnalysisContext, reads: Map<Kind, readonly unknown[]>): AnalysisContext {
  const snapshot = ctx.snapshot
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

/** Did every kind the run read stay the same list? */
export function stillValid(run: AnalyzerRun, snapshot: ConfigSnapshot): boolean {
  for (const [kind, list] of run.reads) if (snapshot[kind] !== list) return false
  return true
}
