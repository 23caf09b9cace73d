// Immutability and equality for mesh values. MeshState hands the same objects to every reader
// (planners, authorization, admin) and keeps them as index entries, so a reader mutating one would
// corrupt the indexes silently: values are deep-frozen copies. Equality lets the mutator drop
// no-op updates, so a full reload or an xDS re-push of unchanged resources emits no change event
// and triggers no policy re-check of live flows.
import type { Authorization, Service, Workload } from './types.js'

/** A Map that refuses mutation after construction (Object.freeze does not stop Map#set). */
class FrozenMap<K, V> extends Map<K, V> {
  #sealed = false

  constructor(entries: Iterable<readonly [K, V]>) {
    super()
    for (const [k, v] of entries) super.set(k, v)
    this.#sealed = true
    Object.freeze(this)
  }

  override set(key: K, value: V): this {
    if (this.#sealed) throw new TypeError('mesh values are immutable')
    return super.set(key, value)
  }

  override delete(_key: K): boolean {
    throw new TypeError('mesh values are immutable')
  }

  override clear(): void {
    throw new TypeError('mesh values are immutable')
  }
}

/** A frozen Map built from `entries` (what a decoder hands MeshState so that it need not copy the Map). */
export function frozenMap<K, V>(entries: Iterable<readonly [K, V]>): ReadonlyMap<K, V> {
  return new FrozenMap(entries)
}

/** Values their builder made deep-frozen plain data (see builtDeepFrozen). Weak: a dropped value leaves. */
const builtFrozen = new WeakSet<object>()

/**
 * Marks `value` as built deep-frozen plain data with no `undefined` property (what deepFreeze would
 * share as it is), so that deepFreeze shares it without walking it. For builders that make every
 * part frozen as they go, on a hot path: the xDS readers (a sync is ~10,000 Workloads, each walked
 * in ~2 µs). Their tests check each kind of value they mark with walksDeepFrozen.
 */
export function builtDeepFrozen<T extends object>(value: T): T {
  builtFrozen.add(value)
  return value
}

/** The walk deepFreeze makes to decide whether a value can be shared, ignoring builtDeepFrozen's marks: for tests. */
export function walksDeepFrozen(value: unknown): boolean {
  return isDeepFrozen(value, false)
}

/**
 * Deep-frozen copy of plain data (objects, arrays, Maps). Copies wherever the input could still
 * change (an unfrozen object or array, a Map that is not one of our FrozenMaps, anything holding
 * such a part) or holds an `undefined` property (absent in the copy); a part that is already frozen
 * all the way down is shared as it is, so a value a decoder built frozen costs at most a copy of its
 * top object (a Workload without a waypoint: the key is dropped), not of its lists and Maps.
 */
export function deepFreeze<T>(value: T): T {
  return isDeepFrozen(value, true) ? value : frozenCopy(value)
}

/** Plain data frozen all the way down (Maps only as FrozenMaps), with no `undefined` property. No allocation. */
function isDeepFrozen(value: unknown, trustBuilt: boolean): boolean {
  if (value === null || typeof value !== 'object' || value instanceof FrozenMap) return true
  if (trustBuilt && builtFrozen.has(value)) return true
  if (value instanceof Map || !Object.isFrozen(value)) return false
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) if (!isDeepFrozen(value[i], trustBuilt)) return false
    return true
  }
  // A class instance is copied to plain data: only plain frozen data is shared.
  if (Object.getPrototypeOf(value) !== Object.prototype) return false
  const record = value as Record<string, unknown>
  for (const k in record) {
    const v = record[k]
    if (v === undefined || !isDeepFrozen(v, trustBuilt)) return false
  }
  return true
}

function frozenCopy<T>(value: T): T {
  if (value === null || typeof value !== 'object' || value instanceof FrozenMap) return value
  if (value instanceof Map) {
    return new FrozenMap([...value].map(([k, v]) => [k, deepFreeze(v)] as const)) as T
  }
  if (Array.isArray(value)) return Object.freeze(value.map((v: unknown) => deepFreeze(v))) as T
  const out: Record<string, unknown> = {}
  const record = value as Record<string, unknown>
  for (const k of Object.keys(record)) {
    const v = record[k]
    // exactOptionalPropertyTypes: an absent optional stays absent rather than becoming `undefined`.
    if (v !== undefined) out[k] = deepFreeze(v)
  }
  return Object.freeze(out) as T
}

export function freezeWorkload(w: Workload): Workload {
  return deepFreeze(w)
}

export function freezeService(s: Service): Service {
  return deepFreeze(s)
}

export function freezePolicy(p: Authorization): Authorization {
  return deepFreeze(p)
}

/**
 * Structural equality of plain data. Map entries compare by key regardless of insertion order;
 * arrays in order (address and rule order are meaningful); object keys whose value is undefined
 * count as absent.
 */
export function sameValue(a: unknown, b: unknown): boolean {
  if (Object.is(a, b)) return true
  if (a === null || b === null || typeof a !== 'object' || typeof b !== 'object') return false
  if (a instanceof Map || b instanceof Map) {
    if (!(a instanceof Map && b instanceof Map) || a.size !== b.size) return false
    for (const [k, v] of a) {
      if (!b.has(k) || !sameValue(v, b.get(k))) return false
    }
    return true
  }
  if (Array.isArray(a) !== Array.isArray(b)) return false
  if (Array.isArray(a) && Array.isArray(b)) {
    return a.length === b.length && a.every((v, i) => sameValue(v, b[i]))
  }
  const ak = definedKeys(a)
  const bk = definedKeys(b)
  if (ak.length !== bk.length) return false
  const br = b as Record<string, unknown>
  const ar = a as Record<string, unknown>
  return ak.every((k) => Object.hasOwn(br, k) && sameValue(ar[k], br[k]))
}

function definedKeys(o: object): string[] {
  return Object.entries(o)
    .filter(([, v]) => v !== undefined)
    .map(([k]) => k)
}
