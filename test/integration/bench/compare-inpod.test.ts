// `ambient compare --capture inpod`: ambient and sidecars on the same in-pod capture (root, netns,
// iptables, setpriv, the built addon and CLI; otherwise the run itself is skipped with one line). A
// tiny run of the built CLI: every mode measured (a row each), no namespace left.
import t from 'tap'
import { compareInpodSkip, runCompareInpod } from '../../helpers/compare-inpod.js'
import { runCli } from '../../helpers/run-cli.js'

t.setTimeout(200_000)

t.test('--capture with an unknown value is a usage error', async (t) => {
  const { code, stderr } = await runCli(['compare', '--capture', 'tproxy'], 30_000)
  t.equal(code, 2)
  t.match(stderr, /--capture: "tproxy" is not socks or inpod/)
})

const skip = await compareInpodSkip(t)

t.test('ambient compare --capture inpod --quick: ambient L4 and sidecars on in-pod capture', { skip }, async (t) => {
  const stdout = await runCompareInpod(t, ['--quick', '--pods', '', '--modes', 'nomesh,ambient-l4,sidecar', '--rates', '200'], 150_000)
  t.match(stdout, /capture=inpod/, 'the header names the capture')
  t.match(stdout, /capture: in-pod \(root\)/, 'the method says how traffic is captured')
  // A row per mode (ok, or REJECTED when a busy machine falls short of the rate: not asserted, no timing here).
  for (const label of ['no mesh', 'ambient L4', 'sidecar'])
    t.match(stdout, new RegExp(`^200\\s+${label}\\s+\\d`, 'm'), `${label}: measured`)
})
