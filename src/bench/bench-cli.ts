// The benchmark entry points' common command line: every bench takes --quick, --out DIR and --help,
// checks its numeric options against a range, and ends its process the same way (exit 0, or the
// error's stack on stderr, its workers killed, exit 1). Bench entries are processes of their own, run
// as `node dist/bench/<name>.js`, so they own argv and exit like src/cli does.
import { parseArgs } from 'node:util'
import type { ParseArgsConfig } from 'node:util'
import { parseDurationMs } from '../duration.js'
import { AmbientError, isAmbientError } from '../errors.js'

type ParseArgsOptionsConfig = NonNullable<ParseArgsConfig['options']>

const COMMON = {
  quick: { type: 'boolean', default: false },
  out: { type: 'string', default: 'bench-results' },
  help: { type: 'boolean', default: false },
} as const satisfies ParseArgsOptionsConfig

type Values<O extends ParseArgsOptionsConfig> = ReturnType<
  typeof parseArgs<{ args: string[]; strict: true; options: O & typeof COMMON }>
>['values']

/** A bench's bad option: a coded config error (CLI_USAGE) that runBenchMain prints on one line. */
export const benchUsageError = (message: string): AmbientError => new AmbientError('CLI_USAGE', message, { side: 'config' })

/**
 * Parses a bench's argv with its own options plus --quick, --out (default bench-results) and --help;
 * --help prints `usage` and exits 0.
 */
export function parseBenchArgs<O extends ParseArgsOptionsConfig>(argv: string[], options: O, usage: string): Values<O> {
  let values
  try {
    values = parseArgs({ args: argv, strict: true, options: { ...options, ...COMMON } }).values
  } catch (err) {
    throw benchUsageError(`${(err as Error).message}\n${usage}`)
  }
  if ((values as { help?: boolean }).help === true) {
    process.stdout.write(usage.endsWith('\n') ? usage : `${usage}\n`)
    process.exit(0)
  }
  return values as Values<O>
}

/** A numeric option: `fallback` when absent, else a number in min..max (an integer unless told). */
export function benchNumber(name: string, raw: string | undefined, fallback: number, min: number, max: number, integer = true): number {
  const v = raw === undefined ? fallback : Number(raw)
  if (!Number.isFinite(v) || v < min || v > max || (integer && !Number.isInteger(v))) {
    throw benchUsageError(`--${name} must be ${integer ? 'an integer' : 'a number'} in ${min}..${max}, got ${raw}`)
  }
  return v
}

/** A duration option in seconds (500ms, 10s, 1m …) within [minS, maxS], or the fallback when absent. */
export function benchSeconds(name: string, raw: string | undefined, fallbackS: number, minS: number, maxS: number): number {
  if (raw === undefined) return fallbackS
  const ms = parseDurationMs(raw.trim())
  const s = ms === undefined ? Number.NaN : ms / 1000
  if (!(s >= minS && s <= maxS)) throw benchUsageError(`--${name} must be a duration between ${minS}s and ${maxS}s (e.g. 10s), got ${raw}`)
  return s
}

/** Extra Node flags for child processes, space-separated; each must look like `--flag`. */
export function nodeFlags(name: string, raw: string): string[] {
  const flags = raw.split(/\s+/).filter((f) => f !== '')
  for (const f of flags) if (!f.startsWith('--')) throw benchUsageError(`--${name}: "${f}" is not a Node flag`)
  return flags
}

export function benchLog(line: string): void {
  process.stderr.write(`[bench] ${line}\n`)
}

/**
 * Runs a bench's main: exit 0 when it resolves. A bad option (a coded config error) prints its code and
 * message and exits 2;
 * any other error prints its stack, runs `cleanup` (kill workers) and exits 1.
 */
export function runBenchMain(main: () => Promise<void>, cleanup: () => void = () => {}): void {
  main().then(
    () => process.exit(0),
    (err: unknown) => {
      if (isAmbientError(err) && err.side === 'config') {
        benchLog(`${err.code}: ${err.message}`)
        cleanup()
        process.exit(2)
      }
      benchLog(`failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`)
      cleanup()
      process.exit(1)
    },
  )
}
