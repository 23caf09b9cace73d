// What a command may touch of the outside world. main.ts builds the real one from process; tests
// build one that records output. Only src/cli reads argv/env or decides exit codes.
export interface CliIo {
  readonly stdout: (text: string) => void
  readonly stderr: (text: string) => void
  readonly env: Readonly<Record<string, string | undefined>>
  readonly cwd: string
  /** Resolves when the process is asked to stop (SIGINT/SIGTERM); long-running commands await it. */
  readonly stopSignal: Promise<string>
}

/** A subcommand: receives the arguments after its name, returns the exit code. */
export type Command = (argv: readonly string[], io: CliIo) => Promise<number>

/**
 * Exit codes: 0 ok, 1 the command ran and found a problem, 2 bad usage or bad input, 3 no cluster
 * is running from the state directory (cluster status, zc, exec, explain alike).
 */
export const EXIT_OK = 0
export const EXIT_FAILURE = 1
export const EXIT_USAGE = 2
export const EXIT_NO_CLUSTER = 3
/** Stopped by Ctrl-C before it did its work (the shell's 128 + SIGINT). */
export const EXIT_INTERRUPTED = 130
