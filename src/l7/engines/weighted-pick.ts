// Chooses one of a route's weighted destinations (Envoy weighted_clusters). Envoy draws
// `random % total_weight` and walks the clusters in order, taking the first whose running sum
// exceeds the draw; we do the same with an injected random, so a 90/10 split is 90/10 in
// expectation and a test can fix the draw. Destinations with weight 0 are never chosen (Istio
// keeps them in the config so a canary can be dialled up from 0).
import type { WeightedDestination } from '../../mesh/waypoint-config.js'
import { pickWeighted, type Random } from '../../random.js'

export type WeightedPick =
  | { readonly kind: 'picked'; readonly destination: WeightedDestination; readonly index: number }
  /** No destination with a positive weight: Envoy answers 503 (no cluster to route to). */
  | { readonly kind: 'none'; readonly reason: string }

export function pickDestination(destinations: readonly WeightedDestination[], random: Random): WeightedPick {
  let total = 0
  for (let i = 0; i < destinations.length; i++) total += weightOf(destinations[i]!)
  if (total <= 0)
    return { kind: 'none', reason: destinations.length === 0 ? 'route has no destinations' : 'every destination has weight 0' }
  // Weights are whole numbers (floored), so each unit of weight is equally likely.
  const destination = pickWeighted(destinations, weightOf, random)!
  return { kind: 'picked', destination, index: destinations.indexOf(destination) }
}

function weightOf(d: WeightedDestination): number {
  return positive(d.weight)
}

function positive(weight: number): number {
  return Number.isFinite(weight) && weight > 0 ? Math.floor(weight) : 0
}
