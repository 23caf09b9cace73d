// ZDS over a real unix SOCK_SEQPACKET socket: a test peer (python3, which can listen on SEQPACKET
// and pass fds) plays istio-cni's node agent, ztunnel's client connects through the in-pod capture
// addon. The peer hands over an fd with AddWorkload (a file the test made, standing in for a
// network namespace: the pod side is the in-pod capture work's), then the snapshot marker; each
// request gets its Ack. Skipped without the addon or python3.
import { spawn, spawnSync } from 'node:child_process'
import { existsSync, fstatSync, statSync } from 'node:fs'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import { ADDON_PATH, loadCaptureAddon } from '../../../src/capture/inpod/addon.js'
import { createLogger } from '../../../src/observability/logger.js'
import { istio } from '../../../src/xds/gen/messages.js'
import { startZdsClient, type ZdsWorkload } from '../../../src/ztunnel/zds.js'
import { seqpacketZdsTransport } from '../../../src/ztunnel/zds-seqpacket.js'
import { eventually } from '../../helpers/eventually.js'

const zds = istio.workload.zds
const python = spawnSync('python3', ['-c', 'import socket; socket.send_fds'], { stdio: 'ignore' }).status === 0
const skip = !existsSync(ADDON_PATH)
  ? 'the capture addon is not built (npm run build:native)'
  : !python
    ? 'python3 with socket.send_fds is not available'
    : false

// The agent: listen, accept, read the hello, send each request (hex on argv) with the file's fd on
// the first, read one Ack per request, print the Acks' hex, close.
const AGENT = `
import socket, sys, os
path, fdfile, reqs = sys.argv[1], sys.argv[2], sys.argv[3:]
s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET); s.bind(path); s.listen(1)
print('listening', flush=True)
c, _ = s.accept()
print('hello', c.recv(1024).hex(), flush=True)
fd = os.open(fdfile, os.O_RDONLY)
for i, r in enumerate(reqs):
    if i == 0: socket.send_fds(c, [bytes.fromhex(r)], [fd])
    else: c.send(bytes.fromhex(r))
    print('ack', c.recv(1024).hex(), flush=True)
c.close()
`

t.test('ZDS over SEQPACKET + SCM_RIGHTS with a test peer as istio-cni', { skip }, async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'ambient-zds-'))
  t.teardown(() => rm(dir, { recursive: true, force: true }))
  const sock = join(dir, 'ztunnel.sock')
  const netnsStandIn = join(dir, 'netns')
  await writeFile(netnsStandIn, 'pod network namespace stand-in')
  const hex = (m: istio.workload.zds.IWorkloadRequest) => Buffer.from(zds.WorkloadRequest.encode(m).finish()).toString('hex')
  const agent = spawn(
    'python3',
    [
      '-c',
      AGENT,
      sock,
      netnsStandIn,
      hex({ add: { uid: 'pod-a', workloadInfo: { name: 'a', namespace: 'shop', serviceAccount: 'sa' } } }),
      hex({ snapshotSent: {} }),
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  )
  let out = ''
  agent.stdout.on('data', (c: Buffer) => {
    out += c.toString()
  })
  agent.stderr.on('data', (c: Buffer) => {
    out += c.toString()
  })
  t.teardown(() => {
    if (agent.exitCode === null) agent.kill('SIGKILL')
  })
  await eventually(() => out.includes('listening'), { timeoutMs: 10_000, intervalMs: 20 })

  const addon = loadCaptureAddon()
  const added: { w: ZdsWorkload; fd: number }[] = []
  const client = startZdsClient({
    path: sock,
    transport: seqpacketZdsTransport(addon, { pollMs: 5 }),
    logger: createLogger({ component: 'test', level: 'silent' }),
    backoff: { initialMs: 50, maxMs: 200 },
    workloads: {
      beginSnapshot: () => undefined,
      add: async (w, fd) => {
        added.push({ w, fd })
      },
      keep: async () => undefined,
      del: async () => undefined,
      snapshotSent: async () => undefined,
      uids: () => added.map((a) => a.w.uid),
    },
  })
  t.teardown(() => client.close())
  await eventually(() => agent.exitCode !== null, { timeoutMs: 10_000, intervalMs: 20 })
  const hello = /hello (\S+)/.exec(out)?.[1] ?? ''
  t.equal(zds.ZdsHello.decode(Buffer.from(hello, 'hex')).version, zds.Version.V1, 'the agent read ZdsHello{V1}')
  const acks = [...out.matchAll(/ack (\S*)/g)].map((m) => zds.WorkloadResponse.decode(Buffer.from(m[1]!, 'hex')).ack?.error ?? 'no ack')
  t.same(acks, ['', ''], 'one empty Ack per request')
  t.equal(added.length, 1)
  t.same(added[0]!.w, { uid: 'pod-a', name: 'a', namespace: 'shop', serviceAccount: 'sa' })
  const passed = fstatSync(added[0]!.fd)
  t.equal(passed.ino, statSync(netnsStandIn).ino, "the fd passed with SCM_RIGHTS is the peer's file")
  addon.close(added[0]!.fd)
  t.ok(client.snapshotReceived)
})
