// Decisions never call Math.random: the data path injects a source (Math.random in production, a
// seeded PRNG in tests) so every decision can be replayed. Used by ztunnel's load balancing and by
// the L7 engines.

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

/**
 * One item, chosen with probability weight/total. Weights that are not positive finite numbers
 * count as 0; when every weight is 0 the choice is uniform, so a Service whose endpoints all report
 * capacity 0 still gets traffic rather than failing (Istio's capacity defaults to 1; 0 only says
 * "least preferred"). Undefined only for an empty list. With integer weights this is Envoy's
 * weighted choice: the first item whose running sum exceeds the draw in [0, total).
 */
export function pickWeighted<T>(items: readonly T[], weightOf: (item: T) => number, random: Random): T | undefined {
  if (items.length === 0) return undefined
  // Two passes over the weights rather than a list of them: a route's pick runs on every request.
  let total = 0
  for (let i = 0; i < items.length; i++) total += usableWeight(weightOf(items[i]!))
  if (total === 0) return items[Math.min(items.length - 1, Math.floor(clampUnit(random()) * items.length))]
  let point = clampUnit(random()) * total
  let lastWeighted = -1
  for (let i = 0; i < items.length; i++) {
    const w = usableWeight(weightOf(items[i]!))
    if (w > 0) lastWeighted = i
    point -= w
    if (point < 0) return items[i]
  }
  // Only reached through rounding at the top of the range: the last item with weight owns it.
  return items[lastWeighted]
}

function usableWeight(w: number): number {
  return Number.isFinite(w) && w > 0 ? w : 0
}

function clampUnit(r: number): number {
  return Number.isFinite(r) ? Math.min(Math.max(r, 0), 1 - Number.EPSILON) : 0
}
