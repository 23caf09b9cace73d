// `ambient compare --capture inpod` runs of the built CLI, for the tests that make one: what they
// need (root, netns, iptables, setpriv for the sidecars, the built addon and CLI; skipped with one
// line otherwise), and one run into a throw-away directory that must leave no namespace behind.
import type { Test } from 'tap'
import { mkdtemp, rm } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { listNetns } from '../../src/capture/inpod/netns.js'
import { inpodMeshSkipReason } from './inpod-mesh.js'
import { needs, requires, type Parent } from './requires.js'
import { runCli } from './run-cli.js'

/**
 * The skip reason of a compare --capture inpod test, or false when it can run here. Root, netns and
 * iptables go through requires() (a failure under CI); the rest is the in-pod mesh's own check with
 * sidecars (the addon, the built CLI, setpriv).
 */
export async function compareInpodSkip(t: Parent): Promise<string | false> {
  return requires(t, needs.root, needs.netns, needs.iptables) || (await inpodMeshSkipReason('sidecar')) || false
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
