// In-pod capture, the parts that need no root: the one preflight error and its stable codes, the
// redirection template's shape (Istio's chains, marks and ports), pods' resolv.conf, names.
import t from 'tap'
import { isAmbientError } from '../../../src/errors.js'
import { checkPrefix, podNetnsName } from '../../../src/capture/inpod/netns.js'
import { InpodPreflightCode, requireInpod } from '../../../src/capture/inpod/preflight.js'
import { captureRules } from '../../../src/capture/inpod/rules.js'
import { inpodPrefix, POD_NAMESERVER, podResolvConf } from '../../../src/cluster/inpod-topology.js'

t.test('asking for inpod without root: one error, a stable code, a message saying what is missing', async (t) => {
  const err = await requireInpod('tiprobe-nonroot', 1000).then(
    () => undefined,
    (e: unknown) => e,
  )
  t.ok(isAmbientError(err, InpodPreflightCode.notRoot), 'CAPTURE_INPOD_NOT_ROOT')
  t.match((err as Error).message, /--capture inpod needs: root/)
})

t.test("the template is Istio's ambient in-pod ruleset in iptables-restore form", async (t) => {
  const rules = captureRules()
    .split('\n')
    .filter((l) => l.startsWith('-A'))
  t.ok(
    rules.includes('-A ISTIO_OUTPUT ! -d 127.0.0.1/32 -p tcp -m mark ! --mark 0x539/0xfff -j REDIRECT --to-ports 15001'),
    'outbound TCP → 15001 except mark 0x539',
  )
  t.ok(
    rules.includes(
      '-A ISTIO_PRERT ! -d 127.0.0.1/32 -p tcp -m mark ! --mark 0x539/0xfff -j TPROXY --on-port 15006 --tproxy-mark 0x111/0xfff',
    ),
    'inbound → 15006',
  )
  t.ok(
    rules.includes(
      '-A ISTIO_PRERT -p tcp -m tcp --dport 15008 -m mark ! --mark 0x539/0xfff -j TPROXY --on-port 15008 --tproxy-mark 0x111/0xfff',
    ),
    '15008 to HBONE',
  )
  t.ok(rules.includes('-A ISTIO_OUTPUT ! -o lo -p udp -m udp --dport 53 -j REDIRECT --to-ports 15053'), 'DNS → 15053')
  const order = rules.map((r) => /15008|15006|15001/.exec(r)?.[0]).filter((x) => x !== undefined)
  t.same(order, ['15008', '15006', '15001'], 'HBONE is matched before the inbound catch-all')
})

t.test("resolv.conf: the Service-range nameserver ztunnel answers, Kubernetes search domains of the pod's namespace", async (t) => {
  t.equal(
    podResolvConf('shop'),
    `nameserver ${POD_NAMESERVER}\nsearch shop.svc.cluster.local svc.cluster.local cluster.local\noptions ndots:5\n`,
  )
})

t.test('names: per-cluster prefixes are checked and stable', async (t) => {
  t.equal(inpodPrefix('/a/state'), inpodPrefix('/a/state'))
  t.not(inpodPrefix('/a/state'), inpodPrefix('/b/state'))
  t.doesNotThrow(() => checkPrefix(inpodPrefix('/a/state')))
  t.throws(() => checkPrefix('Bad/'), { code: 'CAPTURE_INPOD_BAD_PREFIX' })
  t.equal(podNetnsName('amb1-', 'default', 'curl-0'), 'amb1-default.curl-0')
})
