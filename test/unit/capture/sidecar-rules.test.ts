// Sidecar mode's in-pod ruleset (deploy/capture/sidecar-inpod.rules): istio-iptables' nat rules for
// a sidecar, line for line in their order, and the constants the sidecar and the runner use agree
// with the file (ports, the proxy's uid and gid, the passthrough source, the excluded ports).
import t from 'tap'
import {
  INBOUND_PASSTHROUGH_SOURCE,
  SIDECAR_EXCLUDED_INBOUND_PORTS,
  SIDECAR_INBOUND_PORT,
  SIDECAR_OUTBOUND_PORT,
  SIDECAR_PROXY_GID,
  SIDECAR_PROXY_UID,
  sidecarCaptureRules,
} from '../../../src/capture/inpod/sidecar-rules.js'

const lines = sidecarCaptureRules()
  .split('\n')
  .filter((l) => l !== '' && !l.startsWith('#'))

t.test("the template is istio-iptables' sidecar nat ruleset, in its order", async (t) => {
  t.same(lines, [
    '*nat',
    ':ISTIO_INBOUND - [0:0]',
    ':ISTIO_IN_REDIRECT - [0:0]',
    ':ISTIO_OUTPUT - [0:0]',
    ':ISTIO_REDIRECT - [0:0]',
    '-A PREROUTING -p tcp -j ISTIO_INBOUND',
    '-A OUTPUT -p tcp -j ISTIO_OUTPUT',
    ...SIDECAR_EXCLUDED_INBOUND_PORTS.map((p) => `-A ISTIO_INBOUND -p tcp -m tcp --dport ${p} -j RETURN`),
    '-A ISTIO_INBOUND -p tcp -j ISTIO_IN_REDIRECT',
    `-A ISTIO_IN_REDIRECT -p tcp -j REDIRECT --to-ports ${SIDECAR_INBOUND_PORT}`,
    `-A ISTIO_OUTPUT -s ${INBOUND_PASSTHROUGH_SOURCE}/32 -o lo -j RETURN`,
    `-A ISTIO_OUTPUT ! -d 127.0.0.1/32 -o lo -p tcp -m tcp ! --dport 15008 -m owner --uid-owner ${SIDECAR_PROXY_UID} -j ISTIO_IN_REDIRECT`,
    `-A ISTIO_OUTPUT -o lo -m owner ! --uid-owner ${SIDECAR_PROXY_UID} -j RETURN`,
    `-A ISTIO_OUTPUT -m owner --uid-owner ${SIDECAR_PROXY_UID} -j RETURN`,
    `-A ISTIO_OUTPUT ! -d 127.0.0.1/32 -o lo -p tcp -m tcp ! --dport 15008 -m owner --gid-owner ${SIDECAR_PROXY_GID} -j ISTIO_IN_REDIRECT`,
    `-A ISTIO_OUTPUT -o lo -m owner ! --gid-owner ${SIDECAR_PROXY_GID} -j RETURN`,
    `-A ISTIO_OUTPUT -m owner --gid-owner ${SIDECAR_PROXY_GID} -j RETURN`,
    '-A ISTIO_OUTPUT -d 127.0.0.1/32 -j RETURN',
    '-A ISTIO_OUTPUT -j ISTIO_REDIRECT',
    `-A ISTIO_REDIRECT -p tcp -j REDIRECT --to-ports ${SIDECAR_OUTBOUND_PORT}`,
    'COMMIT',
  ])
})

t.test('the readiness and metrics ports the runner and tools probe are never redirected', async (t) => {
  for (const port of [15020, 15021]) t.ok((SIDECAR_EXCLUDED_INBOUND_PORTS as readonly number[]).includes(port), `${port} excluded`)
  t.equal(SIDECAR_PROXY_UID, 1337, "Istio's istio-proxy uid")
})
