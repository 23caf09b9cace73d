// The written report of `ambient compare`: a markdown file (machine, versions, method, the tables,
// our ratios next to Istio's) and an SVG with two simple line charts drawn by hand: p50/p99 latency
// vs rate per mode, and the mesh's total RSS vs pods per node per mode.
import type { BenchHeader } from './report.js'
import { ANCHOR_TABLE_HEAD, anchorRows, anchorTableRows } from './compare-anchors.js'
import { MODE_LABEL } from './compare-modes.js'
import type { Mode } from './compare-modes.js'
import { cpuCells, formatRatio, LATENCY_TABLE_HEAD, latencyCells, rssCells, SWEEP_TABLE_HEAD, sweepTableRows } from './compare-summary.js'
import type { CompareSummary } from './compare-summary.js'

const COLORS: Record<Mode, string> = { nomesh: '#555555', 'ambient-l4': '#1f77b4', 'ambient-l7': '#2ca02c', sidecar: '#d62728' }

const esc = (s: string): string => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;')

interface Series {
  label: string
  color: string
  dashed: boolean
  points: { x: number; y: number }[]
}

/** Rounds up to 1, 2 or 5 × 10^k so that the axis ends on a round number. */
function niceMax(v: number): number {
  if (!(v > 0) || !Number.isFinite(v)) return 1
  const e = 10 ** Math.floor(Math.log10(v))
  for (const m of [1, 2, 5, 10]) if (v <= m * e) return m * e
  return 10 * e
}

function chart(
  x0: number,
  y0: number,
  w: number,
  h: number,
  title: string,
  xLabel: string,
  yLabel: string,
  series: Series[],
  xs: number[],
): string {
  const left = 60
  const bottom = 40
  const top = 30
  const pw = w - left - 20
  const ph = h - top - bottom
  const xMin = Math.min(...xs)
  const xMax = Math.max(...xs)
  const yMax = niceMax(Math.max(0, ...series.flatMap((s) => s.points.map((p) => p.y)).filter((y) => Number.isFinite(y))))
  const sx = (x: number): number => x0 + left + (xMax === xMin ? pw / 2 : ((x - xMin) / (xMax - xMin)) * pw)
  const sy = (y: number): number => y0 + top + ph - (y / yMax) * ph
  const out: string[] = [
    `<g class="chart">`,
    `<text x="${x0 + w / 2}" y="${y0 + 18}" text-anchor="middle" font-size="14" font-weight="bold">${esc(title)}</text>`,
  ]
  out.push(`<line x1="${x0 + left}" y1="${y0 + top + ph}" x2="${x0 + left + pw}" y2="${y0 + top + ph}" stroke="#000"/>`)
  out.push(`<line x1="${x0 + left}" y1="${y0 + top}" x2="${x0 + left}" y2="${y0 + top + ph}" stroke="#000"/>`)
  for (let i = 0; i <= 4; i++) {
    const y = (yMax * i) / 4
    out.push(`<line x1="${x0 + left}" y1="${sy(y).toFixed(1)}" x2="${x0 + left + pw}" y2="${sy(y).toFixed(1)}" stroke="#ddd"/>`)
    out.push(
      `<text x="${x0 + left - 6}" y="${(sy(y) + 4).toFixed(1)}" text-anchor="end" font-size="11">${esc(Number(y.toPrecision(3)).toString())}</text>`,
    )
  }
  for (const x of xs) out.push(`<text x="${sx(x).toFixed(1)}" y="${y0 + top + ph + 16}" text-anchor="middle" font-size="11">${x}</text>`)
  out.push(`<text x="${x0 + left + pw / 2}" y="${y0 + h - 6}" text-anchor="middle" font-size="12">${esc(xLabel)}</text>`)
  out.push(
    `<text x="${x0 + 14}" y="${y0 + top + ph / 2}" text-anchor="middle" font-size="12" ` +
      `transform="rotate(-90 ${x0 + 14} ${y0 + top + ph / 2})">${esc(yLabel)}</text>`,
  )
  series.forEach((s, i) => {
    const pts = s.points.filter((p) => Number.isFinite(p.y))
    if (pts.length === 0) return
    const dash = s.dashed ? ' stroke-dasharray="5,3"' : ''
    if (pts.length > 1)
      out.push(
        `<polyline fill="none" stroke="${s.color}" stroke-width="2"${dash} ` +
          `points="${pts.map((p) => `${sx(p.x).toFixed(1)},${sy(p.y).toFixed(1)}`).join(' ')}"/>`,
      )
    for (const p of pts) out.push(`<circle cx="${sx(p.x).toFixed(1)}" cy="${sy(p.y).toFixed(1)}" r="3" fill="${s.color}"/>`)
    const ly = y0 + top + 6 + i * 15
    out.push(`<line x1="${x0 + left + 10}" y1="${ly}" x2="${x0 + left + 28}" y2="${ly}" stroke="${s.color}" stroke-width="2"${dash}/>`)
    out.push(`<text x="${x0 + left + 32}" y="${ly + 4}" font-size="11">${esc(s.label)}</text>`)
  })
  out.push('</g>')
  return out.join('\n')
}

export function renderSvg(s: CompareSummary): string {
  const W = 460
  const H = 320
  const latencySeries: Series[] = []
  for (const mode of s.modes) {
    const rows = s.byModeRate.filter((r) => r.mode === mode)
    if (rows.length === 0) continue
    latencySeries.push({
      label: `${MODE_LABEL[mode]} p50`,
      color: COLORS[mode],
      dashed: false,
      points: rows.map((r) => ({ x: r.rate, y: r.p50Us.median / 1000 })),
    })
    latencySeries.push({
      label: `${MODE_LABEL[mode]} p99`,
      color: COLORS[mode],
      dashed: true,
      points: rows.map((r) => ({ x: r.rate, y: r.p99Us.median / 1000 })),
    })
  }
  const memSeries: Series[] = []
  for (const mode of s.modes) {
    const pts = s.sweep.filter((w) => w.mode === mode)
    if (pts.length === 0) continue
    memSeries.push({
      label: `${MODE_LABEL[mode]} (${pts.at(-1)!.proxies} proxies at ${pts.at(-1)!.podsPerNode}/node)`,
      color: COLORS[mode],
      dashed: false,
      points: pts.map((w) => ({ x: w.podsPerNode, y: w.rssTotalMB })),
    })
  }
  const podsXs = [...new Set(s.sweep.map((w) => w.podsPerNode))].sort((a, b) => a - b)
  const parts = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W * 2}" height="${H + 30}" viewBox="0 0 ${W * 2} ${H + 30}" font-family="sans-serif">`,
    '<title>ambient compare: latency vs rate, memory vs pods per node</title>',
    `<rect x="0" y="0" width="${W * 2}" height="${H + 30}" fill="#fff"/>`,
    chart(0, 0, W, H, 'latency vs rate', 'requests per second', 'ms', latencySeries, s.rates),
    podsXs.length > 0
      ? chart(W, 0, W, H, 'mesh memory vs pods per node', 'pods per node', 'MB (total RSS of proxies)', memSeries, podsXs)
      : `<text x="${W * 1.5}" y="${H / 2}" text-anchor="middle" font-size="13">no memory sweep in this run</text>`,
    `<text x="10" y="${H + 20}" font-size="11">` +
      `${esc(s.unavailable.map((u) => `not measured: ${MODE_LABEL[u.mode]} (${u.reason})`).join('; ') || 'all requested modes measured')}` +
      `</text>`,
    '</svg>',
  ]
  return `${parts.join('\n')}\n`
}

const mdRow = (cells: readonly string[]): string => `| ${cells.map((c) => c.replace(/\|/g, '\\|')).join(' | ')} |`
const mdTable = (head: readonly string[], rows: readonly (readonly string[])[]): string =>
  [mdRow(head), mdRow(head.map(() => '---')), ...rows.map(mdRow)].join('\n')

export function renderMarkdown(h: BenchHeader, s: CompareSummary, svgName: string): string {
  const out: string[] = [
    '# ambient compare: what ambient saves, measured side by side',
    '',
    `${h.date} · node ${h.node} · kernel ${h.kernel} (${h.platform}) · ${h.cores} cores (${h.cpuModel}) · ${h.totalMemMiB} MiB · load ${h.loadAvg1m} at start`,
    '',
    `Options: ${Object.entries(h.options)
      .map(([k, v]) => `\`${k}=${String(v)}\``)
      .join(' ')}`,
    '',
    '## Method',
    '',
    ...h.method.map((m) => `- ${m}`),
    '',
    `![latency vs rate; memory vs pods per node](${svgName})`,
    '',
    "## Ratios: ours next to Istio's published ones",
    '',
    mdTable(
      ['ratio', 'ours', 'target', 'result', 'published', 'note'],
      s.ratios.map((r) => [r.name, formatRatio(r), r.target, r.pass === null ? '-' : r.pass ? 'PASS' : 'MISS', r.published, r.note]),
    ),
    '',
    '## Our proxies against the real ones (absolute, per proxy)',
    '',
    mdTable(ANCHOR_TABLE_HEAD, anchorTableRows(anchorRows(s))),
    '',
    '## Latency (ms; median (min-max) over rounds)',
    '',
    mdTable(
      [...LATENCY_TABLE_HEAD, 'rejected runs'],
      s.byModeRate.map((r) => [...latencyCells(r), String(r.rejectedRuns)]),
    ),
    '',
    '## Mesh cost under load (CPU in cores; RSS in MB)',
    '',
    mdTable(
      ['RPS', 'mode', 'proxies', 'CPU total', 'CPU/proxy', 'RSS/proxy', 'RSS total', 'peak (VmHWM)', 'over idle'],
      s.byModeRate.filter((r) => r.mode !== 'nomesh').map((r) => [...cpuCells(r), ...rssCells(r)]),
    ),
    '',
  ]
  if (s.sweep.length > 0) {
    out.push('## Memory vs pods per node', '')
    out.push(mdTable([...SWEEP_TABLE_HEAD, 'RPS achieved'], sweepTableRows(s.sweep)))
    out.push('')
    for (const c of s.crossover)
      out.push(`- crossover, ${MODE_LABEL[c.mode]}: ${c.podsPerNode === null ? 'n/a' : `${c.podsPerNode} pods per node`} (${c.note})`)
    out.push('')
  }
  if (s.unavailable.length > 0) {
    out.push('## Not measured', '')
    for (const u of s.unavailable) out.push(`- ${MODE_LABEL[u.mode]}: ${u.reason}`)
    out.push('')
  }
  return `${out.join('\n')}\n`
}
