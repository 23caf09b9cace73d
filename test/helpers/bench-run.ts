// The bench smoke tests' common part: run a built benchmark (dist/bench/<script>) with --quick into
// a temp dir, check it exited 0, and read the JSON file it names on its `JSON: <file>` line.
//
//   const ran = await runQuickBench(t, 'xds-bench.js', 'xdsbench-smoke-', 120_000)
//   if (!ran) return
//   const json = await readBenchJson<BenchJson>(t, ran.stdout)
import { existsSync } from 'node:fs'
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import type { Test } from 'tap'
import { repoRoot, runNodeScript } from './run-cli.js'

/**
 * Runs dist/bench/<script> with `--quick --out <temp dir named tmpPrefix…> [extraArgs]` and asserts its exit code
 * 0. After timeoutMs (a hang guard) it gets SIGTERM, on which the bench kills its child processes.
 * Fails the test and returns undefined when the build is missing.
 */
export async function runQuickBench(
  t: Test,
  script: string,
  tmpPrefix: string,
  timeoutMs: number,
  extraArgs: readonly string[] = [],
): Promise<{ stdout: string } | undefined> {
  const entry = path.join(repoRoot, 'dist/bench', script)
  if (!existsSync(entry)) {
    t.fail(`${entry} is missing: build first (npm test and npm run build do)`)
    return undefined
  }
  const outDir = await mkdtemp(path.join(os.tmpdir(), tmpPrefix))
  t.teardown(() => rm(outDir, { recursive: true, force: true }))

  const { code, stdout, stderr } = await runNodeScript(entry, ['--quick', '--out', outDir, ...extraArgs], timeoutMs)
  t.equal(code, 0, `exit code (stderr: ${stderr.slice(-2000)})`)
  return { stdout }
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
