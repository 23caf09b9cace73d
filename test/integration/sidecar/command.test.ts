// `ambient sidecar --pod NS/NAME --xds ADDR --istiod-state-dir D` driven in process, without
// --node: the xDS stream opens with any node's token, the certificate is asked with the token of
// the node the config places the pod on, and the sidecar serves on its pod IP until stopped.
import t from 'tap'
import { dirname } from 'node:path'
import { sidecarCommand } from '../../../src/cli/commands/sidecar.js'
import { eventually } from '../../helpers/eventually.js'
import { startSidecarMesh } from '../../helpers/sidecar-mesh.js'

t.test('ambient sidecar from istiod, node taken from the config', async (t) => {
  // reviews-v2 (on node-2) is left to the command; its app answers on 9080 like the others'.
  const h = await startSidecarMesh(t, { apps: ['reviews-v1'], clients: ['client'] })
  const w = h.workload('reviews-v2')
  t.equal(w.node, 'node-2')
  const stateDir = dirname(dirname(h.istiod.tokenFile('node-1')))
  let stop: (why: string) => void = () => undefined
  const stopSignal = new Promise<string>((resolve) => {
    stop = resolve
  })
  const io = { stdout: () => undefined, stderr: () => undefined, env: { AMBIENT_LOG_LEVEL: 'error' }, cwd: process.cwd(), stopSignal }
  const exit = sidecarCommand(
    [
      '--pod',
      'default/reviews-v2',
      '--xds',
      h.istiod.addresses.grpc,
      '--istiod-state-dir',
      stateDir,
      '--metrics-port',
      '0',
      '--readiness-port',
      '0',
      '--sync-timeout',
      '5s',
    ],
    io,
  )
  t.teardown(() => {
    stop('teardown')
  })
  const signed = await h.log.waitFor(
    (r) => r.event === 'ca_signed' && r.identity === 'spiffe://cluster.local/ns/default/sa/bookinfo-reviews' && r.caller === 'node-2',
    10_000,
  )
  t.ok(signed, "signed for the pod's node")
  // Its inbound listener on the pod IP answers (plaintext, PERMISSIVE; the L7 policy wants the client's identity).
  const r = await eventually(() => fetch(`http://${w.addresses[0]!}:9080/reviews/1`, { signal: AbortSignal.timeout(2_000) }), {
    timeoutMs: 10_000,
    intervalMs: 20,
  })
  t.equal(r.status, 403, "the command's sidecar listens on the pod IP")
  stop('SIGTERM')
  t.equal(await exit, 0)
})
