// `grpc-timeout`: at most 8 ASCII digits and a unit (H, M, S, m, u, n). We send milliseconds while
// they fit and coarser units beyond, always rounding up, so the server never sees a shorter deadline
// than the caller's. istiod's server reads any unit (decodeGrpcTimeout).

const MAX_VALUE = 99_999_999
const UNITS: readonly [string, number][] = [
  ['m', 1],
  ['S', 1000],
  ['M', 60_000],
  ['H', 3_600_000],
]

/** The header value for a deadline `ms` from now (ms > 0). */
export function encodeGrpcTimeout(ms: number): string {
  if (!(ms > 0)) throw new RangeError(`grpc-timeout needs a positive duration, got ${ms}`)
  for (const [unit, size] of UNITS) {
    const value = Math.ceil(ms / size)
    if (value <= MAX_VALUE) return `${value}${unit}`
  }
  return `${MAX_VALUE}H`
}

const UNIT_MS: Readonly<Record<string, number>> = { H: 3_600_000, M: 60_000, S: 1000, m: 1, u: 1e-3, n: 1e-6 }

/** The deadline a `grpc-timeout` value asks for, in ms; undefined when the value is not one. */
export function decodeGrpcTimeout(value: string): number | undefined {
  const m = /^(\d{1,8})([HMSmun])$/.exec(value)
  return m === null ? undefined : Number(m[1]) * UNIT_MS[m[2]!]!
}
