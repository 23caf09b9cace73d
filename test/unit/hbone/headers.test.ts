import t from 'tap'
import { connectHeaders, formatBaggage, formatForwarded, parseBaggage, parseForwarded } from '../../../src/hbone/headers.js'
import { checkServerSan } from '../../../src/hbone/tls.js'
import { SpiffeId } from '../../../src/identity/spiffe-id.js'
import { parseTraceparent } from '../../../src/observability/trace-context.js'

t.test('CONNECT headers', async (t) => {
  const h = connectHeaders({
    authority: { ip: '10.0.0.2', port: 8080 },
    forwardedFor: { ip: '10.0.0.1', port: 43210 },
    host: 'reviews.default.svc.cluster.local',
    baggage: { 'k8s.namespace.name': 'default', 'service.name': 'productpage', 'service.version': 'v1' },
  })
  t.equal(h[':method'], 'CONNECT')
  t.equal(h[':authority'], '10.0.0.2:8080')
  t.equal(h.forwarded, 'for="10.0.0.1:43210";host=reviews.default.svc.cluster.local')
  t.equal(h.baggage, 'k8s.namespace.name=default,service.name=productpage,service.version=v1')
  t.ok(parseTraceparent(h.traceparent as string), 'a valid W3C traceparent')
  t.notOk(
    Object.keys(h).some((k) => k.startsWith('x-istio')),
    'no x-istio-* headers',
  )
  t.notOk(':path' in h || ':scheme' in h, 'CONNECT has no :path or :scheme')
})

t.test('traceparent is random per CONNECT unless given', async (t) => {
  const a = connectHeaders({ authority: { ip: '10.0.0.2', port: 80 } })
  const b = connectHeaders({ authority: { ip: '10.0.0.2', port: 80 } })
  t.not(a.traceparent, b.traceparent)
  const given = '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01'
  t.equal(connectHeaders({ authority: { ip: '10.0.0.2', port: 80 }, traceparent: given }).traceparent, given)
  t.notOk('forwarded' in a || 'baggage' in a, 'optional headers absent when not given')
})

t.test('forwarded', async (t) => {
  t.equal(formatForwarded({ ip: '10.0.0.1', port: 5 }), 'for="10.0.0.1:5"')
  t.equal(formatForwarded({ ip: '2001:db8::1', port: 5 }), 'for="[2001:db8::1]:5"')
  t.same(parseForwarded('for="[2001:db8::1]:5";host=a.b'), { for: { ip: '2001:db8::1', port: 5 }, host: 'a.b' })
  t.same(parseForwarded('For="10.0.0.1:7", for="10.9.9.9:1"'), { for: { ip: '10.0.0.1', port: 7 } })
  t.same(parseForwarded('for=unknown;proto=http'), {})
  t.same(parseForwarded(undefined), {})
})

t.test('baggage', async (t) => {
  const entries = { 'k8s.deployment.name': 'ratings v1', 'service.name': 'a,b=c' }
  t.same(parseBaggage(formatBaggage(entries)), entries)
  t.same(parseBaggage('a=1;prop=x, b = 2,bad,=3,c=%zz'), { a: '1', b: '2' })
  t.same(parseBaggage(undefined), {})
})

t.test('server SAN check', async (t) => {
  const want = [SpiffeId.parse('spiffe://cluster.local/ns/a/sa/x'), SpiffeId.parse('spiffe://cluster.local/ns/b/sa/y')]
  t.equal(checkServerSan('URI:spiffe://cluster.local/ns/b/sa/y', want), undefined)
  t.equal(checkServerSan('DNS:x, URI:spiffe://cluster.local/ns/a/sa/x', want), undefined)
  t.match(checkServerSan('URI:spiffe://cluster.local/ns/c/sa/z', want), { code: 'HBONE_IDENTITY_MISMATCH', side: 'upstream' })
  t.match(checkServerSan(undefined, want), { code: 'HBONE_IDENTITY_MISMATCH' })
  t.match(checkServerSan('URI:spiffe://cluster.local/ns/a/sa/x', []), { code: 'HBONE_IDENTITY_MISMATCH' })
})

t.test('pooled random bytes: never the same bytes twice, across refills', async (t) => {
  const { pooledRandomBytes } = await import('../../../src/hbone/headers.js')
  const seen = new Set<string>()
  let wrongSize = 0
  // 4096-byte pool: 3000 × 24 bytes crosses many refills.
  for (let i = 0; i < 3000; i++) {
    const bytes = pooledRandomBytes(24)
    if (bytes.length !== 24) wrongSize++
    seen.add(Buffer.from(bytes).toString('hex'))
  }
  t.equal(wrongSize, 0)
  t.equal(seen.size, 3000, 'every draw is fresh')
  t.equal(pooledRandomBytes(10_000).length, 10_000, 'larger than the pool: served directly')
  const ids = new Set(Array.from({ length: 500 }, () => connectHeaders({ authority: { ip: '10.0.0.2', port: 80 } }).traceparent))
  t.equal(ids.size, 500, 'a distinct traceparent per CONNECT')
})
