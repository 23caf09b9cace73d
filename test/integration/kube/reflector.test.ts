// The Reflector against the fake API server: list then watch, resume from resourceVersion after a
// closed stream and after an API server restart, bookmarks, 410 Gone → relist, field selectors.
import t from 'tap'
import { KubeClient } from '../../../src/kube/client.js'
import { startReflector } from '../../../src/kube/reflector.js'
import { eventually } from '../../helpers/eventually.js'
import { startFakeKubeApiServer } from '../../helpers/fake-kube-apiserver.js'

const pod = (name: string, node: string, ip: string): Parameters<Awaited<ReturnType<typeof startFakeKubeApiServer>>['apply']>[0] => ({
  apiVersion: 'v1',
  kind: 'Pod',
  metadata: { name, namespace: 'default' },
  spec: { nodeName: node, containers: [{ name: 'app', image: 'x' }] },
  status: { phase: 'Running', podIP: ip },
})

t.test('list, watch, resume, bookmarks, 410 Gone, restart, field selector', async (t) => {
  const api = await startFakeKubeApiServer({ host: '127.0.0.1' })
  t.teardown(() => api.close())
  api.apply(pod('a', 'node-a', '10.0.0.1'))
  api.apply(pod('b', 'node-b', '10.0.0.2'))
  const client = new KubeClient({ server: api.url })
  let changes = 0
  const errors: unknown[] = []
  const r = startReflector({
    client,
    path: '/api/v1/pods',
    fieldSelector: 'spec.nodeName=node-a',
    onChange: () => {
      changes++
    },
    onError: (e) => errors.push(e),
    backoff: { minMs: 5, maxMs: 50 },
  })
  t.teardown(() => r.stop())
  await r.ready
  t.same([...r.store.keys()], ['default/a'], 'the field selector keeps node-a pods only')
  t.equal(r.lists, 1)
  await eventually(() => api.watchCount() === 1)

  api.apply(pod('c', 'node-a', '10.0.0.3'))
  await eventually(() => r.store.has('default/c'))
  api.apply(pod('d', 'node-b', '10.0.0.4'))
  api.remove('Pod', 'default', 'a')
  await eventually(() => !r.store.has('default/a'))
  t.notOk(r.store.has('default/d'), "other nodes' pods are filtered on the watch too")

  // A bookmark moves the resourceVersion without a change.
  api.apply(pod('e', 'node-b', '10.0.0.5'))
  const before = changes
  api.bookmark()
  await eventually(() => r.resourceVersion === String(api.resourceVersion))
  t.equal(changes, before, 'a bookmark is not a change')

  // The stream ends (server timeout): the watch resumes from its version, no relist, nothing missed.
  api.closeWatches()
  api.apply(pod('f', 'node-a', '10.0.0.6'))
  await eventually(() => r.store.has('default/f'))
  t.equal(r.lists, 1, 'resumed from resourceVersion, not relisted')
  t.ok(
    api.requests.some((q) => q.includes('watch=1') && q.includes('allowWatchBookmarks=true') && q.includes(`resourceVersion=`)),
    'watches ask for bookmarks and resume',
  )

  // Compaction while the stream is down: 410 Gone → relist; an object deleted meanwhile disappears.
  api.closeWatches()
  api.remove('Pod', 'default', 'c')
  api.compact()
  await eventually(() => r.lists === 2)
  t.notOk(r.store.has('default/c'), 'the relist dropped the object deleted while events were lost')

  // API server restart: connections dropped, then the same address again.
  await api.restart()
  api.apply(pod('g', 'node-a', '10.0.0.7'))
  await eventually(() => r.store.has('default/g'))
  t.same([...r.store.keys()].sort(), ['default/f', 'default/g'])
})
