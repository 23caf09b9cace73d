// Turns the rounds of `bench:hbone` into medians with min-max, checks the targets, and
// prints the tables. Ratios and differences are taken within each round first (same run, same
// moment) and only then summarised, so that drift between rounds does not leak into them.
import { formatSpread, formatTable, spread } from './report.js'
import type { Spread } from './report.js'
import { MODES } from './hbone-phases.js'
import type { ModeName, ModeRound } from './hbone-phases.js'

export interface ModeSummary {
  throughputGbitPerSec: Spread
  pingPongP50Us: Spread
  pingPongP99Us: Spread
  openLoopP50Us: Spread
  openLoopP90Us: Spread
  openLoopP99Us: Spread
  openLoopAchievedPerSec: Spread
  churnAchievedPerSec: Spread
  churnP50Us: Spread
  churnP99Us: Spread
  capacityPerSec: Spread
}

export interface ProxySummary {
  /** The worker's name: `relay`, `hbone-client`, `hbone-server` (connection set) or `…/bulk`. */
  role: string
  /** The phase its figures come from: the bulk set in the open loop, the connection set in the churn. */
  phase: 'openLoop' | 'churn'
  idleRssMB: number
  cores: Spread
  rssMeanMB: Spread
  /** Mean RSS under load minus RSS right after start (before any traffic). */
  rssIncrementMB: Spread
  hwmMB: Spread
}

export interface TargetCheck {
  name: string
  unit: string
  value: Spread
  /** e.g. '≥ 0.60'. */
  target: string
  pass: boolean
}

export interface BenchSummary {
  modes: Record<ModeName, ModeSummary>
  proxies: ProxySummary[]
  /** Istio's added latency: percentile(hbone) − percentile(direct), per round, in ms; and relay − direct. */
  addedLatencyMs: Record<
    'hbone' | 'relay',
    { openLoopP50: Spread; openLoopP90: Spread; openLoopP99: Spread; pingPongP50: Spread; pingPongP99: Spread }
  >
  /** This process (load generator and targets) during the hbone churn: a saturated generator shows here. */
  generatorChurnCores: Spread
  targets: TargetCheck[]
  /** Open-loop runs under 99 % of their rate or with errors: their figures are not trustworthy. */
  rejectedRuns: { round: number; mode: ModeName; phase: string; reasons: string[] }[]
}

const TARGETS = {
  throughputRatio: 0.6,
  addedP50Ms: 0.25,
  tunnelsPerSec: 2000,
  coresPerSide: 0.3,
  rssPerSideMB: 80,
} as const

function byMode(rounds: readonly ModeRound[], mode: ModeName): ModeRound[] {
  return rounds.filter((r) => r.mode === mode)
}

/** One value per round where both modes ran, from `f(a, b)`. */
function paired(rounds: readonly ModeRound[], a: ModeName, b: ModeName, f: (x: ModeRound, y: ModeRound) => number): Spread {
  const values: number[] = []
  for (const x of byMode(rounds, a)) {
    const y = rounds.find((r) => r.mode === b && r.round === x.round)
    if (y) values.push(f(x, y))
  }
  return spread(values)
}

export function summarize(rounds: readonly ModeRound[], idleRssMB: Record<string, number>): BenchSummary {
  const modes = {} as Record<ModeName, ModeSummary>
  for (const m of MODES) {
    const rs = byMode(rounds, m)
    const s = (f: (r: ModeRound) => number): Spread => spread(rs.map(f))
    modes[m] = {
      throughputGbitPerSec: s((r) => r.throughput.gbitPerSec),
      pingPongP50Us: s((r) => r.pingPong.p50Us),
      pingPongP99Us: s((r) => r.pingPong.p99Us),
      openLoopP50Us: s((r) => r.openLoop.latency.p50Us),
      openLoopP90Us: s((r) => r.openLoop.latency.p90Us),
      openLoopP99Us: s((r) => r.openLoop.latency.p99Us),
      openLoopAchievedPerSec: s((r) => r.openLoop.achievedRatePerSec),
      churnAchievedPerSec: s((r) => r.churn.achievedRatePerSec),
      churnP50Us: s((r) => r.churn.latency.p50Us),
      churnP99Us: s((r) => r.churn.latency.p99Us),
      capacityPerSec: s((r) => r.capacity.perSec),
    }
  }

  const proxies: ProxySummary[] = []
  for (const phase of ['openLoop', 'churn'] as const) {
    const windows = rounds.flatMap((r) => r[phase].proxies)
    for (const role of [...new Set(windows.map((w) => w.role))]) {
      const mine = windows.filter((w) => w.role === role)
      const idle = idleRssMB[role] ?? Number.NaN
      proxies.push({
        role,
        phase,
        idleRssMB: idle,
        cores: spread(mine.map((w) => w.cpuCores)),
        rssMeanMB: spread(mine.map((w) => w.rssMeanMB)),
        rssIncrementMB: spread(mine.map((w) => w.rssMeanMB - idle)),
        hwmMB: spread(mine.map((w) => w.hwmMB)),
      })
    }
  }

  const hbone = byMode(rounds, 'hbone')
  const side = (role: string) => proxies.find((p) => p.role === role && p.phase === 'churn')
  const targets: TargetCheck[] = []
  const check = (name: string, unit: string, value: Spread, target: string, pass: (v: number) => boolean): void => {
    targets.push({ name, unit, value, target, pass: value.n > 0 && pass(value.median) })
  }
  check(
    'throughput hbone ÷ relay',
    '×',
    paired(rounds, 'hbone', 'relay', (h, r) => h.throughput.gbitPerSec / r.throughput.gbitPerSec),
    `≥ ${TARGETS.throughputRatio.toFixed(2)}`,
    (v) => v >= TARGETS.throughputRatio,
  )
  const addedP50 = (f: (r: ModeRound) => number) => paired(rounds, 'hbone', 'direct', (h, d) => (f(h) - f(d)) / 1000)
  check(
    `added p50, open loop ${rounds[0]?.openLoop.targetRatePerSec ?? '?'}/s (hbone − direct)`,
    'ms',
    addedP50((r) => r.openLoop.latency.p50Us),
    `≤ ${TARGETS.addedP50Ms}`,
    (v) => v <= TARGETS.addedP50Ms,
  )
  check(
    'added p50, ping-pong (hbone − direct)',
    'ms',
    addedP50((r) => r.pingPong.p50Us),
    `≤ ${TARGETS.addedP50Ms}`,
    (v) => v <= TARGETS.addedP50Ms,
  )
  check(
    `new tunnels/s at a fixed ${hbone[0]?.churn.targetRatePerSec ?? '?'}/s (achieved)`,
    '/s',
    spread(hbone.map((r) => r.churn.achievedRatePerSec)),
    `≥ ${TARGETS.tunnelsPerSec * 0.99} (99 %)`,
    (v) => v >= TARGETS.tunnelsPerSec * 0.99,
  )
  check(
    'new tunnels/s, capacity (closed loop)',
    '/s',
    spread(hbone.map((r) => r.capacity.perSec)),
    `≥ ${TARGETS.tunnelsPerSec}`,
    (v) => v >= TARGETS.tunnelsPerSec,
  )
  for (const role of ['hbone-client', 'hbone-server']) {
    const p = side(role)
    if (!p) continue
    check(`${role} cores during tunnel churn`, 'cores', p.cores, `< ${TARGETS.coresPerSide}`, (v) => v < TARGETS.coresPerSide)
    check(`${role} RSS (mean VmRSS) during churn`, 'MB', p.rssMeanMB, `≤ ${TARGETS.rssPerSideMB}`, (v) => v <= TARGETS.rssPerSideMB)
  }

  const rejectedRuns: BenchSummary['rejectedRuns'] = []
  for (const r of rounds) {
    for (const phase of ['openLoop', 'churn'] as const) {
      if (r[phase].rejected) rejectedRuns.push({ round: r.round, mode: r.mode, phase, reasons: r[phase].rejectReasons })
    }
    if (r.capacity.errors > 0)
      rejectedRuns.push({
        round: r.round,
        mode: r.mode,
        phase: 'capacity',
        reasons: [`${r.capacity.errors} errors: ${r.capacity.firstError ?? ''}`],
      })
  }
  const added = (mode: 'hbone' | 'relay') => {
    const d = (f: (r: ModeRound) => number): Spread => paired(rounds, mode, 'direct', (x, y) => (f(x) - f(y)) / 1000)
    return {
      openLoopP50: d((r) => r.openLoop.latency.p50Us),
      openLoopP90: d((r) => r.openLoop.latency.p90Us),
      openLoopP99: d((r) => r.openLoop.latency.p99Us),
      pingPongP50: d((r) => r.pingPong.p50Us),
      pingPongP99: d((r) => r.pingPong.p99Us),
    }
  }
  const addedLatencyMs = { hbone: added('hbone'), relay: added('relay') }
  const generatorChurnCores = spread(hbone.map((r) => r.churn.generator.cpuCores))
  return { modes, proxies, addedLatencyMs, generatorChurnCores, targets, rejectedRuns }
}

export function formatSummary(
  s: BenchSummary,
  sizes: { openLoopRatePerSec: number; churnRatePerSec: number; capacityConcurrency: number },
): string {
  const row = (label: string, f: (m: ModeSummary) => Spread, decimals: number): string[] => [
    label,
    ...MODES.map((m) => formatSpread(f(s.modes[m]), decimals)),
  ]
  const perMode = formatTable(
    ['per mode: median (min-max)', ...MODES],
    [
      row('throughput, one connection (Gb/s)', (m) => m.throughputGbitPerSec, 2),
      row('ping-pong 1 KiB p50 (µs)', (m) => m.pingPongP50Us, 0),
      row('ping-pong 1 KiB p99 (µs)', (m) => m.pingPongP99Us, 0),
      row(`open loop ${sizes.openLoopRatePerSec}/s 1 KiB p50 (µs)`, (m) => m.openLoopP50Us, 0),
      row(`open loop ${sizes.openLoopRatePerSec}/s 1 KiB p90 (µs)`, (m) => m.openLoopP90Us, 0),
      row(`open loop ${sizes.openLoopRatePerSec}/s 1 KiB p99 (µs)`, (m) => m.openLoopP99Us, 0),
      row(`new conns at ${sizes.churnRatePerSec}/s: achieved (/s)`, (m) => m.churnAchievedPerSec, 0),
      row(`new conns at ${sizes.churnRatePerSec}/s: setup+close p50 (µs)`, (m) => m.churnP50Us, 0),
      row(`new conns at ${sizes.churnRatePerSec}/s: setup+close p99 (µs)`, (m) => m.churnP99Us, 0),
      row(`new conns capacity, ${sizes.capacityConcurrency} lanes (/s)`, (m) => m.capacityPerSec, 0),
    ],
    ['left', 'right', 'right', 'right'],
  )
  const addedRow = (label: string, f: (a: BenchSummary['addedLatencyMs']['hbone']) => Spread): string[] => [
    label,
    formatSpread(f(s.addedLatencyMs.relay), 3),
    formatSpread(f(s.addedLatencyMs.hbone), 3),
  ]
  const added = formatTable(
    ['added latency vs direct (ms), per round', 'relay', 'hbone'],
    [
      addedRow(`open loop ${sizes.openLoopRatePerSec}/s p50`, (a) => a.openLoopP50),
      addedRow(`open loop ${sizes.openLoopRatePerSec}/s p90`, (a) => a.openLoopP90),
      addedRow(`open loop ${sizes.openLoopRatePerSec}/s p99`, (a) => a.openLoopP99),
      addedRow('ping-pong p50', (a) => a.pingPongP50),
      addedRow('ping-pong p99', (a) => a.pingPongP99),
    ],
    ['left', 'right', 'right'],
  )
  const during = { openLoop: `open loop ${sizes.openLoopRatePerSec}/s`, churn: `new conns ${sizes.churnRatePerSec}/s` }
  const perProxy =
    formatTable(
      ['proxy process', 'measured during', 'idle RSS MB', 'cores', 'RSS MB (mean VmRSS)', 'Δ over idle MB', 'VmHWM MB'],
      s.proxies.map((p) => [
        p.role,
        during[p.phase],
        p.idleRssMB.toFixed(1),
        formatSpread(p.cores, 3),
        formatSpread(p.rssMeanMB, 1),
        formatSpread(p.rssIncrementMB, 1),
        formatSpread(p.hwmMB, 1),
      ]),
      ['left', 'left', 'right', 'right', 'right', 'right', 'right'],
    ) +
    `\n(…/bulk processes carried the throughput, ping-pong and open-loop phases; the others only the new connections)` +
    `\n(load generator and targets, one process: ${formatSpread(s.generatorChurnCores, 3)} cores during the hbone churn)`
  const targets = formatTable(
    ['target (issue)', 'median (min-max)', 'unit', 'target', 'result'],
    s.targets.map((t) => [
      t.name,
      formatSpread(t.value, t.unit === '/s' ? 0 : t.unit === 'MB' ? 1 : 3),
      t.unit,
      t.target,
      t.pass ? 'PASS' : 'MISS',
    ]),
    ['left', 'right', 'left', 'left', 'left'],
  )
  const rejected =
    s.rejectedRuns.length === 0
      ? 'every open-loop run reached ≥ 99 % of its rate without errors'
      : [
          'REJECTED runs (figures above include them; do not trust those cells):',
          ...s.rejectedRuns.map((r) => `  round ${r.round} ${r.mode} ${r.phase}: ${r.reasons.join('; ')}`),
        ].join('\n')
  return [perMode, added, perProxy, targets, rejected].join('\n\n')
}
