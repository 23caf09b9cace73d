// `ambient compare --capture inpod --scenario bookinfo` (root, netns, iptables, setpriv, the built
// addon and CLI; otherwise skipped with one line): bookinfo with ambient L4 and with sidecars, both
// on in-pod capture, the load from a socket made in the curl pod's namespace to productpage's VIP.
// A tiny run of the built CLI: a row per mode, no namespace left.
import { existsSync } from 'node:fs'
import { mkdtemp, rm } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import t from 'tap'
import { listNetns } from '../../../src/capture/inpod/netns.js'
import { cliEntry, runCli } from '../../helpers/run-cli.js'
import { inpodSkipReason } from '../../helpers/inpod-harness.js'
import { needs, requires } from '../../helpers/requires.js'

t.setTimeout(240_000)

const skip =
  requires(t, needs.root, needs.netns, needs.iptables, needs.tool('setpriv', 'apt-get install util-linux')) ||
  (existsSync(cliEntry) ? undefined : `${cliEntry} is not built`) ||
  (await inpodSkipReason()) ||
  false

t.test('ambient compare --capture inpod --scenario bookinfo --quick: ambient L4 and sidecars', { skip }, async (t) => {
  const outDir = await mkdtemp(path.join(os.tmpdir(), 'compare-inpod-bookinfo-'))
  t.teardown(() => rm(outDir, { recursive: true, force: true }))
  const before = new Set(await listNetns())
  const { code, stdout, stderr } = await runCli(
    [
      'compare',
      '--capture',
      'inpod',
      '--scenario',
      'bookinfo',
      '--quick',
      '--pods',
      '',
      '--modes',
      'ambient-l4,sidecar',
      '--rates',
      '20',
      '--out',
      outDir,
    ],
    200_000,
  )
  t.equal(code, 0, `exit code (stderr: ${stderr.slice(-2000)})`)
  t.match(stdout, /scenario=bookinfo/, 'the header names the scenario')
  t.match(stdout, /capture=inpod/, 'the header names the capture')
  // A row per mode (ok, or REJECTED when a busy machine falls short of the rate: not asserted, no timing here).
  for (const label of ['ambient L4', 'sidecar']) t.match(stdout, new RegExp(`^ 20\\s+${label}\\s+\\d`, 'm'), `${label}: measured`)
  t.same(
    (await listNetns()).filter((n) => !before.has(n) && n.startsWith('amb')),
    [],
    'no namespace left behind',
  )
})
