// The figures of the real proxies that `ambient compare` prints next to ours, in one table with
// their sources (also in docs/compare-report.md), and the rows that put our absolute per-1000-RPS
// cost beside them. Ratios between our own modes say "ambient vs our sidecar"; these rows say "our
// proxies vs the real ones", so a slow sidecar cannot flatter ambient unseen.
import { formatSpread, type Spread } from './report.js'
import type { Mode } from './compare-modes.js'

export type AnchorMetric = 'coresPer1000Rps' | 'rssMB' | 'addedP90Ms'

export interface Anchor {
  readonly proxy: 'ztunnel' | 'waypoint' | 'sidecar'
  readonly metric: AnchorMetric
  readonly value: number
  readonly what: string
  readonly source: string
}

/** One table, one source per figure. */
export const ANCHORS: readonly Anchor[] = [
  {
    proxy: 'ztunnel',
    metric: 'coresPer1000Rps',
    value: 0.06,
    what: 'Rust ztunnel, vCPU per 1000 RPS (1 KiB, HTTP/1.1, mTLS)',
    source: 'Istio 1.24 docs, performance and scalability',
  },
  {
    proxy: 'ztunnel',
    metric: 'coresPer1000Rps',
    value: 0.062,
    what: 'haproxy mTLS L4 pair, cores per proxy per 1000 RPS',
    source: "measured on the project's 2-core machine (issue 14)",
  },
  { proxy: 'ztunnel', metric: 'rssMB', value: 12, what: 'Rust ztunnel RSS', source: 'Istio 1.24 docs, performance and scalability' },
  {
    proxy: 'waypoint',
    metric: 'coresPer1000Rps',
    value: 0.25,
    what: 'Envoy waypoint, vCPU per 1000 RPS',
    source: 'Istio 1.24 docs, performance and scalability',
  },
  { proxy: 'waypoint', metric: 'rssMB', value: 60, what: 'Envoy waypoint RSS', source: 'Istio 1.24 docs, performance and scalability' },
  {
    proxy: 'sidecar',
    metric: 'coresPer1000Rps',
    value: 0.2,
    what: 'Envoy sidecar, vCPU per 1000 RPS',
    source: 'Istio 1.24 docs, performance and scalability',
  },
  { proxy: 'sidecar', metric: 'rssMB', value: 60, what: 'Envoy sidecar RSS', source: 'Istio 1.24 docs, performance and scalability' },
  {
    proxy: 'sidecar',
    metric: 'addedP90Ms',
    value: 0.23,
    what: 'two Envoy sidecars, added p90 (1000 RPS, 1 KiB)',
    source: 'Istio 1.20 docs, performance and scalability',
  },
]

export interface AnchorRow {
  readonly proxy: Anchor['proxy']
  readonly metric: AnchorMetric
  /** Ours: median (min-max) over rounds; n = 0 when the mode was not run. */
  readonly ours: Spread
  readonly anchors: readonly Anchor[]
  /** Ours ÷ the first anchor's value (median), null without ours. */
  readonly times: number | null
  /** Where ours comes from. */
  readonly from: string
}

/** What anchorRows reads of a compare summary (structural, so compare-summary can import this file). */
interface RateFigures {
  readonly mode: Mode
  readonly rate: number
  readonly addedP90Us: Spread
  readonly cpuByRole: Readonly<Record<string, Spread>>
  readonly rssByRole: Readonly<Record<string, Spread>>
}

const NONE: Spread = { median: Number.NaN, min: Number.NaN, max: Number.NaN, n: 0 }
const scale = (s: Spread, k: number): Spread => ({ median: s.median * k, min: s.min * k, max: s.max * k, n: s.n })

/** The mode that measures each proxy: ztunnel alone in ambient L4, the waypoint in ambient L7. */
const MODE_OF: Record<Anchor['proxy'], Mode> = { ztunnel: 'ambient-l4', waypoint: 'ambient-l7', sidecar: 'sidecar' }

/** Our figures next to the anchors, at 1000 RPS when the run has it (else its first rate, scaled per 1000 RPS). */
export function anchorRows(s: { readonly rates: readonly number[]; readonly byModeRate: readonly RateFigures[] }): AnchorRow[] {
  const rate = s.rates.includes(1000) ? 1000 : s.rates[0]
  const rows: AnchorRow[] = []
  for (const proxy of ['ztunnel', 'waypoint', 'sidecar'] as const) {
    const at: RateFigures | undefined =
      rate === undefined ? undefined : s.byModeRate.find((r) => r.mode === MODE_OF[proxy] && r.rate === rate)
    for (const metric of ['coresPer1000Rps', 'rssMB', 'addedP90Ms'] as const) {
      const anchors = ANCHORS.filter((a) => a.proxy === proxy && a.metric === metric)
      if (anchors.length === 0) continue
      let ours = NONE
      if (at !== undefined && rate !== undefined) {
        if (metric === 'coresPer1000Rps') ours = scale(at.cpuByRole[proxy] ?? NONE, 1000 / rate)
        else if (metric === 'rssMB') ours = at.rssByRole[proxy] ?? NONE
        else ours = scale(at.addedP90Us, 1 / 1000)
      }
      const times = ours.n === 0 || !Number.isFinite(ours.median) ? null : ours.median / anchors[0]!.value
      rows.push({
        proxy,
        metric,
        ours,
        anchors,
        times,
        from: `${MODE_OF[proxy]} at ${rate ?? '-'} RPS${rate !== undefined && rate !== 1000 && metric === 'coresPer1000Rps' ? ' (scaled to 1000)' : ''}`,
      })
    }
  }
  return rows
}

const UNIT: Record<AnchorMetric, { label: string; decimals: number }> = {
  coresPer1000Rps: { label: 'cores per 1000 RPS per proxy', decimals: 3 },
  rssMB: { label: 'RSS per proxy, MB', decimals: 1 },
  addedP90Ms: { label: 'added p90, ms (the whole path)', decimals: 2 },
}

/** Rows for a table: proxy, metric, ours (median (min-max)), anchor(s), ours ÷ anchor, where ours comes from. */
export function anchorTableRows(rows: readonly AnchorRow[]): string[][] {
  return rows.map((r) => [
    r.proxy,
    UNIT[r.metric].label,
    formatSpread(r.ours, UNIT[r.metric].decimals),
    r.anchors.map((a) => `${a.value} (${a.what}; ${a.source})`).join('; '),
    r.times === null ? 'n/a' : `${r.times.toFixed(1)}×`,
    r.from,
  ])
}

export const ANCHOR_TABLE_HEAD = ['proxy', 'figure', 'ours', 'anchor (source)', 'ours ÷ anchor', 'ours from'] as const
