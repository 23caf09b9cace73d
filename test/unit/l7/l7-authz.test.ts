// Table tests for L7 authorization at the waypoint (src/l7/engines/l7-authz.ts), including
// the seed's `allow-reviews` and `deny-all` (§3.3) as a waypoint enforces them.
import t from 'tap'
import { applicablePolicies, authorizeRequest, pathMatches, type L7RequestFacts } from '../../../src/l7/engines/l7-authz.js'
import type { L7AuthorizationPolicy } from '../../../src/mesh/waypoint-config.js'
import { operation, policy, rule, source } from '../../helpers/waypoint-config.js'

const PRODUCTPAGE = 'cluster.local/ns/default/sa/bookinfo-productpage'
const facts = (f: Partial<L7RequestFacts> = {}): L7RequestFacts => ({
  method: 'GET',
  path: '/reviews/0',
  host: 'reviews:9080',
  headers: {},
  sourcePrincipal: PRODUCTPAGE,
  sourceNamespace: 'default',
  sourceIp: '10.244.1.5',
  destinationPort: 9080,
  ...f,
})

// The seed's policies as istiod normalises them.
const ALLOW_REVIEWS = policy('allow-reviews', 'ALLOW', [
  rule({ from: [source({ principals: [PRODUCTPAGE] })], to: [operation({ methods: ['GET'], paths: ['/reviews/*'] })] }),
])
const DENY_ALL = policy('deny-all', 'ALLOW', [])

type Want = 'allow' | 'deny'
const rows: {
  name: string
  policies: L7AuthorizationPolicy[]
  f?: Partial<L7RequestFacts>
  want: Want
  by?: string | null
  reason?: RegExp
}[] = [
  { name: 'no policies → allow', policies: [], want: 'allow', by: null },
  // seed allow-reviews
  { name: 'allow-reviews: GET /reviews/0 from productpage', policies: [ALLOW_REVIEWS], want: 'allow', by: 'allow-reviews' },
  { name: 'allow-reviews: query string ignored', policies: [ALLOW_REVIEWS], f: { path: '/reviews/0?x=1' }, want: 'allow' },
  { name: 'allow-reviews: POST denied', policies: [ALLOW_REVIEWS], f: { method: 'POST' }, want: 'deny', reason: /none allowed/ },
  { name: 'allow-reviews: /ratings denied', policies: [ALLOW_REVIEWS], f: { path: '/ratings/0' }, want: 'deny' },
  { name: 'allow-reviews: /reviews (no slash) denied', policies: [ALLOW_REVIEWS], f: { path: '/reviews' }, want: 'deny' },
  {
    name: 'allow-reviews: other principal denied',
    policies: [ALLOW_REVIEWS],
    f: { sourcePrincipal: 'cluster.local/ns/default/sa/sleep' },
    want: 'deny',
  },
  {
    name: 'allow-reviews: no peer identity denied',
    policies: [ALLOW_REVIEWS],
    f: { sourcePrincipal: null, sourceNamespace: null },
    want: 'deny',
  },
  // seed deny-all
  {
    name: 'deny-all (spec: {}) denies everything',
    policies: [DENY_ALL],
    want: 'deny',
    by: null,
    reason: /default\/deny-all has no rules and allow nothing/,
  },
  { name: 'deny-all + allow-reviews: the allowed request passes', policies: [DENY_ALL, ALLOW_REVIEWS], want: 'allow', by: 'allow-reviews' },
  { name: 'deny-all + allow-reviews: others denied', policies: [DENY_ALL, ALLOW_REVIEWS], f: { method: 'DELETE' }, want: 'deny' },
  // precedence
  {
    name: 'DENY beats ALLOW',
    policies: [ALLOW_REVIEWS, policy('no-get', 'DENY', [rule({ to: [operation({ methods: ['GET'] })] })])],
    want: 'deny',
    by: 'no-get',
  },
  { name: 'rules: [{}] matches everything', policies: [policy('all', 'DENY', [rule()])], want: 'deny', by: 'all' },
  { name: 'DENY with no rules matches nothing', policies: [policy('none', 'DENY', [])], want: 'allow' },
  {
    name: 'CUSTOM matching → deny (fail closed)',
    policies: [policy('ext', 'CUSTOM', [rule({ to: [operation({ paths: ['/admin/*'] })] })], { provider: 'opa' })],
    f: { path: '/admin/x' },
    want: 'deny',
    by: 'ext',
    reason: /not supported.*fail closed/,
  },
  {
    name: 'CUSTOM not matching → no effect',
    policies: [policy('ext', 'CUSTOM', [rule({ to: [operation({ paths: ['/admin/*'] })] })], { provider: 'opa' })],
    want: 'allow',
  },
  { name: 'CUSTOM before DENY', policies: [policy('d', 'DENY', [rule()]), policy('ext', 'CUSTOM', [rule()])], want: 'deny', by: 'ext' },
  { name: 'AUDIT never decides', policies: [policy('audit', 'AUDIT', [rule()])], want: 'allow', by: null },
  { name: 'dry-run DENY does not deny', policies: [policy('d', 'DENY', [rule()], { dryRun: true })], want: 'allow' },
  { name: 'dry-run ALLOW does not make ALLOW mode', policies: [policy('a', 'ALLOW', [], { dryRun: true })], want: 'allow' },
  // sources
  {
    name: 'principal prefix form',
    policies: [policy('a', 'ALLOW', [rule({ from: [source({ principals: ['cluster.local/ns/default/*'] })] })])],
    want: 'allow',
  },
  {
    name: 'principal with spiffe:// never matches',
    policies: [policy('a', 'ALLOW', [rule({ from: [source({ principals: [`spiffe://${PRODUCTPAGE}`] })] })])],
    want: 'deny',
  },
  {
    name: 'principals * needs an identity',
    policies: [policy('a', 'ALLOW', [rule({ from: [source({ principals: ['*'] })] })])],
    f: { sourcePrincipal: null },
    want: 'deny',
  },
  {
    name: 'DENY notPrincipals [*] denies requests without identity (Istio idiom)',
    policies: [policy('d', 'DENY', [rule({ from: [source({ notPrincipals: ['*'] })] })])],
    f: { sourcePrincipal: null },
    want: 'deny',
    by: 'd',
  },
  {
    name: 'DENY notPrincipals [*] lets identified peers through',
    policies: [policy('d', 'DENY', [rule({ from: [source({ notPrincipals: ['*'] })] })])],
    want: 'allow',
  },
  {
    name: 'DENY notPrincipals: any other peer is denied',
    policies: [policy('d', 'DENY', [rule({ from: [source({ notPrincipals: [PRODUCTPAGE] })] })])],
    f: { sourcePrincipal: 'cluster.local/ns/x/sa/y' },
    want: 'deny',
  },
  {
    name: 'namespaces',
    policies: [policy('a', 'ALLOW', [rule({ from: [source({ namespaces: ['bookinfo', 'default'] })] })])],
    want: 'allow',
  },
  {
    name: 'notNamespaces',
    policies: [policy('d', 'DENY', [rule({ from: [source({ notNamespaces: ['default'] })] })])],
    f: { sourceNamespace: 'other' },
    want: 'deny',
  },
  { name: 'ipBlocks CIDR', policies: [policy('a', 'ALLOW', [rule({ from: [source({ ipBlocks: ['10.244.0.0/16'] })] })])], want: 'allow' },
  { name: 'ipBlocks bare IP', policies: [policy('a', 'ALLOW', [rule({ from: [source({ ipBlocks: ['10.244.1.6'] })] })])], want: 'deny' },
  {
    name: 'notIpBlocks',
    policies: [policy('d', 'DENY', [rule({ from: [source({ notIpBlocks: ['10.0.0.0/8'] })] })])],
    f: { sourceIp: '192.168.1.1' },
    want: 'deny',
  },
  {
    name: 'remoteIpBlocks default to source IP',
    policies: [policy('a', 'ALLOW', [rule({ from: [source({ remoteIpBlocks: ['10.244.1.5'] })] })])],
    want: 'allow',
  },
  {
    name: 'remoteIpBlocks use remoteIp',
    policies: [policy('a', 'ALLOW', [rule({ from: [source({ remoteIpBlocks: ['203.0.113.0/24'] })] })])],
    f: { remoteIp: '203.0.113.7' },
    want: 'allow',
  },
  {
    name: 'serviceAccounts ns/sa',
    policies: [policy('a', 'ALLOW', [rule({ from: [source({ serviceAccounts: ['default/bookinfo-productpage'] })] })])],
    want: 'allow',
  },
  {
    name: 'serviceAccounts other',
    policies: [policy('a', 'ALLOW', [rule({ from: [source({ serviceAccounts: ['default/sleep'] })] })])],
    want: 'deny',
  },
  {
    name: 'requestPrincipals need a JWT',
    policies: [policy('a', 'ALLOW', [rule({ from: [source({ requestPrincipals: ['*'] })] })])],
    want: 'deny',
  },
  {
    name: 'requestPrincipals with a JWT',
    policies: [policy('a', 'ALLOW', [rule({ from: [source({ requestPrincipals: ['https://issuer/*'] })] })])],
    f: { requestPrincipal: 'https://issuer/alice' },
    want: 'allow',
  },
  {
    name: 'any of several sources',
    policies: [policy('a', 'ALLOW', [rule({ from: [source({ namespaces: ['x'] }), source({ principals: [PRODUCTPAGE] })] })])],
    want: 'allow',
  },
  { name: 'empty source matches nothing', policies: [policy('d', 'DENY', [rule({ from: [source()] })])], want: 'allow' },
  // operations
  {
    name: 'hosts case-insensitive',
    policies: [policy('a', 'ALLOW', [rule({ to: [operation({ hosts: ['Reviews:9080'] })] })])],
    want: 'allow',
  },
  {
    name: 'hosts without port do not match host:port',
    policies: [policy('a', 'ALLOW', [rule({ to: [operation({ hosts: ['reviews'] })] })])],
    want: 'deny',
  },
  {
    name: 'hosts prefix form covers ports',
    policies: [policy('a', 'ALLOW', [rule({ to: [operation({ hosts: ['reviews:*'] })] })])],
    want: 'allow',
  },
  {
    name: 'hosts suffix form',
    policies: [policy('a', 'ALLOW', [rule({ to: [operation({ hosts: ['*.svc.cluster.local'] })] })])],
    f: { host: 'REVIEWS.default.svc.cluster.local' },
    want: 'allow',
  },
  {
    name: 'notHosts',
    policies: [policy('d', 'DENY', [rule({ to: [operation({ notHosts: ['reviews:*'] })] })])],
    f: { host: 'evil' },
    want: 'deny',
  },
  { name: 'ports', policies: [policy('a', 'ALLOW', [rule({ to: [operation({ ports: [9080] })] })])], want: 'allow' },
  {
    name: 'notPorts',
    policies: [policy('d', 'DENY', [rule({ to: [operation({ notPorts: [9080] })] })])],
    f: { destinationPort: 8080 },
    want: 'deny',
  },
  {
    name: 'unparsable port (-1) matches nothing',
    policies: [policy('a', 'ALLOW', [rule({ to: [operation({ ports: [-1] })] })])],
    want: 'deny',
  },
  { name: 'methods are case-sensitive', policies: [policy('a', 'ALLOW', [rule({ to: [operation({ methods: ['get'] })] })])], want: 'deny' },
  {
    name: 'notMethods',
    policies: [policy('d', 'DENY', [rule({ to: [operation({ notMethods: ['GET', 'HEAD'] })] })])],
    f: { method: 'PUT' },
    want: 'deny',
  },
  {
    name: 'paths exact',
    policies: [policy('a', 'ALLOW', [rule({ to: [operation({ paths: ['/healthz'] })] })])],
    f: { path: '/healthz' },
    want: 'allow',
  },
  {
    name: 'paths suffix',
    policies: [policy('a', 'ALLOW', [rule({ to: [operation({ paths: ['*/info'] })] })])],
    f: { path: '/api/info' },
    want: 'allow',
  },
  { name: 'paths presence', policies: [policy('a', 'ALLOW', [rule({ to: [operation({ paths: ['*'] })] })])], want: 'allow' },
  {
    name: 'notPaths',
    policies: [policy('d', 'DENY', [rule({ to: [operation({ notPaths: ['/public/*'] })] })])],
    f: { path: '/private' },
    want: 'deny',
  },
  {
    name: 'paths template {*}',
    policies: [policy('a', 'ALLOW', [rule({ to: [operation({ paths: ['/reviews/{*}/stars'] })] })])],
    f: { path: '/reviews/7/stars' },
    want: 'allow',
  },
  { name: 'empty operation matches nothing', policies: [policy('d', 'DENY', [rule({ to: [operation()] })])], want: 'allow' },
  {
    name: 'from and to must both match',
    policies: [policy('a', 'ALLOW', [rule({ from: [source({ namespaces: ['default'] })], to: [operation({ methods: ['POST'] })] })])],
    want: 'deny',
  },
  // when
  {
    name: 'when header value',
    policies: [policy('a', 'ALLOW', [rule({ when: [{ key: 'request.headers[X-Token]', values: ['abc*'], notValues: [] }] })])],
    f: { headers: { 'x-token': 'abcdef' } },
    want: 'allow',
  },
  {
    name: 'when header absent',
    policies: [policy('a', 'ALLOW', [rule({ when: [{ key: 'request.headers[x-token]', values: ['*'], notValues: [] }] })])],
    want: 'deny',
  },
  {
    name: 'when header notValues',
    policies: [policy('d', 'DENY', [rule({ when: [{ key: 'request.headers[user-agent]', values: [], notValues: ['curl/*'] }] })])],
    f: { headers: { 'user-agent': 'wget' } },
    want: 'deny',
  },
  {
    name: 'when source.principal',
    policies: [policy('a', 'ALLOW', [rule({ when: [{ key: 'source.principal', values: [PRODUCTPAGE], notValues: [] }] })])],
    want: 'allow',
  },
  {
    name: 'when source.namespace',
    policies: [policy('a', 'ALLOW', [rule({ when: [{ key: 'source.namespace', values: ['other'], notValues: [] }] })])],
    want: 'deny',
  },
  {
    name: 'when source.ip CIDR',
    policies: [policy('a', 'ALLOW', [rule({ when: [{ key: 'source.ip', values: ['10.244.0.0/16'], notValues: [] }] })])],
    want: 'allow',
  },
  {
    name: 'when destination.port',
    policies: [policy('a', 'ALLOW', [rule({ when: [{ key: 'destination.port', values: ['9080'], notValues: [] }] })])],
    want: 'allow',
  },
  {
    name: 'when all conditions must hold',
    policies: [
      policy('a', 'ALLOW', [
        rule({
          when: [
            { key: 'destination.port', values: ['9080'], notValues: [] },
            { key: 'source.namespace', values: ['x'], notValues: [] },
          ],
        }),
      ]),
    ],
    want: 'deny',
  },
  {
    name: 'when request.auth.claims without JWT',
    policies: [policy('a', 'ALLOW', [rule({ when: [{ key: 'request.auth.claims[groups]', values: ['admin'], notValues: [] }] })])],
    want: 'deny',
  },
  {
    name: 'unknown when key in ALLOW fails closed',
    policies: [policy('a', 'ALLOW', [rule({ when: [{ key: 'bogus.key', values: ['x'], notValues: [] }] })])],
    want: 'deny',
  },
  {
    name: 'unknown when key in DENY fails closed',
    policies: [policy('d', 'DENY', [rule({ when: [{ key: 'bogus.key', values: ['x'], notValues: [] }] })])],
    want: 'deny',
    by: 'd',
  },
]

for (const r of rows) {
  t.test(r.name, async (t) => {
    const d = authorizeRequest(r.policies, facts(r.f))
    t.equal(d.kind, r.want, d.reason)
    if (r.by !== undefined) t.equal(d.policy?.name ?? null, r.by)
    if (r.reason) t.match(d.reason, r.reason)
    if (d.kind === 'deny') t.same(d.reply, { status: 403, body: 'RBAC: access denied', responseFlag: 'RBAC' })
  })
}

t.test('logs: AUDIT, CUSTOM and dry-run entries', async (t) => {
  const d = authorizeRequest(
    [
      policy('audit', 'AUDIT', [rule()]),
      policy('shadow', 'DENY', [rule()], { dryRun: true }),
      policy('ext', 'CUSTOM', [rule()], { provider: 'opa' }),
    ],
    facts(),
  )
  t.equal(d.kind, 'deny')
  t.same(
    d.logs.map((l) => [l.kind, l.policy.name]),
    [
      ['audit', 'audit'],
      ['dry-run', 'shadow'],
      ['custom-unsupported', 'ext'],
    ],
  )
  t.match(d.logs[1]!.message, /would deny/)
})

t.test('traces say why each rule missed (for explain)', async (t) => {
  const d = authorizeRequest([ALLOW_REVIEWS], facts({ method: 'POST' }))
  const tr = d.traces.find((x) => x.policy.name === 'allow-reviews')
  t.equal(tr?.matchedRule, null)
  t.match(tr?.misses[0], /rule 0: to: methods \[GET\] did not match POST/)
})

t.test('applicablePolicies: waypoint-wide first, then the Service', async (t) => {
  const w = policy('w', 'ALLOW', [])
  const s = policy('s', 'DENY', [])
  t.same(
    applicablePolicies({ authorization: [w] }, { authorization: [s] }).map((p) => p.name),
    ['w', 's'],
  )
  t.same(
    applicablePolicies({ authorization: [w] }, null).map((p) => p.name),
    ['w'],
  )
})

t.test('pathMatches templates', async (t) => {
  t.ok(pathMatches('/a/{*}', '/a/b'))
  t.notOk(pathMatches('/a/{*}', '/a/b/c'))
  t.ok(pathMatches('/a/{**}', '/a/b/c'))
  t.notOk(pathMatches('/a/{*}/c', '/a//c'))
  t.ok(pathMatches('/x.y/{*}', '/x.y/z'))
  t.notOk(pathMatches('/x.y/{*}', '/xzy/z'))
})
