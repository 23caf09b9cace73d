// The bench smoke tests' common part: run a built benchmark (dist/bench/<script>) with --quick into
// a temp dir, check it exited 0, and read the JSON file it names on its `JSON: <file>` line.
//
//   const ran = await runQuickBench(t, 'xds-bench.js', 'xdsbench-smoke-', 20_000)
//   if (!ran) return
//   const json = await readBenchJson<BenchJson>(t, ran.stdout)
import { spawn } from 'node:child_process'
import { existsSync } from 'node:fs'
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import type { Test } from 'tap'

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..')

function run(entry: string, args: string[], timeoutMs: number): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    // SIGTERM on timeout: the bench's handler then kills its child processes.
    const child = spawn(process.execPath, ['--enable-source-maps', entry, ...args], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'], timeout: timeoutMs })
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (c: Buffer) => { stdout += c.toString() })
    child.stderr.on('data', (c: Buffer) => { stderr += c.toString() })
    child.once('error', reject)
    child.once('close', (code) => resolve({ code, stdout, stderr }))
  })
}

/**
 * Runs dist/bench/<script> with `--quick --out <temp dir named tmpPrefix…>` (killed after timeoutMs)
 * and asserts its exit code 0. Fails the test and returns undefined when the build is missing.
 */
export async function runQuickBench(t: Test, script: string, tmpPrefix: string, timeoutMs: number): Promise<{ stdout: string; elapsedMs: number } | undefined> {
  const entry = path.join(root, 'dist/bench', script)
  if (!existsSync(entry)) {
    t.fail(`${entry} is missing: build first (npm test and npm run build do)`)
    return undefined
  }
  const outDir = await mkdtemp(path.join(os.tmpdir(), tmpPrefix))
  t.teardown(() => rm(outDir, { recursive: true, force: true }))

  const started = Date.now()
  const { code, stdout, stderr } = await run(entry, ['--quick', '--out', outDir], timeoutMs)
  const elapsedMs = Date.now() - started
  t.equal(code, 0, `exit code (stderr: ${stderr.slice(-2000)})`)
  return { stdout, elapsedMs }
}

/** The JSON result a bench run wrote to the file of its `JSON: <file>` line; fails the test without one. */
export async function readBenchJson<J>(t: Test, stdout: string): Promise<J | undefined> {
  const file = /^JSON: (.+)$/m.exec(stdout)?.[1]
  if (!file) {
    t.fail('no "JSON: <file>" line in the output')
    return undefined
  }
  return JSON.parse(await readFile(file, 'utf8')) as J
}
