// Runs a built script of this repo (the `ambient` CLI, a benchmark) in a child process, collecting
// its output. The timeout only guards against a hang (the signal lets the script stop its own child
// processes); it is not a speed target.
import { spawn } from 'node:child_process'
import path from 'node:path'
import { fileURLToPath } from 'node:url'

export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..')
/** The build the tests run: dist/, or AMBIENT_TEST_DIST (a build elsewhere, to check a test without rebuilding the shared dist/). */
export const distDir = process.env.AMBIENT_TEST_DIST ?? path.join(repoRoot, 'dist')
export const cliEntry = path.join(distDir, 'cli/main.js')

export interface ScriptRun {
  code: number | null
  stdout: string
  stderr: string
}

export function runNodeScript(
  entry: string,
  args: readonly string[],
  timeoutMs: number,
  killSignal: NodeJS.Signals = 'SIGTERM',
): Promise<ScriptRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--enable-source-maps', entry, ...args], {
      cwd: repoRoot,
      stdio: ['ignore', 'pipe', 'pipe'],
      timeout: timeoutMs,
      killSignal,
    })
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (c: Buffer) => {
      stdout += c.toString()
    })
    child.stderr.on('data', (c: Buffer) => {
      stderr += c.toString()
    })
    child.once('error', reject)
    child.once('close', (code) => resolve({ code, stdout, stderr }))
  })
}

/** `ambient <args>` from dist/ (SIGINT on timeout: the command's own shutdown path). */
export function runCli(args: readonly string[], timeoutMs: number): Promise<ScriptRun> {
  return runNodeScript(cliEntry, args, timeoutMs, 'SIGINT')
}
