// Thin wrapper over node:util parseArgs: strict parsing, and bad usage becomes a coded error that
// main.ts turns into exit code 2 with the command's usage.
import { parseArgs, type ParseArgsConfig } from 'node:util'
import { createRequire } from 'node:module'
import type * as Yaml from 'yaml'
import { parseDurationMs } from '../duration.js'
import { AmbientError } from '../errors.js'
import { isValidPort, PORT_MAX } from '../net/address.js'
import { EXIT_OK, type Command } from './io.js'

export type OptionSpec = NonNullable<ParseArgsConfig['options']>

/** Options `names` all of one type: what parseArgs is given, spelled once. */
export type OptionsOf<N extends string, T extends 'string' | 'boolean'> = { readonly [K in N]: { readonly type: T } }

function optionsOf<N extends string, T extends 'string' | 'boolean'>(type: T, names: readonly N[]): OptionsOf<N, T> {
  return Object.fromEntries(names.map((name) => [name, { type }])) as OptionsOf<N, T>
}

/** Options that take a value (`--name VALUE` / `--name=VALUE`). */
export function stringOptions<const N extends string>(...names: N[]): OptionsOf<N, 'string'> {
  return optionsOf('string', names)
}

/** Flags (`--name`, no value). */
export function flagOptions<const N extends string>(...names: N[]): OptionsOf<N, 'boolean'> {
  return optionsOf('boolean', names)
}

/** `-h`/`--help` asked for: main.ts prints the text on stdout and exits 0. */
export class HelpRequested extends Error {
  constructor(readonly text: string) {
    super('help requested')
  }
}

/** Whether argv asks for help (`-h`/`--help` before any `--`: what follows `--` belongs to another program). */
export function wantsHelp(argv: readonly string[]): boolean {
  const end = argv.indexOf('--')
  return (end === -1 ? argv : argv.slice(0, end)).some((a) => a === '-h' || a === '--help')
}

/**
 * A command with help text of its own (longer than its usage line): `-h`/`--help` before any `--`
 * prints `help` on stdout and exits 0 without running the command.
 */
export function withHelp(help: string, command: Command): Command {
  return async (argv, io) => {
    if (!wantsHelp(argv)) return command(argv, io)
    io.stdout(help)
    return EXIT_OK
  }
}

/**
 * Strict parsing; bad usage becomes CLI_USAGE. A command whose options have no `help` of its own
 * gets `-h`/`--help` here: its usage line, exit 0 (HelpRequested).
 */
export function parseCommandArgs<O extends OptionSpec>(argv: readonly string[], options: O, usage: string, allowPositionals = false) {
  if (!('help' in options) && wantsHelp(argv)) throw new HelpRequested(`usage: ${usage}\n`)
  try {
    return parseArgs({ args: [...argv], options, strict: true, allowPositionals })
  } catch (err) {
    throw new AmbientError('CLI_USAGE', `${(err as Error).message}\nusage: ${usage}`, { side: 'config', cause: err })
  }
}

/** Reads a required string option or throws a usage error naming it. */
export function required(value: string | boolean | undefined | (string | boolean)[], name: string, usage: string): string {
  if (typeof value !== 'string' || value === '')
    throw new AmbientError('CLI_USAGE', `--${name} is required\nusage: ${usage}`, { side: 'config' })
  return value
}

/** A duration option (500ms, 30s, 10m, 1h, 2d, or Go's forms like 1h30m) in whole milliseconds. */
export function parseDurationOption(text: string, name: string): number {
  const ms = parseDurationMs(text.trim(), { days: true })
  if (ms === undefined)
    throw new AmbientError('CLI_BAD_DURATION', `--${name}: "${text}" is not a duration (use e.g. 500ms, 30s, 10m, 1h, 2d)`, {
      side: 'config',
    })
  return Math.round(ms)
}

/** A whole number option in [min, max], or CLI_BAD_NUMBER naming the option and the range. */
export function intOption(text: string, name: string, min: number, max: number): number {
  const n = /^-?\d+$/.test(text.trim()) ? Number(text) : NaN
  if (!Number.isSafeInteger(n) || n < min || n > max)
    throw new AmbientError('CLI_BAD_NUMBER', `--${name}: "${text}" is not a whole number from ${min} to ${max}`, { side: 'config' })
  return n
}

/** A port option: decimal digits, 0..PORT_MAX (0 = any free port), or CLI_USAGE ('' is not 0, nor 0x50 80). */
export function portOption(text: string, name: string): number {
  const n = /^\d+$/.test(text) ? Number(text) : NaN
  if (!isValidPort(n, 0)) throw new AmbientError('CLI_USAGE', `--${name}: "${text}" is not a port (0-${PORT_MAX})`, { side: 'config' })
  return n
}

/** A finite number option in [min, max] (decimals allowed), or CLI_BAD_NUMBER. */
export function numberOption(text: string, name: string, min: number, max: number): number {
  const n = /^\s*-?(\d+(\.\d*)?|\.\d+)\s*$/.test(text) ? Number(text) : NaN
  if (!Number.isFinite(n) || n < min || n > max)
    throw new AmbientError('CLI_BAD_NUMBER', `--${name}: "${text}" is not a number from ${min} to ${max}`, { side: 'config' })
  return n
}

/** Output formats of commands that print data: their human form (`text` or `table`), json, yaml. */
export type DataFormat = 'text' | 'table' | 'json' | 'yaml'

/**
 * `-o`/`--output` for a command that prints data: `human` (text or table, the default), json or
 * yaml; `--json` (older spelling) means `-o json`. Anything else is CLI_USAGE.
 */
export function outputOption(value: string | undefined, json: boolean | undefined, human: 'text' | 'table', usage: string): DataFormat {
  const format = value ?? (json === true ? 'json' : human)
  if (format !== human && format !== 'json' && format !== 'yaml')
    throw new AmbientError('CLI_USAGE', `-o: "${format}" is not ${human}, json or yaml\nusage: ${usage}`, { side: 'config' })
  return format
}

/** A value as JSON (indented) or YAML, ending with a newline. */
export function formatData(value: unknown, format: 'json' | 'yaml'): string {
  return format === 'json' ? `${JSON.stringify(value, null, 2)}\n` : toYaml(value)
}

// The YAML library (≈ 4 MB resident) is loaded by the first YAML output, not by every command that
// parses its flags here (a ztunnel fed by istiod never needs it).
let yaml: typeof Yaml | undefined
function toYaml(value: unknown): string {
  yaml ??= createRequire(import.meta.url)('yaml') as typeof Yaml
  return yaml.stringify(value)
}
