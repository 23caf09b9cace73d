// What the long-running commands (istiod, ztunnel, waypoint, sidecar, and `cluster up`/`demo` for
// what they pass on) share: the log level, the proxies' admin ports, the capture mode, and running
// until SIGINT/SIGTERM. Each is spelled once here — its options, its usage text, its parsing — and
// composed by the commands.
import { AmbientError } from '../../errors.js'
import { createLogger, LOG_LEVELS, LoggerErrorCode, type Logger, type LogLevel } from '../../observability/logger.js'
import { portOption, stringOptions } from '../args.js'
import { EXIT_OK, type CliIo } from '../io.js'

export const LOG_LEVEL_SPEC = stringOptions('log-level')
export const LOG_LEVEL_USAGE = '[--log-level info]'

/** The command's logger, at --log-level, else AMBIENT_LOG_LEVEL, else info. An unknown level is bad usage (exit 2), under the logger's own code. */
export function commandLogger(component: string, values: { readonly 'log-level'?: string | undefined }, io: CliIo): Logger {
  const level = values['log-level'] ?? io.env.AMBIENT_LOG_LEVEL ?? 'info'
  if (!(LOG_LEVELS as readonly string[]).includes(level)) {
    const from = values['log-level'] !== undefined ? '--log-level' : 'AMBIENT_LOG_LEVEL'
    throw new AmbientError(LoggerErrorCode.invalidLevel, `${from}: "${level}" is not a log level (${LOG_LEVELS.join(', ')})`, {
      side: 'config',
    })
  }
  return createLogger({ component, level: level as LogLevel })
}

/** How istiod is placed: its node count, state directory, address plan and ports (`istiod`, and `cluster up`/`demo` for theirs). */
export const ISTIOD_PLAN_SPEC = stringOptions('nodes', 'state-dir', 'address-plan', 'grpc-port', 'debug-port')
export const ADDRESS_PLAN_USAGE = '[--address-plan 127.244,127.245,127.96]'
export const ISTIOD_PORTS_USAGE = '[--grpc-port 15012] [--debug-port 15014]'

/** A port option's value when given (0-65535, else CLI_USAGE); undefined lets the daemon take its default. */
export function givenPort(value: string | undefined, name: string): number | undefined {
  return value === undefined ? undefined : portOption(value, name)
}

/** The admin ports of a proxy (Prometheus, readiness). */
export const ADMIN_PORTS_SPEC = stringOptions('metrics-port', 'readiness-port')
export const ADMIN_PORTS_USAGE = '[--metrics-port 15020] [--readiness-port 15021]'

export interface AdminPortValues {
  readonly 'metrics-port'?: string | undefined
  readonly 'readiness-port'?: string | undefined
}

/** The admin ports given; the proxies default to 15020 and 15021. */
export function adminPorts(values: AdminPortValues): { metrics?: number; readiness?: number } {
  const metrics = givenPort(values['metrics-port'], 'metrics-port')
  const readiness = givenPort(values['readiness-port'], 'readiness-port')
  return { ...(metrics === undefined ? {} : { metrics }), ...(readiness === undefined ? {} : { readiness }) }
}

export const CAPTURE_SPEC = stringOptions('capture')
export const CAPTURE_USAGE = '[--capture socks|inpod]'

/** --capture: `socks` (the default) or `inpod`; anything else is CLI_USAGE (followed by `usage` when given). */
export function captureMode(value: string | undefined, usage?: string): 'socks' | 'inpod' {
  const capture = value ?? 'socks'
  if (capture !== 'socks' && capture !== 'inpod')
    throw new AmbientError('CLI_USAGE', `--capture: "${capture}" is not socks or inpod${usage === undefined ? '' : `\nusage: ${usage}`}`, {
      side: 'config',
    })
  return capture
}

/** Serves until SIGINT/SIGTERM, then logs `stopping`, closes `running` and flushes the log. */
export async function serveUntilStopped(io: CliIo, logger: Logger, running: { close(): Promise<void> }, stopping: string): Promise<number> {
  const why = await io.stopSignal
  logger.info({ event: 'shutdown', signal: why }, stopping)
  await running.close()
  logger.flush()
  return EXIT_OK
}
