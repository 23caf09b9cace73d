// `ambient compare --capture inpod --scenario bookinfo` (root, netns, iptables, setpriv, the built
// addon and CLI; otherwise skipped with one line): bookinfo with ambient L4 and with sidecars, both
// on in-pod capture, the load from a socket made in the curl pod's namespace to productpage's VIP.
// A tiny run of the built CLI: a row per mode, no namespace left.
import t from 'tap'
import { compareInpodSkip, runCompareInpod } from '../../helpers/compare-inpod.js'

t.setTimeout(240_000)
const skip = await compareInpodSkip(t)

t.test('ambient compare --capture inpod --scenario bookinfo --quick: ambient L4 and sidecars', { skip }, async (t) => {
  const stdout = await runCompareInpod(
    t,
    ['--scenario', 'bookinfo', '--quick', '--pods', '', '--modes', 'ambient-l4,sidecar', '--rates', '20'],
    200_000,
  )
  t.match(stdout, /scenario=bookinfo/, 'the header names the scenario')
  t.match(stdout, /capture=inpod/, 'the header names the capture')
  // A row per mode (ok, or REJECTED when a busy machine falls short of the rate: not asserted, no timing here).
  for (const label of ['ambient L4', 'sidecar']) t.match(stdout, new RegExp(`^ 20\\s+${label}\\s+\\d`, 'm'), `${label}: measured`)
})
