// `ambient compare --capture inpod`: ambient and sidecars on the same in-pod capture (root, netns,
// iptables, setpriv, the built addon and CLI; otherwise the run itself is skipped with one line). A
// tiny run of the built CLI: every mode measured (a row each), no namespace left.
import { existsSync } from 'node:fs'
import { mkdtemp, rm } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import t from 'tap'
import { listNetns } from '../../../src/capture/inpod/netns.js'
import { cliEntry, runCli } from '../../helpers/run-cli.js'
import { inpodSkipReason } from '../../helpers/inpod-harness.js'
import { needs, requires } from '../../helpers/requires.js'

t.setTimeout(200_000)

t.test('--capture with an unknown value is a usage error', async (t) => {
  const { code, stderr } = await runCli(['compare', '--capture', 'tproxy'], 30_000)
  t.equal(code, 2)
  t.match(stderr, /--capture: "tproxy" is not socks or inpod/)
})

const skip =
  requires(t, needs.root, needs.netns, needs.iptables, needs.tool('setpriv', 'apt-get install util-linux')) ||
  (existsSync(cliEntry) ? undefined : `${cliEntry} is not built`) ||
  (await inpodSkipReason()) ||
  false

t.test('ambient compare --capture inpod --quick: ambient L4 and sidecars on in-pod capture', { skip }, async (t) => {
  const outDir = await mkdtemp(path.join(os.tmpdir(), 'compare-inpod-'))
  t.teardown(() => rm(outDir, { recursive: true, force: true }))
  const before = new Set(await listNetns())
  const { code, stdout, stderr } = await runCli(
    ['compare', '--capture', 'inpod', '--quick', '--pods', '', '--modes', 'nomesh,ambient-l4,sidecar', '--rates', '200', '--out', outDir],
    150_000,
  )
  t.equal(code, 0, `exit code (stderr: ${stderr.slice(-2000)})`)
  t.match(stdout, /capture=inpod/, 'the header names the capture')
  t.match(stdout, /capture: in-pod \(root\)/, 'the method says how traffic is captured')
  // A row per mode (ok, or REJECTED when a busy machine falls short of the rate: not asserted, no timing here).
  for (const label of ['no mesh', 'ambient L4', 'sidecar'])
    t.match(stdout, new RegExp(`^200\\s+${label}\\s+\\d`, 'm'), `${label}: measured`)
  t.same(
    (await listNetns()).filter((n) => !before.has(n) && n.startsWith('amb')),
    [],
    'no namespace left behind',
  )
})
