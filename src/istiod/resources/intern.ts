// One config snapshot made to share the previous one's objects wherever nothing changed, so that
// what follows (translation and analysis memos, the providers' encodings) can tell "unchanged" by
// identity instead of walking 10,000 objects:
//  - an object deep-equal (sameValue: values, key order, and its source file/document/line) to the
//    previous snapshot's object of the same Kind/namespace/name is replaced by that previous object;
//  - a kind whose list is then item-for-item the previous list is the previous list itself.
// Re-parsing one file gives new objects for everything in it; after this, only the ones whose
// content changed are new. Pure: the result is deep-equal to `next`.
import { sameValue } from '../encoded-resources.js'
import { KINDS, objectKey, type ConfigObject, type ConfigSnapshot, type Kind } from './model.js'

export function internSnapshot(next: ConfigSnapshot, previous: ConfigSnapshot | undefined): ConfigSnapshot {
  if (previous === undefined || next === previous) return next
  const out = {} as Record<Kind, readonly ConfigObject[]>
  let same = true
  for (const kind of KINDS) {
    out[kind] = internList<ConfigObject>(next[kind], previous[kind])
    if (out[kind] !== previous[kind]) same = false
  }
  return same ? previous : (Object.freeze(out) as ConfigSnapshot)
}

function internList<T extends ConfigObject>(next: readonly T[], previous: readonly T[]): readonly T[] {
  if (next === previous) return next
  if (next.length === previous.length && next.every((o, i) => o === previous[i])) return previous
  let byKey: Map<string, T> | undefined
  let reused = 0
  const out = next.map((o, i) => {
    // Lists are sorted by namespace/name: most objects sit at the same index as before.
    const at = previous[i]
    let prev = at !== undefined && sameKey(at, o) ? at : undefined
    if (prev === undefined) {
      byKey ??= new Map(previous.map((p) => [objectKey(p), p]))
      prev = byKey.get(objectKey(o))
    }
    if (prev !== undefined && (prev === o || sameValue(prev, o))) {
      reused++
      return prev
    }
    return o
  })
  if (reused === previous.length && out.length === previous.length && out.every((o, i) => o === previous[i])) return previous
  return Object.freeze(out)
}

function sameKey(a: ConfigObject, b: ConfigObject): boolean {
  return a.kind === b.kind && a.metadata.namespace === b.metadata.namespace && a.metadata.name === b.metadata.name
}
