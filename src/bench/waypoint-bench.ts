// `npm run bench:waypoint`: what the waypoint costs. A thin entry over `ambient compare`'s machinery
// (src/bench/compare.ts: real clusters, open-loop load, interleaved rounds, CPU/RSS per proxy): no mesh,
// ambient L4 (ztunnel → ztunnel) and ambient L7 (ztunnel → waypoint → ztunnel) at a fixed 1000 RPS with
// 1 KiB responses, no memory sweep. Prints the added p50/p99 of both mesh paths over no mesh and the
// waypoint's CPU and RSS against two targets, and writes bench-results/waypoint-<time>.json.
//
//   node dist/bench/waypoint-bench.js [--rounds N (3; 1 with --quick)] [--duration 10s (1s)] [--quick] [--out DIR]
//     [--proxy-node-flags="--cpu-prof --cpu-prof-dir=DIR" (extra Node flags for the ztunnels and the waypoint)]
import path from 'node:path'
import { runCompare } from './compare.js'
import type { CompareOptions } from './compare.js'
import type { CompareSummary, LatencyRun, ModeRateSummary } from './compare-summary.js'
import { formatSpread, formatTable, spread, writeJsonResult } from './report.js'
import type { BenchHeader, Spread } from './report.js'
import type { Mode } from './compare-modes.js'
import { benchNumber, benchSeconds, nodeFlags, parseBenchArgs, runBenchMain } from './bench-cli.js'

export const RATE = 1000
/** Envoy's figure for a waypoint at 1000 RPS in Istio's docs (performance and scalability page). */
export const TARGET_WAYPOINT_CORES = 0.25
/** Issue 14: the L7 path's added p99 at 1000 RPS, and the waypoint's RSS under that load. */
export const TARGET_ADDED_P99_MS = 2
export const TARGET_WAYPOINT_RSS_MB = 70

interface Cli {
  rounds: number
  durationS: number
  quick: boolean
  outDir: string
  /** Extra Node flags for the proxies (e.g. `--cpu-prof --cpu-prof-dir=DIR`). */
  proxyNodeFlags: string[]
}

function parseCli(argv: string[]): Cli {
  const values = parseBenchArgs(
    argv,
    {
      rounds: { type: 'string' },
      duration: { type: 'string' },
      'proxy-node-flags': { type: 'string', default: '' },
    },
    'usage: waypoint-bench [--rounds N (3; 1 with --quick)] [--duration 10s (1s with --quick)] [--quick] [--out DIR (bench-results)]\n' +
      '  [--proxy-node-flags="--cpu-prof --cpu-prof-dir=DIR"]',
  )
  const quick = values.quick
  const rounds = benchNumber('rounds', values.rounds, quick ? 1 : 3, 1, 50)
  const durationS = benchSeconds('duration', values.duration, quick ? 1 : 10, 0.1, 600)
  return {
    rounds,
    durationS,
    quick,
    outDir: path.resolve(values.out),
    proxyNodeFlags: nodeFlags('proxy-node-flags', values['proxy-node-flags']),
  }
}

export interface PathRow {
  mode: Mode
  path: string
  p50Us: Spread
  p99Us: Spread
  /** percentile − no mesh's in the same round; NaN spread for no mesh itself. */
  addedP50Us: Spread
  addedP99Us: Spread
  achievedRate: Spread
  rejectedRuns: number
}

export interface TargetRow {
  name: string
  ours: number | null
  unit: string
  target: string
  pass: boolean | null
}

export interface WaypointSummary {
  rate: number
  rounds: number
  paths: PathRow[]
  waypoint: { cpuCores: Spread; rssMeanMB: Spread; hwmMB: Spread; rssOverIdleMB: Spread }
  /** Added p99 of the waypoint path over the ztunnel-only path (the L7 hop alone), per round. */
  waypointHopP99Us: Spread
  targets: TargetRow[]
}

const PATH_LABEL: Record<string, string> = {
  nomesh: 'no mesh',
  'ambient-l4': 'ztunnel only (L4)',
  'ambient-l7': 'ztunnel → waypoint → ztunnel (L7)',
}
const NONE: Spread = { median: Number.NaN, min: Number.NaN, max: Number.NaN, n: 0 }

export function summarizeWaypoint(s: CompareSummary, runs: readonly LatencyRun[], rounds: number): WaypointSummary {
  const row = (m: Mode): ModeRateSummary | undefined => s.byModeRate.find((r) => r.mode === m && r.rate === RATE)
  const paths: PathRow[] = (['nomesh', 'ambient-l4', 'ambient-l7'] as const).flatMap((m) => {
    const r = row(m)
    if (r === undefined) return []
    return [
      {
        mode: m,
        path: PATH_LABEL[m]!,
        p50Us: r.p50Us,
        p99Us: r.p99Us,
        addedP50Us: m === 'nomesh' ? NONE : r.addedP50Us,
        addedP99Us: m === 'nomesh' ? NONE : r.addedP99Us,
        achievedRate: r.achievedRate,
        rejectedRuns: r.rejectedRuns,
      },
    ]
  })
  const l7 = runs.filter((r) => r.mode === 'ambient-l7' && r.rate === RATE)
  const wp = (f: (p: LatencyRun['proxies'][number]) => number): Spread =>
    spread(
      l7.map((r) => {
        const ps = r.proxies.filter((p) => p.role === 'waypoint')
        return ps.length === 0 ? Number.NaN : ps.reduce((a, p) => a + f(p), 0)
      }),
    )
  const waypoint = {
    cpuCores: wp((p) => p.cpuCores),
    rssMeanMB: wp((p) => p.rssMeanMB),
    hwmMB: wp((p) => p.hwmMB),
    rssOverIdleMB: wp((p) => p.rssMeanMB - p.idleRssMB),
  }
  const hop = spread(
    l7.map((r) => {
      const l4 = runs.find((x) => x.mode === 'ambient-l4' && x.rate === RATE && x.round === r.round)
      return l4 === undefined ? Number.NaN : r.result.latency.p99Us - l4.result.latency.p99Us
    }),
  )
  const finite = (x: number): number | null => (Number.isFinite(x) ? x : null)
  const cpu = finite(waypoint.cpuCores.median)
  const rss = finite(waypoint.rssMeanMB.median)
  const addedP99 = finite((row('ambient-l7')?.addedP99Us.median ?? Number.NaN) / 1000)
  const targets: TargetRow[] = [
    {
      name: `waypoint CPU at ${RATE} RPS (Envoy in Istio's docs)`,
      ours: cpu,
      unit: 'cores',
      target: `≤ ${TARGET_WAYPOINT_CORES}`,
      pass: cpu === null ? null : cpu <= TARGET_WAYPOINT_CORES,
    },
    {
      name: `waypoint RSS at ${RATE} RPS (mean)`,
      ours: rss,
      unit: 'MB',
      target: `≤ ${TARGET_WAYPOINT_RSS_MB}`,
      pass: rss === null ? null : rss <= TARGET_WAYPOINT_RSS_MB,
    },
    {
      name: 'added p99 on the waypoint path over no mesh',
      ours: addedP99,
      unit: 'ms',
      target: `≤ ${TARGET_ADDED_P99_MS}`,
      pass: addedP99 === null ? null : addedP99 <= TARGET_ADDED_P99_MS,
    },
  ]
  return { rate: RATE, rounds, paths, waypoint, waypointHopP99Us: hop, targets }
}

const ms = (s: Spread): string => formatSpread({ ...s, median: s.median / 1000, min: s.min / 1000, max: s.max / 1000 }, 2)

export function formatWaypoint(w: WaypointSummary): string {
  const out: string[] = []
  out.push(
    `waypoint bench at ${w.rate} RPS, 1 KiB responses (ms; median (min-max) over ${w.rounds} round(s); added = path − no mesh in the same round)`,
  )
  out.push(
    formatTable(
      ['path', 'p50', 'p99', '+p50', '+p99', 'RPS', 'runs'],
      w.paths.map((p) => [
        p.path,
        ms(p.p50Us),
        ms(p.p99Us),
        p.mode === 'nomesh' ? '-' : ms(p.addedP50Us),
        p.mode === 'nomesh' ? '-' : ms(p.addedP99Us),
        formatSpread(p.achievedRate, 0),
        p.rejectedRuns > 0 ? `${p.rejectedRuns} REJECTED` : 'ok',
      ]),
      ['left', 'right', 'right', 'right', 'right', 'right', 'left'],
    ),
  )
  out.push(`the waypoint hop alone (L7 − L4, p99): ${ms(w.waypointHopP99Us)} ms`)
  out.push('', 'the waypoint under load (CPU in cores; RSS in MB = 10^6 B: mean VmRSS, peak VmHWM, mean − idle)')
  out.push(
    formatTable(
      ['CPU', 'RSS', 'peak', 'over idle'],
      [
        [
          formatSpread(w.waypoint.cpuCores, 3),
          formatSpread(w.waypoint.rssMeanMB, 1),
          formatSpread(w.waypoint.hwmMB, 1),
          formatSpread(w.waypoint.rssOverIdleMB, 1),
        ],
      ],
      ['right', 'right', 'right', 'right'],
    ),
  )
  out.push('', 'targets')
  out.push(
    formatTable(
      ['target', 'ours', 'limit', 'result'],
      w.targets.map((t) => [
        t.name,
        t.ours === null ? 'n/a' : `${t.ours.toFixed(t.unit === 'cores' ? 3 : t.unit === 'MB' ? 1 : 2)} ${t.unit}`,
        `${t.target} ${t.unit}`,
        t.pass === null ? '-' : t.pass ? 'PASS' : 'MISS',
      ]),
      ['left', 'right', 'right', 'left'],
    ),
  )
  if (w.paths.some((p) => p.rejectedRuns > 0))
    out.push('some runs were REJECTED (under 99 % of the rate, or errors): their figures measured less load')
  return out.join('\n')
}

export interface WaypointBenchResult {
  header: BenchHeader
  summary: WaypointSummary
  compare: CompareSummary
  runs: LatencyRun[]
}

async function main(): Promise<void> {
  const cli = parseCli(process.argv.slice(2))
  const o: CompareOptions = {
    name: 'bench:waypoint',
    scenario: 'simple',
    modes: ['nomesh', 'ambient-l4', 'ambient-l7'],
    rates: [RATE],
    durationS: cli.durationS,
    rounds: cli.rounds,
    podsPerNode: [],
    quick: cli.quick,
    outDir: cli.outDir,
    connections: 4,
    pin: true,
    warmupS: cli.quick ? 0.5 : Math.min(3, cli.durationS),
    phaseWarmupS: cli.quick ? 0.2 : Math.min(1, cli.durationS / 2),
    writeFiles: false,
    proxyNodeFlags: cli.proxyNodeFlags,
  }
  const { result } = await runCompare(o, {
    stdout: (text) => process.stdout.write(text),
    stderr: (text) => process.stderr.write(text),
    isTty: process.stderr.isTTY,
  })
  const summary = summarizeWaypoint(result.summary, result.runs, cli.rounds)
  process.stdout.write(`${formatWaypoint(summary)}\n\n`)
  const out: WaypointBenchResult = { header: result.header, summary, compare: result.summary, runs: result.runs }
  const file = await writeJsonResult(cli.outDir, 'waypoint', out)
  process.stdout.write(`JSON: ${file}\n`)
}

runBenchMain(main)
