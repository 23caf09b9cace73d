// The workload manager's reconcile planner (ZDS add/keep/del/snapshot_sent → open/replace/close),
// table-tested, and the manager itself: fds closed only after the listeners moved, one at a time.
import t from 'tap'
import { createLogger } from '../../../src/observability/logger.js'
import {
  createWorkloadManager,
  planWorkloadRequest,
  WorkloadManagerErrorCode as Code,
  type WorkloadRequest,
} from '../../../src/ztunnel/workload-manager.js'

const set = (...uids: string[]): Set<string> => new Set(uids)

const cases: {
  name: string
  held: string[]
  seen: string[] | undefined
  req: WorkloadRequest
  actions: string[]
  seenAfter: string[] | undefined
  error?: string
}[] = [
  { name: 'add of a new pod opens it', held: [], seen: undefined, req: { op: 'add', uid: 'a' }, actions: ['open a'], seenAfter: undefined },
  { name: 'add during a snapshot marks it seen', held: [], seen: [], req: { op: 'add', uid: 'a' }, actions: ['open a'], seenAfter: ['a'] },
  { name: 'add of a held pod replaces it', held: ['a'], seen: [], req: { op: 'add', uid: 'a' }, actions: ['replace a'], seenAfter: ['a'] },
  {
    name: 'add of a held pod in the same namespace retains it (the replay after a reconnect)',
    held: ['a'],
    seen: [],
    req: { op: 'add', uid: 'a', sameNetns: true },
    actions: ['retain a'],
    seenAfter: ['a'],
  },
  { name: 'keep of a held pod during a snapshot', held: ['a'], seen: [], req: { op: 'keep', uid: 'a' }, actions: [], seenAfter: ['a'] },
  {
    name: 'keep after the snapshot is refused',
    held: ['a'],
    seen: undefined,
    req: { op: 'keep', uid: 'a' },
    actions: [],
    seenAfter: undefined,
    error: Code.keepAfterSnapshot,
  },
  {
    name: 'keep of a pod not held is refused (the agent must add it)',
    held: [],
    seen: [],
    req: { op: 'keep', uid: 'x' },
    actions: [],
    seenAfter: [],
    error: Code.keepUnknown,
  },
  { name: 'del closes a held pod', held: ['a', 'b'], seen: ['a'], req: { op: 'del', uid: 'a' }, actions: ['close a'], seenAfter: [] },
  {
    name: 'del of an unknown pod does nothing',
    held: ['a'],
    seen: undefined,
    req: { op: 'del', uid: 'x' },
    actions: [],
    seenAfter: undefined,
  },
  {
    name: 'snapshot closes every held pod not seen',
    held: ['a', 'b', 'c'],
    seen: ['b'],
    req: { op: 'snapshotSent' },
    actions: ['close a', 'close c'],
    seenAfter: undefined,
  },
  {
    name: 'a second snapshot marker changes nothing',
    held: ['a'],
    seen: undefined,
    req: { op: 'snapshotSent' },
    actions: [],
    seenAfter: undefined,
  },
  { name: 'add without a uid is refused', held: [], seen: [], req: { op: 'add', uid: '' }, actions: [], seenAfter: [], error: Code.noUid },
]

for (const c of cases) {
  t.test(c.name, async (t) => {
    const plan = planWorkloadRequest({ held: set(...c.held), seen: c.seen === undefined ? undefined : set(...c.seen) }, c.req)
    t.same(
      plan.actions.map((a) => `${a.op} ${a.uid}`),
      c.actions,
    )
    t.same(plan.seen === undefined ? undefined : [...plan.seen].sort(), c.seenAfter)
    t.equal(plan.error?.code, c.error)
  })
}

t.test('manager: the listeners move before the old namespace fd is closed; refused adds close their fd', async (t) => {
  const events: string[] = []
  const m = createWorkloadManager({
    closeFd: (fd) => events.push(`close fd ${fd}`),
    netnsId: (fd) => String(fd % 100), // fd 111 is the namespace of fd 11
    logger: createLogger({ component: 't', level: 'silent' }),
  })
  const failing = { uid: '' }
  m.subscribe(
    async () => {
      events.push(`apply [${m.held().map((h) => `${h.workload.uid}@${h.netnsFd}`)}]`)
    },
    (w) => (w.uid === failing.uid ? 'EADDRINUSE' : undefined),
  )
  const pod = (uid: string) => ({ uid, name: uid, namespace: 'ns', serviceAccount: 'sa' })
  m.beginSnapshot()
  await m.add(pod('a'), 10)
  await m.add(pod('a'), 11)
  await m.snapshotSent()
  await m.add(pod('a'), 111)
  await t.rejects(m.keep('a'), { code: Code.keepAfterSnapshot })
  failing.uid = 'b'
  await t.rejects(m.add(pod('b'), 12), { code: Code.listeners }, 'listeners that cannot open fail the add (its Ack carries the error)')
  m.beginSnapshot()
  await t.rejects(m.keep('zz'), { code: Code.keepUnknown })
  await m.keep('a')
  await m.snapshotSent()
  t.same(m.netnsFor('ns', 'a')?.netnsFd, 11)
  t.same(events, ['apply [a@10]', 'apply [a@11]', 'close fd 10', 'close fd 111', 'apply [a@11,b@12]', 'apply [a@11]', 'close fd 12'])
  m.close()
  t.equal(events.at(-1), 'close fd 11')
})
