// The in-process node agent end to end (netns test: root, ip netns, iptables, nsenter, the built
// addon): pods come from the fake API server, their network namespaces are made by the test (no
// rules in sleep's: the agent installs them), the agent finds sleep's namespace by its IP (a scan of
// the node's namespaces, /proc included), installs Istio's in-pod rules and hands the namespace to
// node-a's ztunnel through the workload manager. An unmodified process in the pod (bash's
// /dev/tcp) reaches echo-b through HBONE with mTLS. The fabric namespace plays the node: the agent
// keeps its probe SNAT there (hostNetns; a stale entry left before the start is flushed), so under
// STRICT a plain connection from the node (the kubelet's probe, no chosen source) still reaches
// sleep's app, SNAT'd to 169.254.7.127, while plaintext from an out-of-mesh pod is refused; a
// restarted agent keeps the pod; the pod deleted → listeners closed and its SNAT rule gone.
import { randomInt } from 'node:crypto'
import type { Socket } from 'node:net'
import t from 'tap'
import { loadCaptureAddon, netnsPath, socketFromFd } from '../../../src/capture/inpod/addon.js'
import { run } from '../../../src/capture/inpod/command.js'
import { fabricNetnsName, podNetnsName } from '../../../src/capture/inpod/netns.js'
import { createHostSnat, removeHostSnat } from '../../../src/capture/inpod/host-snat.js'
import { PROBE_SNAT_IP } from '../../../src/capture/inpod/rules.js'
import { KubeClient } from '../../../src/kube/client.js'
import { startNodeAgent, type NodeAgent } from '../../../src/ztunnel/node-agent.js'
import { createWorkloadManager } from '../../../src/ztunnel/workload-manager.js'
import { eventually } from '../../helpers/eventually.js'
import { startFakeKubeApiServer } from '../../helpers/fake-kube-apiserver.js'
import {
  dialInside,
  inpodSkipReason,
  outcome,
  readLine,
  strictPolicy,
  startInpodHarness,
  type InpodPodSpec,
} from '../../helpers/inpod-harness.js'
import { needs, requires } from '../../helpers/requires.js'

const pods: InpodPodSpec[] = [
  { name: 'sleep', node: 'node-a', index: 1, appPorts: [8080], rulesByAgent: true },
  { name: 'echo-b', node: 'node-b', index: 1, serviceAccount: 'echo', appPorts: [8080] },
  { name: 'legacy', node: 'node-a', index: 2, outOfMesh: true },
]
const skipInpod = await inpodSkipReason()

t.test(
  'node agent: finds the pod netns by IP, installs the rules, feeds ztunnel; probes pass STRICT; restart keeps, delete closes',
  { skip: skipInpod ?? requires(t, needs.root, needs.netns, needs.iptables, needs.tool('nsenter'), needs.tool('bash')), timeout: 120_000 },
  async (t) => {
    // A pod range of its own: the agent scans every namespace of the machine for the pod's IP.
    const podRange = `10.${200 + randomInt(50)}`
    const h = await startInpodHarness(t, { pods, ztunnelNodes: ['node-b'], podRange })
    t.notMatch((await h.exec('sleep', ['iptables-save', '-t', 'mangle'])).stdout, /ISTIO_PRERT/, 'no rules in sleep before the agent')

    const api = await startFakeKubeApiServer({ host: '127.0.0.1' })
    t.teardown(() => api.close())
    api.apply({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'default', labels: { 'istio.io/dataplane-mode': 'ambient' } } })
    for (const p of pods)
      api.apply({
        apiVersion: 'v1',
        kind: 'Pod',
        metadata: {
          name: p.name,
          namespace: 'default',
          uid: `uid-${p.name}`,
          ...(p.outOfMesh === true ? { labels: { 'istio.io/dataplane-mode': 'none' } } : {}),
        },
        spec: { nodeName: p.node, serviceAccountName: p.serviceAccount ?? p.name, containers: [] },
        status: { phase: 'Running', podIP: h.podIp(p.name) },
      })

    const addon = loadCaptureAddon()
    const logger = h.log.logger.child({ node: 'node-a' })
    const workloads = createWorkloadManager({ closeFd: (fd) => addon.close(fd), logger })
    const z = await h.startZtunnel('node-a', { kind: 'zds', workloads })
    // The node's probe SNAT lives in the fabric namespace; an entry left by an earlier run must go.
    const node = netnsPath(fabricNetnsName(h.prefix))
    t.teardown(() => removeHostSnat(node))
    const stale = `${podRange}.1.99`
    await createHostSnat(node).sync([stale])
    const natRules = async () => (await run('nsenter', [`--net=${node}`, 'iptables-save', '-t', 'nat'])).stdout
    t.match(await natRules(), `-d ${stale}/32`, 'a stale entry before the agent starts')
    const errors: string[] = []
    const start = (): NodeAgent =>
      startNodeAgent({
        client: new KubeClient({ server: api.url }),
        node: 'node-a',
        workloads,
        hostNetns: node,
        onError: (err) => errors.push(String(err)),
      })
    let agent = start()
    t.teardown(async () => {
      await agent.stop()
      await h.stopZtunnel('node-a')
      workloads.close()
    })
    await agent.ready
    t.same(errors, [], 'no errors from the agent')
    t.same(workloads.uids(), ['uid-sleep'], "only its node's pod")
    t.match(z.pods(), [{ name: 'sleep', state: 'ready' }])
    t.match(
      (await h.exec('sleep', ['iptables-save', '-t', 'mangle'])).stdout,
      /-A ISTIO_PRERT -s 169\.254\.7\.127\/32 -p tcp/,
      'rules installed',
    )
    const sleepIp = h.podIp('sleep')
    const nat = await natRules()
    t.match(nat, '-A POSTROUTING -j ISTIO_POSTRT', 'the node jumps to the probe SNAT chain')
    t.match(nat, `-A ISTIO_POSTRT -d ${sleepIp}/32 -p tcp -m owner --socket-exists -j SNAT --to-source ${PROBE_SNAT_IP}`, 'sleep enrolled')
    t.notMatch(nat, `-d ${stale}/32`, 'the stale entry was flushed at start')
    t.notMatch(nat, `-d ${h.podIp('legacy')}/32`, 'an out-of-mesh pod is not SNAT-ed')

    const echo = h.podIp('echo-b')
    const bash = await h.exec('sleep', ['bash', '-c', `exec 3<>/dev/tcp/${echo}/8080; head -n1 <&3`])
    t.equal(bash.stdout.trim(), `echo-b sees ${h.podIp('sleep')}`, "an unmodified process's plain TCP went through ztunnel")
    const inbound = await h.log.waitFor((r) => r.msg === 'connection complete' && r.direction === 'inbound')
    t.equal(inbound['src.identity'], 'spiffe://cluster.local/ns/default/sa/sleep', 'tunnelled with mTLS')

    // STRICT in the namespace; the node (the fabric namespace) probes sleep's app with a plain
    // connection (no source chosen): the agent's SNAT makes it come from 169.254.7.127. The pod's
    // way back to that address is its node, as a default route would give it in a cluster.
    h.mesh.apply([{ op: 'upsert', kind: 'policy', value: strictPolicy('default') }])
    const gateway = `${podRange}.1.254`
    await run('ip', ['-n', podNetnsName(h.prefix, 'default', 'sleep'), 'route', 'add', `${PROBE_SNAT_IP}/32`, 'via', gateway])
    const probe = await new Promise<Socket>((resolve, reject) => {
      const s = socketFromFd(addon.socketTcp(node, 4, 0, false, '0.0.0.0', 0))
      s.once('error', reject)
      s.connect(8080, sleepIp, () => resolve(s))
    })
    t.equal(await readLine(probe), `sleep sees ${PROBE_SNAT_IP}`, "the node's plain probe is SNAT-ed and reaches the app under STRICT")
    probe.destroy()
    t.equal(await outcome(h.dial('legacy', sleepIp, 8080)), 'reset', 'plaintext from another source (a pod, forwarded) is refused')

    // The agent restarts: ztunnel still holds the pod; keep + snapshot, the listeners stay.
    await agent.stop()
    agent = start()
    await agent.ready
    t.same(workloads.uids(), ['uid-sleep'])
    t.equal(h.log.records.filter((r) => r.event === 'pod_ready' && r.pod === 'default/sleep').length, 1, 'listeners not reopened')

    api.remove('Pod', 'default', 'sleep')
    await eventually(() => workloads.uids().length === 0 && z.pods().length === 0, { timeoutMs: 10_000, intervalMs: 20 })
    t.equal(await dialInside(h.netns('sleep'), '127.0.0.1', 15001), 'refused', 'the pod deleted: its listeners are closed')
    await eventually(async () => !(await natRules()).includes(`-d ${sleepIp}/32`), { timeoutMs: 10_000, intervalMs: 50 })
    t.match(await natRules(), ':ISTIO_POSTRT', 'the pod deleted: its SNAT rule is gone, the chain stays')
    t.same(errors, [])
  },
)
