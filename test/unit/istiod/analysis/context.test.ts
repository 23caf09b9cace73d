// The analysis context's selector lookups (src/istiod/analysis/context.ts): a selector looks within
// its own namespace, a root-namespace one across the mesh, and results keep the snapshot's order.
import t from 'tap'
import { createAnalysisContext } from '../../../../src/istiod/analysis/context.js'
import { deployment, service, snapshotOf } from '../translate/helpers.js'

t.test('selectWorkloads and serviceEndpoints: own namespace only, every namespace from the root one', async (t) => {
  const snapshot = snapshotOf(
    [
      deployment('web', { ns: 'aa' }),
      deployment('web-canary', { ns: 'aa', app: 'web' }),
      deployment('web', { ns: 'zz' }),
      deployment('db', { ns: 'zz' }),
      service('web', { ns: 'aa' }),
      service('web', { ns: 'zz' }),
      service('web', { ns: 'empty' }),
      service('db', { ns: 'aa' }),
    ].join(''),
  )
  const ctx = createAnalysisContext(snapshot)
  const names = (ws: readonly { namespace: string; object: { metadata: { name: string } } }[]) =>
    ws.map((w) => `${w.namespace}/${w.object.metadata.name}`)
  t.same(names(ctx.selectWorkloads({ app: 'web' }, 'aa')), ['aa/web', 'aa/web-canary'])
  t.same(names(ctx.selectWorkloads({ app: 'web' }, 'zz')), ['zz/web'])
  t.same(names(ctx.selectWorkloads({ app: 'web' }, 'istio-system')), ['aa/web', 'aa/web-canary', 'zz/web'])
  t.same(names(ctx.selectWorkloads({ app: 'web' }, 'nowhere')), [])
  const svc = (ns: string, name: string) => ctx.service(ns, name)!
  t.same(names(ctx.serviceEndpoints(svc('aa', 'web'))), ['aa/web', 'aa/web-canary'])
  t.same(names(ctx.serviceEndpoints(svc('zz', 'web'))), ['zz/web'])
  t.same(names(ctx.serviceEndpoints(svc('empty', 'web'))), [])
  t.same(names(ctx.serviceEndpoints(svc('aa', 'db'))), [], "zz's db pods are not aa's")
})
