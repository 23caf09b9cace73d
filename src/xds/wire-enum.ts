// Enums between the wire (numbers) and the domain (names). Where the domain spells a value as
// Istio's proto does, the generated enum object is the table; anything the wire sends that the
// table lacks is refused rather than guessed (a newer istiod's value must not become a default).
import { AmbientError } from '../errors.js'
import { XdsErrorCode } from './errors.js'

export function enumToWire<D extends string>(table: Readonly<Record<D, number>>, value: D): number {
  return table[value]
}

export function enumFromWire<D extends string>(table: Readonly<Record<D, number>>, wire: number | null | undefined, what: string): D {
  const n = wire ?? 0
  for (const [name, num] of Object.entries(table) as [D, number][]) if (num === n) return name
  throw new AmbientError(XdsErrorCode.resourceInvalid, `${what}: unknown enum value ${n}`, { side: 'upstream' })
}
