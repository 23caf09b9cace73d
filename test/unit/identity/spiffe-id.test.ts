import t from 'tap'
import { SpiffeId, SpiffeErrorCode } from '../../../src/identity/spiffe-id.js'

t.test('valid SPIFFE IDs parse and round-trip', async (t) => {
  const cases: Array<[string, { td: string; ns: string; sa: string }]> = [
    ['spiffe://cluster.local/ns/default/sa/default', { td: 'cluster.local', ns: 'default', sa: 'default' }],
    ['spiffe://example.org/ns/bookinfo/sa/bookinfo-productpage', { td: 'example.org', ns: 'bookinfo', sa: 'bookinfo-productpage' }],
    ['spiffe://td_1-x/ns/a.b/sa/A_b-C.d', { td: 'td_1-x', ns: 'a.b', sa: 'A_b-C.d' }],
  ]
  for (const [uri, want] of cases) {
    const id = SpiffeId.parse(uri)
    t.same([id.trustDomain, id.namespace, id.serviceAccount], [want.td, want.ns, want.sa], uri)
    t.equal(id.toString(), uri)
    t.equal(JSON.stringify(id), JSON.stringify(uri))
    t.equal(id.principal, uri.slice('spiffe://'.length))
    t.ok(id.equals(SpiffeId.parse(uri)))
    t.ok(Object.isFrozen(id))
  }
})

t.test('SpiffeId.of applies the defaults', async (t) => {
  t.equal(SpiffeId.of({ namespace: 'ns1' }).toString(), 'spiffe://cluster.local/ns/ns1/sa/default')
  t.equal(SpiffeId.of({ trustDomain: 'td', namespace: 'a', serviceAccount: 'b' }).toString(), 'spiffe://td/ns/a/sa/b')
  t.notOk(SpiffeId.of({ namespace: 'a' }).equals(undefined))
  t.notOk(SpiffeId.of({ namespace: 'a' }).equals(SpiffeId.of({ namespace: 'b' })))
})

t.test('invalid SPIFFE IDs are refused with IDENTITY_SPIFFE_INVALID', async (t) => {
  const invalid = [
    '',
    'cluster.local/ns/a/sa/b',
    'http://cluster.local/ns/a/sa/b',
    'SPIFFE://cluster.local/ns/a/sa/b',
    'spiffe://',
    'spiffe:///ns/a/sa/b',
    'spiffe://Cluster.Local/ns/a/sa/b',
    'spiffe://cluster local/ns/a/sa/b',
    'spiffe://user@cluster.local/ns/a/sa/b',
    'spiffe://cluster.local:8080/ns/a/sa/b',
    'spiffe://cluster.local',
    'spiffe://cluster.local/',
    'spiffe://cluster.local/ns/a',
    'spiffe://cluster.local/ns/a/sa',
    'spiffe://cluster.local/ns/a/sa/',
    'spiffe://cluster.local/ns//sa/b',
    'spiffe://cluster.local/ns/a/sa/b/',
    'spiffe://cluster.local/ns/a/sa/b/extra',
    'spiffe://cluster.local/sa/b/ns/a',
    'spiffe://cluster.local/NS/a/SA/b',
    'spiffe://cluster.local/ns/../sa/b',
    'spiffe://cluster.local/ns/./sa/b',
    'spiffe://cluster.local/ns/a/sa/..',
    'spiffe://cluster.local/ns/a%20b/sa/b',
    'spiffe://cluster.local/ns/a/sa/b?x=1',
    'spiffe://cluster.local/ns/a/sa/b#frag',
    'spiffe://cluster.local/ns/ä/sa/b',
  ]
  for (const uri of invalid) {
    t.throws(() => SpiffeId.parse(uri), { code: SpiffeErrorCode.invalid, side: 'config' }, JSON.stringify(uri))
  }
  t.throws(() => SpiffeId.parse(42 as unknown as string), { code: SpiffeErrorCode.invalid })
  for (const parts of [
    { namespace: '' },
    { namespace: '..' },
    { namespace: 'a/b' },
    { namespace: 'a', serviceAccount: '.' },
    { trustDomain: 'UPPER', namespace: 'a' },
    { trustDomain: '', namespace: 'a' },
  ]) {
    t.throws(() => SpiffeId.of(parts), { code: SpiffeErrorCode.invalid }, JSON.stringify(parts))
  }
})
