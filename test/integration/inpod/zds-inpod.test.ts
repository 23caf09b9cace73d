// ZDS end to end (netns test: root, ip netns, iptables, the built addon, python3): a test peer plays
// istio-cni on a real unix SEQPACKET socket and hands over the sleep pod's network namespace by fd
// (SCM_RIGHTS) in an AddWorkload; node-a's ztunnel, with the ZDS client and the workload manager
// the daemon wires for INPOD_UDS, opens its listeners inside that namespace, and the unmodified app
// there reaches echo-b (node-b) through HBONE with mTLS. The peer hangs up and listens again:
// ztunnel reconnects, the replayed add keeps the listeners. A DelWorkload closes them.
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import { loadCaptureAddon } from '../../../src/capture/inpod/addon.js'
import { istio } from '../../../src/xds/gen/messages.js'
import { createWorkloadManager } from '../../../src/ztunnel/workload-manager.js'
import { startZdsClient } from '../../../src/ztunnel/zds.js'
import { seqpacketZdsTransport } from '../../../src/ztunnel/zds-seqpacket.js'
import { dialInside, inpodSkipReason, outcome, readLine, startInpodHarness, type InpodPodSpec } from '../../helpers/inpod-harness.js'
import { needs, requires } from '../../helpers/requires.js'
import { startZdsPeer } from '../../helpers/zds-peer.js'

const zds = istio.workload.zds
const pods: InpodPodSpec[] = [
  { name: 'sleep', node: 'node-a', index: 1 },
  { name: 'echo-b', node: 'node-b', index: 1, serviceAccount: 'echo', appPorts: [8080] },
]
const skipInpod = await inpodSkipReason()

t.test(
  'ZDS over SEQPACKET: add by netns fd opens the listeners in the pod, a reconnect keeps them, del closes them',
  { skip: skipInpod ?? requires(t, needs.root, needs.netns, needs.iptables, needs.tool('python3')), timeout: 120_000 },
  async (t) => {
    const h = await startInpodHarness(t, { pods, ztunnelNodes: ['node-b'] })
    const dir = await mkdtemp(join(tmpdir(), 'ambient-zds-inpod-'))
    t.teardown(() => rm(dir, { recursive: true, force: true }))
    const sock = join(dir, 'ztunnel.sock')
    const peer = startZdsPeer(t)
    await peer.listen(sock)

    const addon = loadCaptureAddon()
    const logger = h.log.logger.child({ node: 'node-a' })
    const workloads = createWorkloadManager({ closeFd: (fd) => addon.close(fd), logger })
    const z = await h.startZtunnel('node-a', { kind: 'zds', workloads })
    const client = startZdsClient({
      path: sock,
      transport: seqpacketZdsTransport(addon, { pollMs: 5 }),
      workloads,
      closeFd: (fd) => addon.close(fd),
      logger,
      backoff: { initialMs: 20, maxMs: 100 },
    })
    t.teardown(async () => {
      await client.close()
      await h.stopZtunnel('node-a')
      workloads.close()
    })

    t.equal(await peer.accept(), zds.Version.V1, 'ztunnel connected and said ZdsHello{V1}')
    const sleepNetns = h.netns('sleep')
    const add = { add: { uid: 'uid-sleep', workloadInfo: { name: 'sleep', namespace: 'default', serviceAccount: 'sleep' } } }
    t.equal(await peer.request(add, sleepNetns), '', 'add acked once the listeners are up')
    t.equal(await peer.request({ snapshotSent: {} }), '')
    t.match(z.pods(), [
      { name: 'sleep', state: 'ready', listeners: { outbound: /127\.0\.0\.1:15001 in default\/sleep \(ZDS uid-sleep\)/ } },
    ])
    for (const port of [15001, 15006, 15008])
      t.equal(
        await dialInside(sleepNetns, port === 15001 ? '127.0.0.1' : h.podIp('sleep'), port),
        'connected',
        `listening on ${port} in the pod`,
      )

    const s = await h.dial('sleep', h.podIp('echo-b'), 8080)
    t.equal(await readLine(s), `echo-b sees ${h.podIp('sleep')}`, "the app's plain connection went through ztunnel")
    s.destroy()
    const inbound = await h.log.waitFor((r) => r.msg === 'connection complete' && r.direction === 'inbound')
    t.equal(inbound['src.identity'], 'spiffe://cluster.local/ns/default/sa/sleep', 'tunnelled with mTLS as the sleep identity')

    // istio-cni restarts: the pod keeps its listeners while it is away, then replays it as an add.
    await peer.hangUp(sock)
    await peer.listen(sock)
    t.equal(await peer.accept(), zds.Version.V1, 'ztunnel reconnected')
    t.equal(await peer.request(add, sleepNetns), '', 'the replayed add (same namespace, a new fd) is acked')
    t.equal(await peer.request({ snapshotSent: {} }), '')
    t.equal(client.connects, 2)
    const readies = h.log.records.filter((r) => r.event === 'pod_ready' && r.pod === 'default/sleep')
    t.equal(readies.length, 1, 'the listeners were not reopened across the reconnect')
    const again = await h.dial('sleep', h.podIp('echo-b'), 8080)
    t.equal(await readLine(again), `echo-b sees ${h.podIp('sleep')}`)
    again.destroy()

    t.equal(await peer.request({ del: { uid: 'uid-sleep' } }), '', 'del acked once the listeners are closed')
    t.same(z.pods(), [])
    t.same(workloads.uids(), [])
    t.equal(await dialInside(sleepNetns, '127.0.0.1', 15001), 'refused', 'nothing listens in the pod any more')
    t.equal(await outcome(h.dial('sleep', h.podIp('echo-b'), 8080)), 'refused', 'the rules still capture to 15001: refused, no bypass')
  },
)
