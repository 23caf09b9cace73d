// Table tests for route selection (src/l7/engines/route-match.ts).
import t from 'tap'
import { matchRoute, parseQuery, type RequestHead } from '../../../src/l7/engines/route-match.js'
import type { HttpRoute } from '../../../src/mesh/waypoint-config.js'
import { exact, match, prefix, regex, route, segPrefix } from '../../helpers/waypoint-config.js'

const req = (r: Partial<RequestHead> = {}): RequestHead => ({
  method: 'GET',
  path: '/',
  authority: '10.96.0.10:9080',
  scheme: 'http',
  headers: {},
  ...r,
})

interface Row {
  name: string
  routes: HttpRoute[]
  req: Partial<RequestHead>
  /** Expected route name, or null for 404 NR. */
  want: string | null
}

const rows: Row[] = [
  { name: 'no routes → NR', routes: [], req: {}, want: null },
  { name: 'empty matches list matches all', routes: [route('all', [])], req: { path: '/anything?x=1' }, want: 'all' },
  {
    name: 'first match wins',
    routes: [route('a', [match({ path: prefix('/') })]), route('b', [match({ path: prefix('/') })])],
    req: {},
    want: 'a',
  },
  {
    name: 'later route when earlier misses',
    routes: [route('a', [match({ path: exact('/x') })]), route('b', [])],
    req: { path: '/y' },
    want: 'b',
  },
  {
    name: 'any of the matches',
    routes: [route('a', [match({ path: exact('/x') }), match({ path: exact('/y') })])],
    req: { path: '/y' },
    want: 'a',
  },
  // path forms
  {
    name: 'exact ignores the query string',
    routes: [route('a', [match({ path: exact('/login') })])],
    req: { path: '/login?next=/' },
    want: 'a',
  },
  { name: 'exact is exact', routes: [route('a', [match({ path: exact('/login') })])], req: { path: '/login/' }, want: null },
  {
    name: 'prefix is a plain prefix (/foo matches /foobar)',
    routes: [route('a', [match({ path: prefix('/foo') })])],
    req: { path: '/foobar' },
    want: 'a',
  },
  {
    name: 'exact case-sensitive by default',
    routes: [route('a', [match({ path: exact('/Login') })])],
    req: { path: '/login' },
    want: null,
  },
  {
    name: 'ignoreUriCase exact',
    routes: [route('a', [match({ path: exact('/Login'), ignoreUriCase: true })])],
    req: { path: '/LOGIN' },
    want: 'a',
  },
  {
    name: 'ignoreUriCase prefix',
    routes: [route('a', [match({ path: prefix('/API'), ignoreUriCase: true })])],
    req: { path: '/api/v1' },
    want: 'a',
  },
  {
    name: 'ignoreUriCase does not apply to regex',
    routes: [route('a', [match({ path: regex('/api/v[0-9]+'), ignoreUriCase: true })])],
    req: { path: '/API/v1' },
    want: null,
  },
  { name: 'regex is a full match', routes: [route('a', [match({ path: regex('/v[0-9]') })])], req: { path: '/v1/x' }, want: null },
  {
    name: 'regex full match without query',
    routes: [route('a', [match({ path: regex('/v[0-9]/.*') })])],
    req: { path: '/v1/x?q=1' },
    want: 'a',
  },
  {
    name: 'regex alternation anchored as a whole',
    routes: [route('a', [match({ path: regex('/a|/b') })])],
    req: { path: '/a/x' },
    want: null,
  },
  { name: 'RE2 (?i) flag', routes: [route('a', [match({ path: regex('(?i)/admin') })])], req: { path: '/ADMIN' }, want: 'a' },
  { name: 'invalid regex never matches', routes: [route('a', [match({ path: regex('/(') })])], req: { path: '/(' }, want: null },
  {
    name: 'segment prefix: /foo matches /foo',
    routes: [route('a', [match({ path: segPrefix('/foo') })])],
    req: { path: '/foo' },
    want: 'a',
  },
  {
    name: 'segment prefix: /foo matches /foo/bar',
    routes: [route('a', [match({ path: segPrefix('/foo') })])],
    req: { path: '/foo/bar' },
    want: 'a',
  },
  {
    name: 'segment prefix: /foo does not match /foobar',
    routes: [route('a', [match({ path: segPrefix('/foo') })])],
    req: { path: '/foobar' },
    want: null,
  },
  {
    name: 'segment prefix: /foo matches /foo?x',
    routes: [route('a', [match({ path: segPrefix('/foo') })])],
    req: { path: '/foo?x=1' },
    want: 'a',
  },
  {
    name: 'segment prefix: trailing slash ignored',
    routes: [route('a', [match({ path: segPrefix('/foo/') })])],
    req: { path: '/foo' },
    want: 'a',
  },
  { name: 'segment prefix: / matches all', routes: [route('a', [match({ path: segPrefix('/') })])], req: { path: '/x' }, want: 'a' },
  // method, authority, scheme
  { name: 'method exact', routes: [route('a', [match({ method: exact('POST') })])], req: { method: 'GET' }, want: null },
  { name: 'method regex', routes: [route('a', [match({ method: regex('GET|HEAD') })])], req: { method: 'HEAD' }, want: 'a' },
  {
    name: 'authority prefix',
    routes: [route('a', [match({ authority: prefix('reviews') })])],
    req: { authority: 'reviews:9080' },
    want: 'a',
  },
  { name: 'scheme', routes: [route('a', [match({ scheme: exact('https') })])], req: { scheme: 'http' }, want: null },
  // headers
  {
    name: 'header exact',
    routes: [route('a', [match({ headers: [{ name: 'end-user', match: exact('jason') }] })])],
    req: { headers: { 'end-user': 'jason' } },
    want: 'a',
  },
  {
    name: 'header exact mismatch',
    routes: [route('a', [match({ headers: [{ name: 'end-user', match: exact('jason') }] })])],
    req: { headers: { 'end-user': 'json' } },
    want: null,
  },
  { name: 'header absent', routes: [route('a', [match({ headers: [{ name: 'end-user', match: exact('jason') }] })])], req: {}, want: null },
  {
    name: 'header prefix',
    routes: [route('a', [match({ headers: [{ name: 'x-v', match: prefix('v2') }] })])],
    req: { headers: { 'x-v': 'v2-beta' } },
    want: 'a',
  },
  {
    name: 'header regex full',
    routes: [route('a', [match({ headers: [{ name: 'x-v', match: regex('v[0-9]') }] })])],
    req: { headers: { 'x-v': 'v2-beta' } },
    want: null,
  },
  {
    name: 'header presence (prefix "") present',
    routes: [route('a', [match({ headers: [{ name: 'x-debug', match: prefix('') }] })])],
    req: { headers: { 'x-debug': '' } },
    want: 'a',
  },
  {
    name: 'header presence absent',
    routes: [route('a', [match({ headers: [{ name: 'x-debug', match: prefix('') }] })])],
    req: {},
    want: null,
  },
  {
    name: 'repeated header joined with ,',
    routes: [route('a', [match({ headers: [{ name: 'x-v', match: exact('a,b') }] })])],
    req: { headers: { 'x-v': ['a', 'b'] } },
    want: 'a',
  },
  {
    name: 'all headers must match',
    routes: [
      route('a', [
        match({
          headers: [
            { name: 'x', match: exact('1') },
            { name: 'y', match: exact('2') },
          ],
        }),
      ]),
    ],
    req: { headers: { x: '1', y: '3' } },
    want: null,
  },
  // withoutHeaders (invert)
  {
    name: 'withoutHeaders: value differs → matches',
    routes: [route('a', [match({ withoutHeaders: [{ name: 'x-canary', match: exact('true') }] })])],
    req: { headers: { 'x-canary': 'false' } },
    want: 'a',
  },
  {
    name: 'withoutHeaders: value equal → no match',
    routes: [route('a', [match({ withoutHeaders: [{ name: 'x-canary', match: exact('true') }] })])],
    req: { headers: { 'x-canary': 'true' } },
    want: null,
  },
  {
    name: 'withoutHeaders: absent header with string matcher → no match (Envoy invert quirk)',
    routes: [route('a', [match({ withoutHeaders: [{ name: 'x-canary', match: exact('true') }] })])],
    req: {},
    want: null,
  },
  {
    name: 'withoutHeaders presence: absent → matches',
    routes: [route('a', [match({ withoutHeaders: [{ name: 'x-canary', match: prefix('') }] })])],
    req: {},
    want: 'a',
  },
  {
    name: 'withoutHeaders presence: present → no match',
    routes: [route('a', [match({ withoutHeaders: [{ name: 'x-canary', match: prefix('') }] })])],
    req: { headers: { 'x-canary': '1' } },
    want: null,
  },
  // query params
  {
    name: 'query exact',
    routes: [route('a', [match({ queryParams: [{ name: 'v', match: exact('2') }] })])],
    req: { path: '/p?a=1&v=2' },
    want: 'a',
  },
  {
    name: 'query first value wins',
    routes: [route('a', [match({ queryParams: [{ name: 'v', match: exact('2') }] })])],
    req: { path: '/p?v=1&v=2' },
    want: null,
  },
  {
    name: 'query decoded',
    routes: [route('a', [match({ queryParams: [{ name: 'q', match: exact('a b') }] })])],
    req: { path: '/p?q=a%20b' },
    want: 'a',
  },
  {
    name: 'query regex',
    routes: [route('a', [match({ queryParams: [{ name: 'id', match: regex('[0-9]+') }] })])],
    req: { path: '/p?id=42' },
    want: 'a',
  },
  {
    name: 'query absent',
    routes: [route('a', [match({ queryParams: [{ name: 'id', match: regex('.*') }] })])],
    req: { path: '/p' },
    want: null,
  },
  {
    name: 'query names are case-sensitive',
    routes: [route('a', [match({ queryParams: [{ name: 'id', match: exact('1') }] })])],
    req: { path: '/p?ID=1' },
    want: null,
  },
  // combined: seed canary by header then default
  {
    name: 'header route before catch-all',
    routes: [route('jason', [match({ headers: [{ name: 'end-user', match: exact('jason') }] })]), route('default', [])],
    req: { headers: { 'end-user': 'jason' } },
    want: 'jason',
  },
]

for (const row of rows) {
  t.test(row.name, async (t) => {
    const d = matchRoute(row.routes, req(row.req))
    if (row.want === null) {
      t.equal(d.kind, 'noRoute')
      if (d.kind === 'noRoute') t.same(d.reply, { status: 404, body: '', responseFlag: 'NR' })
    } else {
      t.equal(d.kind, 'route')
      if (d.kind === 'route') t.equal(d.route.name, row.want)
    }
  })
}

t.test('decision carries the selecting match and why others missed', async (t) => {
  const routes = [route('a', [match({ method: exact('POST') })]), route('b', [match({ path: prefix('/api') })])]
  const hit = matchRoute(routes, req({ path: '/api/x' }))
  t.equal(hit.kind, 'route')
  if (hit.kind === 'route') {
    t.equal(hit.routeIndex, 1)
    t.equal(hit.matchIndex, 0)
    t.same(hit.pathMatch, prefix('/api'))
  }
  const miss = matchRoute(routes, req({ path: '/other' }))
  t.equal(miss.kind, 'noRoute')
  if (miss.kind === 'noRoute')
    t.same(miss.misses, [
      { route: 'a', field: 'method' },
      { route: 'b', field: 'path' },
    ])
})

t.test('parseQuery', async (t) => {
  t.same(
    [...parseQuery('/p?a=1&b&c=%2F&a=2#frag')],
    [
      ['a', '1'],
      ['b', ''],
      ['c', '/'],
    ],
  )
  t.same([...parseQuery('/p')], [])
  t.same([...parseQuery('/p?bad=%E0%A4%A')], [['bad', '%E0%A4%A']])
})
