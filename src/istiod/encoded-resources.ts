// The resources of one xDS type as istiod serves them, kept from one translation to the next: per
// name, the translated value and its encoded, versioned bytes. A new translation re-encodes only the
// names whose value changed; an unchanged one keeps the very same VersionedResource (same bytes, same
// version), so one policy change in a 10,000-pod mesh costs one encode, not 10,000.
//
// "Unchanged" is `sameValue`: structural equality that is also ORDER-sensitive (object keys, Map and
// Set entries, array items), because encoders walk values in that order (protobuf map fields,
// JSON.stringify) and equal values must mean equal bytes. Anything it does not know (a class
// instance, a function) is equal only to itself: at worst a resource is encoded again, never served stale.
import type { VersionedResource } from '../xds/resource-provider.js'
import { versioned } from '../xds/resource-provider.js'

/** What one `next` changed against the previous set: names with new bytes, and names gone. */
export interface ResourceChanges {
  readonly changed: readonly string[]
  readonly removed: readonly string[]
}

interface Entry {
  readonly value: unknown
  readonly resource: VersionedResource
}

export class EncodedResources {
  #entries = new Map<string, Entry>()
  #served: ReadonlyMap<string, VersionedResource> = new Map()
  #encoded = 0

  /** name → resource, as the Delta server reads it. The same map object until a `commit` changes something. */
  get served(): ReadonlyMap<string, VersionedResource> {
    return this.#served
  }

  /** Resources encoded since this set was created (the rest were reused). */
  get encoded(): number {
    return this.#encoded
  }

  /**
   * The next generation from `items` (name, value, encode). Nothing is swapped in yet: `commit()` the
   * result, so that a throwing encoder (of this or another type) leaves the last good state served.
   */
  next<T>(items: Iterable<readonly [name: string, value: T]>, encode: (value: T) => Uint8Array): PendingResources {
    const entries = new Map<string, Entry>()
    let encoded = 0
    // A name given twice keeps its last value, as a Map built from the items would.
    for (const [name, value] of items) {
      const prev = this.#entries.get(name)
      // The very same value (a translation that kept it, see translate/memo.ts): no walk, no new entry.
      if (prev !== undefined && prev.value === value) {
        entries.set(name, prev)
        continue
      }
      if (prev !== undefined && sameValue(prev.value, value)) {
        entries.set(name, { value, resource: prev.resource })
        continue
      }
      const fresh = versioned(encode(value))
      encoded++
      // A value that changed into the same bytes keeps its resource: nothing to send for it.
      entries.set(name, { value, resource: prev !== undefined && prev.resource.version === fresh.version ? prev.resource : fresh })
    }
    const changed: string[] = []
    for (const [name, e] of entries) if (this.#entries.get(name)?.resource !== e.resource) changed.push(name)
    const removed = [...this.#entries.keys()].filter((name) => !entries.has(name))
    return {
      changes: { changed, removed },
      commit: () => {
        this.#encoded += encoded
        const same = changed.length === 0 && removed.length === 0
        this.#entries = entries
        if (same) return
        const served = new Map<string, VersionedResource>()
        for (const [name, e] of entries) served.set(name, e.resource)
        this.#served = served
      },
    }
  }
}

export interface PendingResources {
  readonly changes: ResourceChanges
  commit(): void
}

/**
 * Deep, order-sensitive equality of translated values: primitives by Object.is, arrays item by item,
 * plain objects by own enumerable keys in order, Maps and Sets entry by entry in order, byte arrays
 * byte by byte. Values of any other kind are equal only when identical.
 */
export function sameValue(a: unknown, b: unknown): boolean {
  if (Object.is(a, b)) return true
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false
  const proto = Object.getPrototypeOf(a) as unknown
  if (proto !== Object.getPrototypeOf(b)) return false
  if (proto === Array.prototype) {
    const x = a as readonly unknown[]
    const y = b as readonly unknown[]
    if (x.length !== y.length) return false
    for (let i = 0; i < x.length; i++) if (!sameValue(x[i], y[i])) return false
    return true
  }
  if (proto === Object.prototype || proto === null) {
    const kx = Object.keys(a)
    const ky = Object.keys(b)
    if (kx.length !== ky.length) return false
    for (let i = 0; i < kx.length; i++) {
      const k = kx[i]!
      if (k !== ky[i] || !sameValue((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k])) return false
    }
    return true
  }
  if (proto === Map.prototype)
    return sameEntries(
      (a as Map<unknown, unknown>).entries(),
      (b as Map<unknown, unknown>).entries(),
      (a as Map<unknown, unknown>).size,
      (b as Map<unknown, unknown>).size,
    )
  if (proto === Set.prototype)
    return sameEntries((a as Set<unknown>).values(), (b as Set<unknown>).values(), (a as Set<unknown>).size, (b as Set<unknown>).size)
  if (a instanceof Uint8Array && b instanceof Uint8Array) return Buffer.compare(a, b) === 0
  return false
}

function sameEntries(x: Iterator<unknown>, y: Iterator<unknown>, sizeX: number, sizeY: number): boolean {
  if (sizeX !== sizeY) return false
  for (let i = 0; i < sizeX; i++) if (!sameValue(x.next().value, y.next().value)) return false
  return true
}
