// prom-client's metric classes, loaded one by one rather than through its index (issue 14, RSS): the
// index also loads the push gateway, the cluster aggregator and every default collector, among them
// the process CPU one that requires @opentelemetry/api (≈ 4 MB RSS in all, for trace exemplars we
// never ask for). Same classes as the index exports (it re-exports these very modules).
import { createRequire } from 'node:module'
import type * as Prom from 'prom-client'

const load = createRequire(import.meta.url)

export const Counter = load('prom-client/lib/counter') as typeof Prom.Counter
export const Gauge = load('prom-client/lib/gauge') as typeof Prom.Gauge
export const Histogram = load('prom-client/lib/histogram') as typeof Prom.Histogram
export const Registry = load('prom-client/lib/registry') as typeof Prom.Registry
export type Counter<T extends string> = Prom.Counter<T>
export type Gauge<T extends string> = Prom.Gauge<T>
export type Histogram<T extends string> = Prom.Histogram<T>
export type Registry = Prom.Registry

/** One of prom-client's default process collectors (`prom-client/lib/metrics/<name>`); it registers itself. */
export function processCollector(name: string): (registry: Registry, config: object) => void {
  return load(`prom-client/lib/metrics/${name}`) as (registry: Registry, config: object) => void
}
