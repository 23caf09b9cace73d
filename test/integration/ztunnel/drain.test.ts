// SIGTERM's drain (ztunnel.drain): stop accepting on every listener, let live flows run until the
// deadline, then close them with `connection closed due to connection drain`. Flows that end before
// the deadline are logged normally.
import t from 'tap'
import net from 'node:net'
import type { Service } from '../../../src/mesh/types.js'
import { startMeshHarness, type PodSpec } from '../../helpers/mesh-harness.js'
import { readAll, readExactly, SocksClientError } from '../../helpers/socks-client.js'

const SVC = 'default/echo.default.svc.cluster.local'
const pods: PodSpec[] = [
  { name: 'sleep', node: 'node-a', index: 1 },
  { name: 'echo-b', node: 'node-b', index: 1, serviceAccount: 'echo', appPorts: [8080], services: { [SVC]: [[80, 8080]] } },
]
const services = ({ vip }: { vip(n: number): string }): Service[] => [
  {
    name: 'echo',
    namespace: 'default',
    hostname: 'echo.default.svc.cluster.local',
    addresses: [vip(1)],
    ports: [{ servicePort: 80, targetPort: 8080, appProtocol: '' }],
    subjectAltNames: [],
    waypoint: undefined,
  },
]
const DRAIN_ERROR = 'connection closed due to connection drain'
const DEADLINE_MS = 1_500

async function roundTrip(socket: net.Socket, text: string): Promise<string> {
  socket.write(text)
  return (await readExactly(socket, Buffer.byteLength(text))).toString()
}

function tcpOutcome(host: string, port: number): Promise<string> {
  return new Promise((resolve) => {
    const s = net.connect({ host, port })
    s.once('connect', () => {
      s.destroy()
      resolve('connected')
    })
    s.once('error', (err: NodeJS.ErrnoException) => resolve(err.code ?? 'error'))
  })
}

t.test(
  'destination drain: a live flow works until the deadline, then closes with the drain error; new connections are refused',
  async (t) => {
    const h = await startMeshHarness(t, { pods, services })
    const dst = { ip: h.podIp('echo-b'), port: 8080 }
    const live = await h.dial('sleep', dst)
    live.on('error', () => undefined)
    t.equal(await roundTrip(live, 'before'), 'before')
    const short = await h.dial('sleep', dst)
    t.equal(await roundTrip(short, 'short'), 'short')
    const liveClosed = new Promise<void>((resolve) => live.once('close', () => resolve()))

    const nodeB = h.ztunnels.get('node-b')!
    const started = Date.now()
    const drained = nodeB.drain(DEADLINE_MS)
    await h.log.waitFor((r) => r.event === 'drain_start' && r.node === 'node-b')
    t.same(nodeB.ready(), { ready: false, pending: ['draining: shutting down'] }, 'not ready while draining')

    t.equal(await roundTrip(live, 'during'), 'during', 'the live flow keeps working during the drain')
    const refused = await h.dial('sleep', dst).catch((e: unknown) => e)
    t.type(refused, SocksClientError, 'a new HBONE connection to the draining node is refused')
    t.equal(await tcpOutcome(dst.ip, 8080), 'ECONNREFUSED', 'the plaintext listener is closed')
    t.equal(await tcpOutcome(dst.ip, 15008), 'ECONNREFUSED', 'the HBONE listener is closed')

    // A flow that ends before the deadline is recorded as a normal close.
    short.end()
    await readAll(short)
    const shortRec = await h.log.waitFor(
      (r) => r.msg === 'connection complete' && r.direction === 'inbound' && r.node === 'node-b' && r.bytes_recv === 5,
    )
    t.notOk(shortRec.error, 'no error on the flow that finished in time')

    await liveClosed
    await drained
    const elapsed = Date.now() - started
    t.ok(elapsed >= DEADLINE_MS - 50, `closed at the deadline (${elapsed} ms)`)
    const rec = await h.log.waitFor(
      (r) => r.msg === 'connection complete' && r.direction === 'inbound' && r.node === 'node-b' && r.error === DRAIN_ERROR,
    )
    t.equal(rec.bytes_recv, 'before'.length + 'during'.length, 'bytes copied before the deadline are counted')
    t.match(
      h.log.filter((r) => r.event === 'drain_done' && r.node === 'node-b'),
      [{ outcome: 'deadline', terminated: 1 }],
    )
    t.equal(nodeB.flows.size, 0)
  },
)

t.test('source drain: the SOCKS listener stops, the live outbound flow gets the drain error at the deadline', async (t) => {
  const h = await startMeshHarness(t, { pods, services })
  const live = await h.dial('sleep', { ip: h.podIp('echo-b'), port: 8080 })
  live.on('error', () => undefined)
  t.equal(await roundTrip(live, 'x'), 'x')
  const nodeA = h.ztunnels.get('node-a')!
  const drained = nodeA.drain(300)
  await h.log.waitFor((r) => r.event === 'drain_start' && r.node === 'node-a')
  t.equal(await tcpOutcome(h.podIp('sleep'), 15080), 'ECONNREFUSED', 'no new outbound')
  t.equal(await roundTrip(live, 'y'), 'y')
  await drained
  const rec = await h.log.waitFor((r) => r.msg === 'connection complete' && r.direction === 'outbound' && r.error === DRAIN_ERROR)
  t.equal(rec.response_flags, '-', 'a drain is not an upstream failure')
  t.equal(rec.bytes_sent, 2, 'bytes copied before the drain are counted')
  t.equal(nodeA.drain(300), nodeA.drain(300), 'drain is idempotent')
})

t.test('a drain with no live flows ends at once', async (t) => {
  const h = await startMeshHarness(t, { pods, services })
  const started = Date.now()
  await h.ztunnels.get('node-b')!.drain(10_000)
  t.ok(Date.now() - started < 2_000, 'did not wait for the deadline')
  t.match(
    h.log.filter((r) => r.event === 'drain_done'),
    [{ outcome: 'empty', terminated: 0 }],
  )
})
