// Thin wrapper over node:util parseArgs: strict parsing, and bad usage becomes a coded error that
// main.ts turns into exit code 2 with the command's usage.
import { parseArgs, type ParseArgsConfig } from 'node:util'
import { parseDurationMs } from '../duration.js'
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

/** A duration option (500ms, 30s, 10m, 1h, 2d, or Go's forms like 1h30m) in whole milliseconds. */
export function parseDurationOption(text: string, name: string): number {
  const ms = parseDurationMs(text.trim(), { days: true })
  if (ms === undefined) throw new AmbientError('CLI_BAD_DURATION', `--${name}: "${text}" is not a duration (use e.g. 500ms, 30s, 10m, 1h, 2d)`, { side: 'config' })
  return Math.round(ms)
}
