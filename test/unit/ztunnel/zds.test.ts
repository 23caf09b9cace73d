// ZDS, ztunnel's side, over an in-memory transport where the test plays istio-cni's node agent:
// hello first, one Ack per request, adds with a netns fd, keep, del, snapshot reconciliation, and a
// reconnect that keeps pods the agent replays and drops the rest.
import assert from 'node:assert/strict'
import t from 'tap'
import { createLogger } from '../../../src/observability/logger.js'
import { istio } from '../../../src/xds/gen/messages.js'
import { createWorkloadManager, type WorkloadManager } from '../../../src/ztunnel/workload-manager.js'
import { startZdsClient, type ZdsConnection, type ZdsPacket, type ZdsTransport } from '../../../src/ztunnel/zds.js'
import { eventually } from '../../helpers/eventually.js'

const zds = istio.workload.zds

/** An async queue that yields undefined once closed. */
class Queue<T> {
  private items: T[] = []
  private waiters: ((v: T | undefined) => void)[] = []
  private closed = false
  push(v: T): void {
    const w = this.waiters.shift()
    if (w) w(v)
    else this.items.push(v)
  }
  close(): void {
    this.closed = true
    for (const w of this.waiters.splice(0)) w(undefined)
  }
  next(): Promise<T | undefined> {
    const v = this.items.shift()
    if (v !== undefined) return Promise.resolve(v)
    if (this.closed) return Promise.resolve(undefined)
    return new Promise((resolve) => this.waiters.push(resolve))
  }
}

/** The agent's end of one connection. */
class AgentSide {
  readonly toZtunnel = new Queue<ZdsPacket>()
  readonly fromZtunnel = new Queue<Uint8Array>()
  async hello(): Promise<number | null | undefined> {
    return zds.ZdsHello.decode((await this.fromZtunnel.next())!).version
  }
  /** Sends one request and returns the Ack's error text. */
  async request(req: istio.workload.zds.IWorkloadRequest, fd?: number): Promise<string> {
    this.toZtunnel.push({ bytes: zds.WorkloadRequest.encode(req).finish(), ...(fd === undefined ? {} : { fd }) })
    const res = zds.WorkloadResponse.decode((await this.fromZtunnel.next())!)
    assert.ok(res.ack, 'every request is answered by an Ack')
    return res.ack.error ?? ''
  }
  hangUp(): void {
    this.toZtunnel.close()
  }
}

class MemoryAgent implements ZdsTransport {
  readonly accepted = new Queue<AgentSide>()
  paths: string[] = []
  async connect(path: string): Promise<ZdsConnection> {
    this.paths.push(path)
    const side = new AgentSide()
    this.accepted.push(side)
    return {
      send: async (b) => side.fromZtunnel.push(b),
      receive: () => side.toZtunnel.next(),
      close: () => side.toZtunnel.close(),
    }
  }
}

/** The real workload manager, with fds that are only numbers and no listeners behind it. */
class Pods {
  readonly closed: number[] = []
  readonly manager: WorkloadManager = createWorkloadManager({
    closeFd: (fd) => this.closed.push(fd),
    netnsId: (fd) => String(fd),
    logger: createLogger({ component: 'test', level: 'silent' }),
  })
  get held(): Map<string, { w: { uid: string; name: string; namespace: string; serviceAccount: string }; fd: number }> {
    return new Map(this.manager.held().map((h) => [h.workload.uid, { w: h.workload, fd: h.netnsFd }]))
  }
}

const add = (uid: string) => ({ add: { uid, workloadInfo: { name: uid, namespace: 'shop', serviceAccount: 'sa' } } })

t.test('hello, adds with netns fds, snapshot, del; reconnect reconciles with the replayed snapshot', async (t) => {
  const agent = new MemoryAgent()
  const pods = new Pods()
  const client = startZdsClient({
    path: '/var/run/ztunnel/ztunnel.sock',
    transport: agent,
    workloads: pods.manager,
    logger: createLogger({ component: 'test', level: 'silent' }),
    backoff: { initialMs: 1, maxMs: 5 },
  })
  t.teardown(() => client.close())

  const a = (await agent.accepted.next())!
  t.equal(await a.hello(), zds.Version.V1, 'ZdsHello{V1} first')
  t.equal(await a.request(add('pod-a'), 11), '')
  t.equal(await a.request(add('pod-b'), 12), '')
  t.match(await a.request(add('pod-nofd')), /no network namespace/, 'an add without an fd is refused in the Ack')
  t.equal(await a.request({ snapshotSent: {} }), '')
  t.ok(client.snapshotReceived)
  t.equal(pods.held.get('pod-a')?.fd, 11)
  t.same(pods.held.get('pod-b')?.w, { uid: 'pod-b', name: 'pod-b', namespace: 'shop', serviceAccount: 'sa' })
  t.match(await a.request({ keep: { uid: 'pod-a' } }), /after the snapshot/)
  t.equal(await a.request({ del: { uid: 'pod-b' } }), '')
  t.same([...pods.held.keys()], ['pod-a'])
  t.equal(await a.request(add('pod-c'), 13), '')

  // The agent restarts: pods stay while it is away; it replays pod-a (kept) and pod-d (new) only.
  a.hangUp()
  const b = (await agent.accepted.next())!
  t.same([...pods.held.keys()].sort(), ['pod-a', 'pod-c'], 'nothing dropped while disconnected')
  t.equal(await b.hello(), zds.Version.V1)
  t.equal(await b.request({ keep: { uid: 'pod-a' } }), '')
  t.equal(await b.request(add('pod-d'), 14), '')
  t.equal(await b.request({ snapshotSent: {} }), '')
  t.same([...pods.held.keys()].sort(), ['pod-a', 'pod-d'], 'pod-c, not replayed, is dropped at the snapshot')
  t.ok(pods.closed.includes(13), "pod-c's namespace fd is closed")
  t.equal(client.connects, 2)
  t.same(agent.paths, ['/var/run/ztunnel/ztunnel.sock', '/var/run/ztunnel/ztunnel.sock'])
})

t.test('garbage and empty requests are refused in the Ack, the connection goes on', async (t) => {
  const agent = new MemoryAgent()
  const pods = new Pods()
  const client = startZdsClient({
    path: 'p',
    transport: agent,
    workloads: pods.manager,
    logger: createLogger({ component: 'test', level: 'silent' }),
  })
  t.teardown(() => client.close())
  const a = (await agent.accepted.next())!
  await a.hello()
  a.toZtunnel.push({ bytes: Uint8Array.of(0x0a, 0xff) })
  t.match(zds.WorkloadResponse.decode((await a.fromZtunnel.next())!).ack?.error, /does not decode/)
  t.match(await a.request({}), /empty or unknown/)
  t.equal(await a.request(add('x'), 3), '')
  await eventually(() => pods.held.size === 1)
})
