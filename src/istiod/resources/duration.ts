// Durations as Istio reads them. Istio's CRDs take Go `time.ParseDuration` forms (its docs write
// `interval: 5m`, `baseEjectionTime: 15m`, `perTryTimeout: 2s`), a superset of protobuf JSON's
// `1.5s`; Gateway API's `timeouts` (GEP-2257) are a subset (`10s`, `1h30m`, `500ms`). One parser
// serves both, returning milliseconds (fractions kept: `1.5ms` is 1.5).

const UNIT_MS: Readonly<Record<string, number>> = {
  ns: 1e-6, us: 1e-3, 'µs': 1e-3, ms: 1, s: 1_000, m: 60_000, h: 3_600_000,
}

const TERM = /(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|ms|s|m|h)/y

/** Milliseconds, or undefined when `text` is not a duration (a bare number has no unit: invalid). */
export function parseDurationMs(text: string): number | undefined {
  if (text === '0') return 0 // Go accepts a bare zero
  if (text === '') return undefined
  let at = 0
  let total = 0
  TERM.lastIndex = 0
  while (at < text.length) {
    TERM.lastIndex = at
    const m = TERM.exec(text)
    if (m === null) return undefined
    total += Number(m[1]) * (UNIT_MS[m[2] as string] as number)
    at = TERM.lastIndex
  }
  return total
}

export const DURATION_HINT = 'write a duration with a unit, e.g. 5s, 100ms, 1m or 1.5s'
