// `bench:waypoint`'s summary on synthetic rounds: our waypoint against the reference L7 hop (CPU per
// 1000 RPS of each, ours ÷ reference per request, the whole path's ratio, RSS, the reference path's
// added latency over no mesh of the same round), and the reference's row in the printed tables.
import t from 'tap'
import { summarize } from '../../../src/bench/compare-summary.js'
import type { LatencyRun } from '../../../src/bench/compare-summary.js'
import type { ExtraRun } from '../../../src/bench/compare-extra.js'
import { REFERENCE_L7, formatWaypoint, summarizeReference, summarizeWaypoint } from '../../../src/bench/waypoint-summary.js'
import { fakeOpenLoopResult } from '../../helpers/open-loop-result.js'

const result = (p50Us: number, p99Us: number, rate = 1000): LatencyRun['result'] => ({
  ...fakeOpenLoopResult({ p50Us, p90Us: p99Us, p99Us, maxUs: p99Us }),
  achievedRatePerSec: rate,
  rejected: rate < 990,
})
const proc = <R extends string>(role: R, cpuCores: number, rssMeanMB = 50) => ({
  role,
  name: role,
  cpuCores,
  rssMeanMB,
  rssMaxMB: rssMeanMB,
  hwmMB: rssMeanMB + 2,
  idleRssMB: rssMeanMB - 5,
})

interface Round {
  round: number
  nomesh?: [number, number]
  /** Our waypoint's cores, the achieved rate, p99. */
  ours?: { cpu: number; rate?: number; p99?: number; rss?: number }
  ref?: { cpu: number; rate?: number; p50: number; p99: number; rss?: number; edge?: number }
}

function build(rounds: readonly Round[]): { runs: LatencyRun[]; extra: ExtraRun[] } {
  const runs: LatencyRun[] = []
  const extra: ExtraRun[] = []
  for (const r of rounds) {
    if (r.nomesh) runs.push({ round: r.round, rate: 1000, mode: 'nomesh', result: result(...r.nomesh), proxies: [] })
    runs.push({
      round: r.round,
      rate: 1000,
      mode: 'ambient-l4',
      result: result(600, 1200),
      proxies: [proc('ztunnel', 0.1), proc('ztunnel', 0.1)],
    })
    if (r.ours)
      runs.push({
        round: r.round,
        rate: 1000,
        mode: 'ambient-l7',
        result: result(900, r.ours.p99 ?? 3000, r.ours.rate),
        proxies: [proc('ztunnel', 0.125), proc('waypoint', r.ours.cpu, r.ours.rss), proc('ztunnel', 0.125)],
      })
    if (r.ref) {
      const edge = r.ref.edge ?? 0.125
      extra.push({
        round: r.round,
        rate: 1000,
        path: REFERENCE_L7,
        result: result(r.ref.p50, r.ref.p99, r.ref.rate),
        processes: [proc('reference client', edge), proc('reference waypoint', r.ref.cpu, r.ref.rss), proc('reference server', edge)],
      })
    }
  }
  return { runs, extra }
}

t.test('summarizeReference: per round and medians', async (t) => {
  const cases: { name: string; rounds: Round[]; want: Record<string, unknown> | undefined }[] = [
    { name: 'no reference run', rounds: [{ round: 1, nomesh: [200, 500], ours: { cpu: 0.4 } }], want: undefined },
    {
      name: 'one round, same rate: the ratio of cores',
      rounds: [{ round: 1, nomesh: [200, 500], ours: { cpu: 0.5, rss: 78 }, ref: { cpu: 0.25, p50: 700, p99: 2500, rss: 55 } }],
      want: {
        rounds: [
          {
            round: 1,
            oursCoresPer1k: 0.5,
            referenceCoresPer1k: 0.25,
            cpuRatio: 2,
            oursPathCoresPer1k: 0.75,
            referencePathCoresPer1k: 0.5,
            oursRssMB: 78,
            referenceRssMB: 55,
            referenceHwmMB: 57,
            referenceAddedP50Us: 500,
            referenceAddedP99Us: 2000,
            oursAddedP99Us: 2500,
          },
        ],
        cpuRatio: { median: 2, min: 2, max: 2, n: 1 },
      },
    },
    {
      name: 'per request: a reference run that achieved half the rate costs twice per request',
      rounds: [{ round: 1, nomesh: [200, 500], ours: { cpu: 0.5 }, ref: { cpu: 0.125, rate: 500, p50: 700, p99: 2500 } }],
      want: { rounds: [{ referenceCoresPer1k: 0.25, cpuRatio: 2 }] },
    },
    {
      name: 'three rounds: median, min and max; a round without our L7 run is left out',
      rounds: [
        { round: 1, nomesh: [200, 500], ours: { cpu: 0.375 }, ref: { cpu: 0.25, p50: 700, p99: 1500 } },
        { round: 2, nomesh: [200, 500], ours: { cpu: 0.625 }, ref: { cpu: 0.25, p50: 800, p99: 2500 } },
        { round: 3, nomesh: [200, 500], ours: { cpu: 0.5 }, ref: { cpu: 0.25, p50: 900, p99: 3500 } },
        { round: 4, nomesh: [200, 500], ref: { cpu: 0.25, p50: 900, p99: 3500 } },
      ],
      want: {
        cpuRatio: { median: 2, min: 1.5, max: 2.5, n: 3 },
        referenceCoresPer1k: { median: 0.25, n: 3 },
        referenceAddedP50Us: { median: 600, min: 500, max: 700, n: 3 },
        referenceAddedP99Us: { median: 2000, min: 1000, max: 3000, n: 3 },
      },
    },
    {
      name: 'a REJECTED round is shown but left out of the spreads while a clean round exists',
      rounds: [
        { round: 1, nomesh: [200, 500], ours: { cpu: 0.5 }, ref: { cpu: 0.25, p50: 700, p99: 2500 } },
        { round: 2, nomesh: [200, 500], ours: { cpu: 0.5, rate: 700 }, ref: { cpu: 0.125, p50: 700, p99: 2500 } },
      ],
      want: {
        rounds: [
          { round: 1, rejected: false },
          { round: 2, rejected: true },
        ],
        spreadOver: 'clean rounds',
        cpuRatio: { median: 2, min: 2, max: 2, n: 1 },
      },
    },
    {
      name: 'every round REJECTED: the spreads are over all of them',
      rounds: [{ round: 1, nomesh: [200, 500], ours: { cpu: 0.5 }, ref: { cpu: 0.25, rate: 900, p50: 700, p99: 2500 } }],
      want: { rounds: [{ rejected: true }], spreadOver: 'all rounds', cpuRatio: { n: 1 } },
    },
    {
      name: 'no no-mesh run in the round: added latency is NaN, the CPU ratio still stands',
      rounds: [{ round: 1, ours: { cpu: 0.5 }, ref: { cpu: 0.25, p50: 700, p99: 2500 } }],
      want: { cpuRatio: { median: 2, n: 1 }, referenceAddedP99Us: { n: 0 } },
    },
    {
      name: 'the whole path: two ztunnels + waypoint against client + hop + server',
      rounds: [{ round: 1, nomesh: [200, 500], ours: { cpu: 0.25 }, ref: { cpu: 0.125, p50: 700, p99: 2500, edge: 0.0625 } }],
      want: { cpuRatio: { median: 2 }, pathCpuRatio: { median: 2, n: 1 } },
    },
  ]
  for (const c of cases) {
    const { runs, extra } = build(c.rounds)
    const got = summarizeReference(runs, extra, 1000)
    if (c.want === undefined) t.equal(got, undefined, c.name)
    else t.match(got, c.want, c.name)
  }
  const { runs, extra } = build([{ round: 1, nomesh: [200, 500], ours: { cpu: 0.4 }, ref: { cpu: 0.2, p50: 700, p99: 2500 } }])
  t.equal(summarizeReference(runs, extra, 500), undefined, 'another rate: nothing to compare')
  t.equal(summarizeReference(runs, [{ ...extra[0]!, path: 'elsewhere' }], 1000), undefined, 'another extra path is not the reference')
})

t.test('summarizeWaypoint and formatWaypoint carry the reference row and section', async (t) => {
  const { runs, extra } = build([
    { round: 1, nomesh: [200, 500], ours: { cpu: 0.4, rss: 78 }, ref: { cpu: 0.2, p50: 700, p99: 2500, rss: 55 } },
    { round: 2, nomesh: [200, 600], ours: { cpu: 0.4, rss: 78 }, ref: { cpu: 0.16, p50: 700, p99: 2600, rss: 55 } },
  ])
  const compare = summarize(['nomesh', 'ambient-l4', 'ambient-l7'], [], [1000], runs, [])
  const w = summarizeWaypoint(compare, runs, 2, extra)
  t.same(
    w.paths.map((p) => p.mode),
    ['nomesh', 'ambient-l4', 'ambient-l7', REFERENCE_L7],
    'the reference path is the last row',
  )
  const ref = w.paths.at(-1)!
  t.match(ref, {
    p50Us: { median: 700 },
    addedP50Us: { median: 500, n: 2 },
    addedP99Us: { median: 2000, min: 2000, max: 2000 },
    rejectedRuns: 0,
  })
  t.match(w.reference, { cpuRatio: { median: 2.25, min: 2, max: 2.5, n: 2 }, referenceRssMB: { median: 55 } })
  const text = formatWaypoint(w)
  t.match(
    text,
    /reference: HBONE → Node L7 hop → HBONE\s+0\.70 \(0\.70-0\.70\)\s+2\.55 \(2\.50-2\.60\)\s+0\.50 \(0\.50-0\.50\)\s+2\.00 \(2\.00-2\.00\)\s+1000 \S+\s+ok/,
    'the reference row in the paths table',
  )
  t.match(text, /our waypoint against the reference Node L7 hop/, 'the reference section')
  t.match(text, /^1\s+0\.400\s+0\.200\s+2\.00\s/m, 'round 1: ours 0.400, reference 0.200, ours ÷ ref 2.00')
  t.match(text, /^median\s+0\.400 \(0\.400-0\.400\)\s+0\.180 \(0\.160-0\.200\)\s+2\.25 \(2\.00-2\.50\)/m, 'the medians with their spread')

  const noisy = build([
    { round: 1, nomesh: [200, 500], ours: { cpu: 0.5 }, ref: { cpu: 0.25, p50: 700, p99: 2500 } },
    { round: 2, nomesh: [200, 500], ours: { cpu: 0.5 }, ref: { cpu: 0.125, rate: 900, p50: 700, p99: 2500 } },
  ])
  const noisyText = formatWaypoint(summarizeWaypoint(compare, noisy.runs, 2, noisy.extra))
  t.match(noisyText, /^2 REJECTED\s+0\.500\s+0\.139\s+3\.60\s/m, 'a REJECTED round is marked')
  t.match(noisyText, /^median \(clean\)\s+0\.500\s+0\.250\s+2\.00\s/m, 'medians over the clean round')
  t.match(noisyText, /the medians are over the clean rounds/, 'and says so')

  const without = summarizeWaypoint(compare, runs, 2)
  t.equal(without.reference, undefined, 'no extra runs: no reference summary')
  t.notMatch(formatWaypoint(without), /reference/, 'and nothing printed about it')
})
