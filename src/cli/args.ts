// Thin wrapper over node:util parseArgs: strict parsing, and bad usage becomes a coded error that
// main.ts turns into exit code 2 with the command's usage.
import { parseArgs, type ParseArgsConfig } from 'node:util'
import { AmbientError } from '../errors.js'

export type OptionSpec = NonNullable<ParseArgsConfig['options']>

export function parseCommandArgs<O extends OptionSpec>(argv: readonly string[], options: O, usage: string, allowPositionals = false) {
  try {
    return parseArgs({ args: [...argv], options, strict: true, allowPositionals })
  } catch (err) {
    throw new AmbientError('CLI_USAGE', `${(err as Error).message}\nusage: ${usage}`, { side: 'config', cause: err })
  }
}

/** Reads a required string option or throws a usage error naming it. */
export function required(value: string | boolean | undefined | (string | boolean)[], name: string, usage: string): string {
  if (typeof value !== 'string' || value === '') throw new AmbientError('CLI_USAGE', `--${name} is required\nusage: ${usage}`, { side: 'config' })
  return value
}

/** Parses durations like 500ms, 30s, 10m, 1h, 2d into milliseconds. */
export function parseDurationMs(text: string, name: string): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h|d)$/.exec(text.trim())
  if (!m) throw new AmbientError('CLI_BAD_DURATION', `--${name}: "${text}" is not a duration (use e.g. 500ms, 30s, 10m, 1h, 2d)`, { side: 'config' })
  const unit = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }[m[2] as 'ms' | 's' | 'm' | 'h' | 'd']
  return Math.round(Number(m[1]) * unit)
}
