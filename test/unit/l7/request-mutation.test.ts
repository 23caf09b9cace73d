// Table tests for rewrites and header operations (src/l7/engines/request-mutation.ts).
import t from 'tap'
import {
  applyHeaderOps,
  changesRequest,
  changesResponse,
  mutateRequest,
  mutateResponseHeaders,
  rewritePath,
  type MatchedPath,
} from '../../../src/l7/engines/request-mutation.js'
import type { HeaderOps, Rewrite, StringMatch } from '../../../src/mesh/waypoint-config.js'
import { destination, exact, NO_HEADERS, prefix, regex, route, segPrefix } from '../../helpers/waypoint-config.js'

const rw = (r: Partial<Rewrite>): Rewrite => ({ uriPrefix: null, fullPath: null, uriRegex: null, authority: null, ...r })
const by = (pathMatch: StringMatch | null, ignoreUriCase = false): MatchedPath => ({ pathMatch, ignoreUriCase })

const pathRows: { name: string; path: string; rewrite: Rewrite | null; matched: MatchedPath; want: string }[] = [
  { name: 'no rewrite', path: '/a?x=1', rewrite: null, matched: by(null), want: '/a?x=1' },
  {
    name: 'prefix match: prefix swapped',
    path: '/ratings/1?x=1',
    rewrite: rw({ uriPrefix: '/v1/ratings' }),
    matched: by(prefix('/ratings')),
    want: '/v1/ratings/1?x=1',
  },
  {
    name: 'prefix match ignoring case',
    path: '/RATINGS/1',
    rewrite: rw({ uriPrefix: '/r' }),
    matched: by(prefix('/ratings'), true),
    want: '/r/1',
  },
  {
    name: 'exact match: whole path swapped, query kept',
    path: '/login?next=/',
    rewrite: rw({ uriPrefix: '/auth/login' }),
    matched: by(exact('/login')),
    want: '/auth/login?next=/',
  },
  {
    name: 'regex match: whole path swapped',
    path: '/v7/x?y',
    rewrite: rw({ uriPrefix: '/new' }),
    matched: by(regex('/v[0-9]+/.*')),
    want: '/new?y',
  },
  {
    name: 'no path match: Envoy implicit prefix / is swapped',
    path: '/foo',
    rewrite: rw({ uriPrefix: '/v2' }),
    matched: by(null),
    want: '/v2foo',
  },
  { name: 'no path match, prefix rewrite to /', path: '/foo', rewrite: rw({ uriPrefix: '/' }), matched: by(null), want: '/foo' },
  {
    name: 'Gateway PathPrefix /foo → / on /foo/bar',
    path: '/foo/bar',
    rewrite: rw({ uriPrefix: '/' }),
    matched: by(segPrefix('/foo')),
    want: '/bar',
  },
  { name: 'Gateway PathPrefix /foo → / on /foo', path: '/foo', rewrite: rw({ uriPrefix: '/' }), matched: by(segPrefix('/foo')), want: '/' },
  {
    name: 'Gateway PathPrefix /foo → /bar on /foo/x?q',
    path: '/foo/x?q=1',
    rewrite: rw({ uriPrefix: '/bar' }),
    matched: by(segPrefix('/foo')),
    want: '/bar/x?q=1',
  },
  {
    name: 'Gateway PathPrefix /foo/ (trailing) → /bar',
    path: '/foo/x',
    rewrite: rw({ uriPrefix: '/bar' }),
    matched: by(segPrefix('/foo/')),
    want: '/bar/x',
  },
  { name: 'full path replace keeps query', path: '/a/b?x=1', rewrite: rw({ fullPath: '/c' }), matched: by(prefix('/a')), want: '/c?x=1' },
  {
    name: 'fullPath wins over uriPrefix',
    path: '/a/b',
    rewrite: rw({ fullPath: '/c', uriPrefix: '/z' }),
    matched: by(prefix('/a')),
    want: '/c',
  },
  {
    name: 'regex rewrite with group',
    path: '/service/foo/v1/api?q=1',
    rewrite: rw({ uriRegex: { match: '^/service/([^/]+)(/.*)$', rewrite: '\\2/instance/\\1' } }),
    matched: by(null),
    want: '/v1/api/instance/foo?q=1',
  },
  {
    name: 'regex rewrite replaces all matches',
    path: '/a-b-c',
    rewrite: rw({ uriRegex: { match: '-', rewrite: '/' } }),
    matched: by(null),
    want: '/a/b/c',
  },
  {
    name: 'regex rewrite: literal $ in replacement',
    path: '/price',
    rewrite: rw({ uriRegex: { match: 'price', rewrite: '$cost' } }),
    matched: by(null),
    want: '/$cost',
  },
  {
    name: 'invalid rewrite regex leaves path',
    path: '/x',
    rewrite: rw({ uriRegex: { match: '(', rewrite: '/' } }),
    matched: by(null),
    want: '/x',
  },
]

for (const r of pathRows) t.test(`path: ${r.name}`, async (t) => t.equal(rewritePath(r.path, r.rewrite, r.matched), r.want))

const ops = (o: Partial<HeaderOps>): HeaderOps => ({ set: [], add: [], remove: [], ...o })
const headerRows: { name: string; in: Record<string, string | string[]>; ops: HeaderOps; want: Record<string, string | string[]> }[] = [
  { name: 'set adds', in: {}, ops: ops({ set: [{ name: 'x-a', value: '1' }] }), want: { 'x-a': '1' } },
  { name: 'set overwrites every value', in: { 'x-a': ['0', '9'] }, ops: ops({ set: [{ name: 'x-a', value: '1' }] }), want: { 'x-a': '1' } },
  { name: 'add appends', in: { 'x-a': '0' }, ops: ops({ add: [{ name: 'x-a', value: '1' }] }), want: { 'x-a': ['0', '1'] } },
  { name: 'add to absent creates', in: {}, ops: ops({ add: [{ name: 'X-A', value: '1' }] }), want: { 'x-a': '1' } },
  { name: 'remove', in: { 'x-a': '0', 'x-b': '1' }, ops: ops({ remove: ['X-A'] }), want: { 'x-b': '1' } },
  {
    name: 'remove before add (Envoy order)',
    in: { 'x-a': '0' },
    ops: ops({ remove: ['x-a'], add: [{ name: 'x-a', value: '1' }] }),
    want: { 'x-a': '1' },
  },
  {
    name: 'pseudo-headers untouched',
    in: { ':path': '/' },
    ops: ops({ remove: [':path'], set: [{ name: ':method', value: 'X' }] }),
    want: { ':path': '/' },
  },
]

for (const r of headerRows) t.test(`headers: ${r.name}`, async (t) => t.same(applyHeaderOps(r.in, r.ops), r.want))

t.test('mutateRequest: authority rewrite, destination then route headers, original path', async (t) => {
  const d = destination('c', 100, {
    headers: {
      ...NO_HEADERS,
      request: ops({
        set: [
          { name: 'x-who', value: 'dest' },
          { name: 'x-dest', value: '1' },
        ],
      }),
    },
  })
  const r = route('r', [], {
    rewrite: rw({ uriPrefix: '/v2', authority: 'reviews.internal' }),
    headers: { ...NO_HEADERS, request: ops({ set: [{ name: 'x-who', value: 'route' }] }) },
  })
  const out = mutateRequest({ path: '/api/x', authority: '10.0.0.1:9080', headers: { 'x-in': 'y' } }, r, d, by(prefix('/api')))
  t.equal(out.path, '/v2/x')
  t.equal(out.authority, 'reviews.internal')
  t.equal(out.originalPath, '/api/x')
  t.same(out.headers, { 'x-in': 'y', 'x-who': 'route', 'x-dest': '1' })
})

t.test('mutateRequest: request set host = authority rewrite (Istio); unchanged path has no original', async (t) => {
  const r = route('r', [], { headers: { ...NO_HEADERS, request: ops({ set: [{ name: 'Host', value: 'ratings.example' }] }) } })
  const out = mutateRequest({ path: '/', authority: 'a:80', headers: {} }, r, null, by(null))
  t.equal(out.authority, 'ratings.example')
  t.equal(out.originalPath, null)
  t.same(out.headers, {})
})

t.test('mutateResponseHeaders: destination then route', async (t) => {
  const d = destination('c', 100, { headers: { ...NO_HEADERS, response: ops({ add: [{ name: 'x-r', value: 'd' }] }) } })
  const r = route('r', [], { headers: { ...NO_HEADERS, response: ops({ remove: ['server'], add: [{ name: 'x-r', value: 'r' }] }) } })
  t.same(mutateResponseHeaders({ server: 'envoy', 'x-r': '0' }, r, d), { 'x-r': ['0', 'd', 'r'] })
})

t.test('changesRequest / changesResponse: false exactly when the mutation would give back what it was given', async (t) => {
  const ops = (o: Partial<HeaderOps>): HeaderOps => ({ set: [], add: [], remove: [], ...o })
  const level = (request: Partial<HeaderOps>, response: Partial<HeaderOps> = {}) => ({ request: ops(request), response: ops(response) })
  const rows: {
    name: string
    r: ReturnType<typeof route>
    d: ReturnType<typeof destination> | null
    request: boolean
    response: boolean
  }[] = [
    { name: 'nothing configured', r: route('a', []), d: destination('c'), request: false, response: false },
    { name: 'nothing, no destination', r: route('a', []), d: null, request: false, response: false },
    { name: 'a path rewrite', r: route('a', [], { rewrite: rw({ fullPath: '/x' }) }), d: null, request: true, response: false },
    { name: 'an authority rewrite', r: route('a', [], { rewrite: rw({ authority: 'h' }) }), d: null, request: true, response: false },
    {
      name: 'a route request set',
      r: route('a', [], { headers: level({ set: [{ name: 'x', value: '1' }] }) }),
      d: null,
      request: true,
      response: false,
    },
    {
      name: 'a destination request remove',
      r: route('a', []),
      d: destination('c', 100, { headers: level({ remove: ['x'] }) }),
      request: true,
      response: false,
    },
    {
      name: 'a route response add',
      r: route('a', [], { headers: level({}, { add: [{ name: 'x', value: '1' }] }) }),
      d: null,
      request: false,
      response: true,
    },
    {
      name: 'a destination response set',
      r: route('a', []),
      d: destination('c', 100, { headers: level({}, { set: [{ name: 'x', value: '1' }] }) }),
      request: false,
      response: true,
    },
  ]
  const head = { path: '/p?q=1', authority: 'svc:80', headers: { a: '1', b: ['2', '3'] } }
  for (const row of rows) {
    t.equal(changesRequest(row.r, row.d), row.request, `${row.name}: request`)
    t.equal(changesResponse(row.r, row.d), row.response, `${row.name}: response`)
    const m = mutateRequest(head, row.r, row.d, by(null))
    const same = m.path === head.path && m.authority === head.authority && JSON.stringify(m.headers) === JSON.stringify(head.headers)
    if (!row.request) t.ok(same, `${row.name}: the request comes back as it was`)
    const out = mutateResponseHeaders(head.headers, row.r, row.d)
    if (!row.response) t.same(out, head.headers, `${row.name}: the response headers come back as they were`)
  }
})
