// Runs one CLI command in-process with captured stdout/stderr (no child process, no real env).
import type { CliIo, Command } from '../../src/cli/io.js'

export interface CommandRun {
  readonly code: number
  readonly out: string
  readonly err: string
}

export async function runCommand(command: Command, argv: readonly string[], cwd = '/'): Promise<CommandRun> {
  const out: string[] = []
  const err: string[] = []
  const io: CliIo = { stdout: (s) => void out.push(s), stderr: (s) => void err.push(s), env: {}, cwd, stopSignal: new Promise(() => {}) }
  const code = await command(argv, io)
  return { code, out: out.join(''), err: err.join('') }
}
