// `npm run bench:waypoint`: what the waypoint costs. A thin entry over `ambient compare`'s machinery
// (src/bench/compare.ts: real clusters, open-loop load, interleaved rounds, CPU/RSS per proxy): no mesh,
// ambient L4 (ztunnel → ztunnel) and ambient L7 (ztunnel → waypoint → ztunnel) at a fixed 1000 RPS with
// 1 KiB responses, no memory sweep; in the same rounds, a reference L7 path (waypoint-reference.ts: the
// least a Node process spends being an HTTP/1.1 L7 hop between two HBONE tunnels). Prints the added
// p50/p99 of every path over no mesh, the waypoint's CPU and RSS against issue 14's targets, and per
// round our waypoint ÷ the reference hop's CPU per request with both RSS; writes
// bench-results/waypoint-<time>.json.
//
//   node dist/bench/waypoint-bench.js [--rounds N (3; 1 with --quick)] [--duration 10s (1s)] [--quick] [--out DIR]
//     [--proxy-node-flags="--cpu-prof --cpu-prof-dir=DIR" (extra Node flags for the ztunnels and the waypoint)]
import path from 'node:path'
import { runCompare } from './compare.js'
import type { CompareOptions } from './compare.js'
import type { CompareSummary, LatencyRun } from './compare-summary.js'
import type { ExtraRun } from './compare-extra.js'
import { writeJsonResult } from './report.js'
import type { BenchHeader } from './report.js'
import { referenceL7Path } from './waypoint-reference.js'
import { RATE, formatWaypoint, summarizeWaypoint } from './waypoint-summary.js'
import type { WaypointSummary } from './waypoint-summary.js'
import { benchNumber, benchSeconds, nodeFlags, parseBenchArgs, runBenchMain } from './bench-cli.js'

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

export interface WaypointBenchResult {
  header: BenchHeader
  summary: WaypointSummary
  compare: CompareSummary
  runs: LatencyRun[]
  /** The reference L7 path's windows (compare's extra runs). */
  extraRuns: ExtraRun[]
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
    extraPaths: [referenceL7Path],
  }
  const { result } = await runCompare(o, {
    stdout: (text) => process.stdout.write(text),
    stderr: (text) => process.stderr.write(text),
    isTty: process.stderr.isTTY,
  })
  const extraRuns = result.extraRuns ?? []
  const summary = summarizeWaypoint(result.summary, result.runs, cli.rounds, extraRuns)
  process.stdout.write(`${formatWaypoint(summary)}\n\n`)
  const out: WaypointBenchResult = { header: result.header, summary, compare: result.summary, runs: result.runs, extraRuns }
  const file = await writeJsonResult(cli.outDir, 'waypoint', out)
  process.stdout.write(`JSON: ${file}\n`)
}

runBenchMain(main)
