// `ambient compare`: no mesh, ambient L4, ambient L7 and sidecar side by side on the
// same scenario at fixed open-loop rates, plus a pods-per-node memory sweep (src/bench/compare.ts).
// Writes <out>/compare-<time>.{json,md,svg}.
import { resolve } from 'node:path'
import { AmbientError } from '../../errors.js'
import { flagOptions, parseCommandArgs, parseDurationOption, stringOptions } from '../args.js'
import type { Command } from '../io.js'
import { EXIT_OK } from '../io.js'
import { CAPTURE_SPEC, CAPTURE_USAGE, captureMode } from './daemon-options.js'

const USAGE =
  'ambient compare [--scenario simple|bookinfo] [--rates 1000 (bookinfo: 100)] [--duration 10s] [--rounds ' +
  '3] [--pods 1,2,4,8,16] [--quick] [--out DIR] [--modes nomesh,ambient-l4,ambient-l7,sidecar] [--connections ' +
  '4] [--no-pin]' +
  ` [--proxy-node-flags="--cpu-prof --cpu-prof-dir=DIR"] ${CAPTURE_USAGE}`

const usage = (message: string): AmbientError => new AmbientError('CLI_USAGE', `${message}\nusage: ${USAGE}`, { side: 'config' })

function intList(name: string, text: string, min: number, max: number): number[] {
  const out = text
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '')
    .map(Number)
  if (out.length === 0 || out.some((v) => !Number.isInteger(v) || v < min || v > max))
    throw usage(`--${name}: "${text}" is not a list of integers ${min}..${max}`)
  return [...new Set(out)]
}

const OPTIONS = {
  ...stringOptions('scenario', 'rates', 'duration', 'rounds', 'pods', 'out', 'modes', 'connections', 'proxy-node-flags'),
  ...flagOptions('quick', 'no-pin'),
  ...CAPTURE_SPEC,
}

export const compareCommand: Command = async (argv, io) => {
  const { values } = parseCommandArgs(argv, OPTIONS, USAGE)
  const { parseModes, SCENARIOS } = await import('../../bench/compare-modes.js')
  const quick = values.quick === true
  const scenario = values.scenario ?? 'simple'
  if (!(SCENARIOS as readonly string[]).includes(scenario)) throw usage(`--scenario: "${scenario}" is not one of ${SCENARIOS.join(', ')}`)
  let modes
  try {
    modes = parseModes(values.modes ?? 'nomesh,ambient-l4,ambient-l7,sidecar')
  } catch (err) {
    throw usage((err as Error).message)
  }
  const durationS = values.duration === undefined ? (quick ? 1 : 10) : parseDurationOption(values.duration, 'duration') / 1000
  if (!(durationS >= 0.1 && durationS <= 600)) throw usage('--duration must be between 100ms and 10m')
  const rounds = intList('rounds', values.rounds ?? (quick ? '1' : '3'), 1, 50)[0]!
  const capture = captureMode(values.capture, USAGE)
  const proxyNodeFlags = (values['proxy-node-flags'] ?? '').split(/\s+/).filter((f) => f !== '')
  if (proxyNodeFlags.some((f) => !f.startsWith('--'))) throw usage('--proxy-node-flags: each flag must start with --')
  const { runCompare } = await import('../../bench/compare.js')
  await runCompare(
    {
      scenario: scenario as 'simple' | 'bookinfo',
      modes,
      // bookinfo fans each request out to four hops through single-process sample apps: 100 RPS.
      rates: intList('rates', values.rates ?? (scenario === 'bookinfo' ? '100' : quick ? '500' : '1000'), 1, 20_000),
      durationS,
      rounds,
      podsPerNode: values.pods === '' ? [] : intList('pods', values.pods ?? (quick ? '1,2' : '1,2,4,8,16'), 1, 64),
      quick,
      outDir: resolve(io.cwd, values.out ?? 'bench-results'),
      connections: intList('connections', values.connections ?? '4', 1, 64)[0]!,
      pin: values['no-pin'] !== true,
      warmupS: quick ? 0.5 : Math.min(3, durationS),
      phaseWarmupS: quick ? 0.2 : Math.min(1, durationS / 2),
      capture,
      proxyNodeFlags,
    },
    { stdout: io.stdout, stderr: io.stderr, isTty: process.stderr.isTTY },
  )
  return EXIT_OK
}
