// Durations as Istio reads them. Istio's CRDs take Go `time.ParseDuration` forms (its docs write
// `interval: 5m`, `baseEjectionTime: 15m`, `perTryTimeout: 2s`), a superset of protobuf JSON's
// `1.5s`; Gateway API's `timeouts` (GEP-2257) are a subset (`10s`, `1h30m`, `500ms`). One parser
// serves both, returning milliseconds (fractions kept: `1.5ms` is 1.5). The command line reads the
// same forms and also days (`2d`, `{ days: true }`), which Go's durations do not have.

const UNIT_MS: Readonly<Record<string, number>> = {
  ns: 1e-6,
  us: 1e-3,
  µs: 1e-3,
  ms: 1,
  s: 1_000,
  m: 60_000,
  h: 3_600_000,
  d: 86_400_000,
}

const TERM = /(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|ms|s|m|h)/y
const TERM_WITH_DAYS = /(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|ms|s|m|h|d)/y

/** Milliseconds, or undefined when `text` is not a duration (a bare number has no unit: invalid). */
export function parseDurationMs(text: string, options: { readonly days?: boolean } = {}): number | undefined {
  if (text === '0') return 0 // Go accepts a bare zero
  if (text === '') return undefined
  const term = options.days === true ? TERM_WITH_DAYS : TERM
  let at = 0
  let total = 0
  term.lastIndex = 0
  while (at < text.length) {
    term.lastIndex = at
    const m = term.exec(text)
    if (m === null) return undefined
    total += Number(m[1]) * (UNIT_MS[m[2] as string] as number)
    at = term.lastIndex
  }
  return total
}

export const DURATION_HINT = 'write a duration with a unit, e.g. 5s, 100ms, 1m or 1.5s'
