// `ambient compare --capture inpod` runs of the built CLI, for the tests that make one: what they
// need (root, netns, iptables, setpriv for the sidecars, the built addon and CLI; skipped with one
// line otherwise), and one run into a throw-away directory that must leave no namespace behind.
import type { Test } from 'tap'
import { existsSync } from 'node:fs'
import { mkdtemp, rm } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { listNetns } from '../../src/capture/inpod/netns.js'
import { inpodSkipReason } from './inpod-harness.js'
import { needs, requires, type Parent } from './requires.js'
import { cliEntry, runCli } from './run-cli.js'

/** The skip reason of a compare --capture inpod test, or false when it can run here. */
export async function compareInpodSkip(t: Parent): Promise<string | false> {
  return (
    requires(t, needs.root, needs.netns, needs.iptables, needs.tool('setpriv', 'apt-get install util-linux')) ||
    (existsSync(cliEntry) ? undefined : `${cliEntry} is not built`) ||
    (await inpodSkipReason()) ||
    false
  )
}

/** `ambient compare --capture inpod ARGS --out <tmp>`: asserts exit 0 and no new namespace left; returns stdout. */
export async function runCompareInpod(t: Test, args: readonly string[], timeoutMs: number): Promise<string> {
  const outDir = await mkdtemp(path.join(os.tmpdir(), 'compare-inpod-'))
  t.teardown(() => rm(outDir, { recursive: true, force: true }))
  const before = new Set(await listNetns())
  const { code, stdout, stderr } = await runCli(['compare', '--capture', 'inpod', ...args, '--out', outDir], timeoutMs)
  t.equal(code, 0, `exit code (stderr: ${stderr.slice(-2000)})`)
  t.same(
    (await listNetns()).filter((n) => !before.has(n) && n.startsWith('amb')),
    [],
    'no namespace left behind',
  )
  return stdout
}
