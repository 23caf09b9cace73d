// Enums between the wire (numbers) and the domain (names). Where the domain spells a value as
// Istio's proto does, the generated enum object is the table; anything the wire sends that the
// table lacks is refused rather than guessed (a newer istiod's value must not become a default).
import { AmbientError } from '../errors.js'
import { XdsErrorCode } from './errors.js'

export function enumToWire<D extends string>(table: Readonly<Record<D, number>>, value: D): number {
  return table[value]
}

/** number → name per table, built once (decoding looks an enum up for every resource). */
const byNumber = new WeakMap<object, ReadonlyMap<number, string>>()

function nameOf<D extends string>(table: Readonly<Record<D, number>>, n: number): D | undefined {
  let names = byNumber.get(table)
  if (names === undefined) {
    const m = new Map<number, string>()
    // The first name of a number wins, as the linear search this replaces found it.
    for (const [name, num] of Object.entries(table) as [D, number][]) if (!m.has(num)) m.set(num, name)
    names = m
    byNumber.set(table, names)
  }
  return names.get(n) as D | undefined
}

export function enumFromWire<D extends string>(table: Readonly<Record<D, number>>, wire: number | null | undefined, what: string): D {
  const name = nameOf(table, wire ?? 0)
  if (name !== undefined) return name
  const n = wire ?? 0
  throw new AmbientError(XdsErrorCode.resourceInvalid, `${what}: unknown enum value ${n}`, { side: 'upstream' })
}

/**
 * For the enums Istio's ztunnel reads through prost's accessor (which turns a value it does not know
 * into the default) rather than refusing the resource: an unknown number becomes `fallback`.
 */
export function enumFromWireOr<D extends string>(table: Readonly<Record<D, number>>, wire: number | null | undefined, fallback: D): D {
  return nameOf(table, wire ?? 0) ?? fallback
}

/** For enums we do not keep: refuse a number Istio's definition lacks, as ztunnel does. */
export function checkEnum(table: object, wire: number | null | undefined, what: string): void {
  const n = wire ?? 0
  if (nameOf(table as Record<string, number>, n) === undefined)
    throw new AmbientError(XdsErrorCode.resourceInvalid, `${what}: unknown enum value ${n}`, { side: 'upstream' })
}
