// Engines never call Math.random: the data path injects a source (Math.random in production, a
// seeded PRNG in tests) so every decision can be replayed.

/** Returns a float in [0, 1), like Math.random. */
export type Random = () => number

/**
 * True with `percentage` % probability (0-100, fractions allowed). Istio sends percentages as
 * doubles and Envoy compares `random % 1_000_000 < percentage × 10_000`; drawing a float and
 * comparing `< percentage` is the same test at float resolution. 0 never fires, 100 always does.
 */
export function chance(random: Random, percentage: number): boolean {
  if (percentage <= 0) return false
  if (percentage >= 100) return true
  return random() * 100 < percentage
}

/** An integer in [0, n) for n ≥ 1. */
export function randomIndex(random: Random, n: number): number {
  return Math.min(n - 1, Math.floor(random() * n))
}
