// Structured logs on pino. One logger tree per process (or per in-process ztunnel in tests), never a
// module-level logger: the tree's root binds `component` (ztunnel, waypoint, istiod) and subsystems
// take a child with `scope` (access, inbound, xds, ...), ztunnel's name for a log target. We use a
// second key rather than a nested `component` because pino appends child bindings without removing
// the parent's, which would print the key twice in one JSON line.
//
// Levels: ztunnel's admin `/logging?level=info,access:debug` sets a default level and per-scope
// overrides at run time. pino children are prototype copies of their parent, so a child that never
// had its own level follows the root; scope loggers made by `childLogger` are remembered (weakly) so
// that an override can reach them and a later default can reset them.
import { pino } from 'pino'
import { AmbientError } from '../errors.js'

export type Logger = pino.Logger
export type LogLevel = 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent'
export type LogDestination = pino.DestinationStream

export const LOG_LEVELS: readonly LogLevel[] = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']

export const LoggerErrorCode = {
  invalidLevel: 'LOG_LEVEL_INVALID',
} as const

export interface LoggerOptions {
  /** Default `info`, as ztunnel's default. */
  level?: LogLevel
  /** The process or role: `ztunnel`, `waypoint`, `istiod`, `cli`. */
  component: string
  /** Where JSON lines go; default stdout. Tests pass a capturing stream. */
  destination?: LogDestination
}

/** What `/logging` reports and accepts. */
export interface LogLevels {
  level: LogLevel
  scopes: Record<string, LogLevel>
}

interface LogControl {
  root: Logger
  defaultLevel: LogLevel
  overrides: Map<string, LogLevel>
  /** scope → the scope loggers made for it (weak: a dropped logger must not be kept alive). */
  scoped: Map<string, Set<WeakRef<Logger>>>
  /** Cache so that `childLogger(l, 'access')` on every connection makes one child, not thousands. */
  cache: WeakMap<Logger, Map<string, Logger>>
}

// The control travels with the tree: pino children inherit the parent's properties through the
// prototype, so any logger of the tree finds it without a module-level table.
const CONTROL = Symbol('ambient.logControl')
type Controlled = Logger & { [CONTROL]?: LogControl }

export function createLogger(options: LoggerOptions): Logger {
  const level = options.level ?? 'info'
  checkLevel(level)
  const pinoOptions: pino.LoggerOptions = {
    level,
    // pid and hostname say nothing in an in-process mesh; the component does.
    base: { component: options.component },
    timestamp: pino.stdTimeFunctions.isoTime,
    // Level names, not numbers: people and tests read them (ztunnel's JSON logs do the same).
    formatters: { level: (label) => ({ level: label }) },
  }
  const root = (options.destination ? pino(pinoOptions, options.destination) : pino(pinoOptions)) as Controlled
  const control: LogControl = { root, defaultLevel: level, overrides: new Map(), scoped: new Map(), cache: new WeakMap() }
  Object.defineProperty(root, CONTROL, { value: control, enumerable: false })
  return root
}

/** A child for one subsystem; level overrides for `scope` apply to it, now and later. */
export function childLogger(parent: Logger, scope: string): Logger {
  const control = controlOf(parent)
  let byScope = control.cache.get(parent)
  const cached = byScope?.get(scope)
  if (cached) return cached
  const child = parent.child({ scope })
  const override = control.overrides.get(scope)
  if (override !== undefined) child.level = override
  let refs = control.scoped.get(scope)
  if (!refs) control.scoped.set(scope, (refs = new Set()))
  refs.add(new WeakRef(child))
  if (!byScope) control.cache.set(parent, (byScope = new Map()))
  byScope.set(scope, child)
  return child
}

/**
 * Apply a `/logging` level spec to the whole tree `logger` belongs to: `debug` sets the default and
 * clears overrides; `access:debug,xds:trace` sets overrides; `info,access:debug` does both. The whole
 * spec is validated before anything changes, so a bad request changes nothing.
 */
export function setLevel(logger: Logger, spec: string): LogLevels {
  const control = controlOf(logger)
  const parsed = parseLevelSpec(spec)
  if (parsed.level !== undefined) {
    control.defaultLevel = parsed.level
    control.overrides.clear()
    control.root.level = parsed.level
  }
  for (const [scope, level] of Object.entries(parsed.scopes)) control.overrides.set(scope, level)
  for (const [scope, refs] of control.scoped) {
    const level = control.overrides.get(scope) ?? control.defaultLevel
    for (const ref of refs) {
      const child = ref.deref()
      if (child === undefined) refs.delete(ref)
      else if (child.level !== level) child.level = level
    }
  }
  return getLevels(logger)
}

export function getLevels(logger: Logger): LogLevels {
  const control = controlOf(logger)
  return { level: control.defaultLevel, scopes: Object.fromEntries(control.overrides) }
}

export function parseLevelSpec(spec: string): { level?: LogLevel; scopes: Record<string, LogLevel> } {
  const out: { level?: LogLevel; scopes: Record<string, LogLevel> } = { scopes: {} }
  const problems: string[] = []
  const parts = spec.split(',').map((p) => p.trim())
  for (const part of parts) {
    const colon = part.indexOf(':')
    const scope = colon < 0 ? undefined : part.slice(0, colon).trim()
    const level = (colon < 0 ? part : part.slice(colon + 1)).trim().toLowerCase()
    if (!isLevel(level)) problems.push(`"${part}": unknown level "${level}"`)
    else if (scope === undefined) out.level = level
    else if (scope === '') problems.push(`"${part}": empty scope`)
    else out.scopes[scope] = level
  }
  if (problems.length > 0) {
    throw new AmbientError(
      LoggerErrorCode.invalidLevel,
      `invalid log level spec "${spec}": ${problems.join('; ')} (levels: ${LOG_LEVELS.join(', ')})`,
      {
        side: 'downstream',
        details: { spec, problems },
      },
    )
  }
  return out
}

function isLevel(v: string): v is LogLevel {
  return (LOG_LEVELS as readonly string[]).includes(v)
}

function checkLevel(level: string): void {
  if (!isLevel(level)) parseLevelSpec(level) // throws the same coded error as /logging would
}

function controlOf(logger: Logger): LogControl {
  const control = (logger as Controlled)[CONTROL]
  if (!control) throw new AmbientError('LOG_NOT_OURS', 'logger was not made by createLogger', { side: 'internal' })
  return control
}
