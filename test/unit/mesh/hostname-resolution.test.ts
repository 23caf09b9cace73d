import t from 'tap'
import { resolveServiceHostname, searchCandidates, type HostnameResolutionInput } from '../../../src/mesh/hostname-resolution.js'
import type { Service } from '../../../src/mesh/types.js'

function service(name: string, namespace: string, addresses: string[], hostname = `${name}.${namespace}.svc.cluster.local`): Service {
  return Object.freeze({ name, namespace, hostname, addresses, ports: [], subjectAltNames: [], waypoint: undefined })
}

const reviews = service('reviews', 'default', ['127.96.0.10'])
const ratingsDual = service('ratings', 'default', ['fd00::20', '127.96.0.20'])
const reviewsOther = service('reviews', 'other', ['127.96.1.10'])
const headless = service('db', 'default', [])
const v6only = service('v6', 'default', ['fd00::30'])
// The same external host declared by ServiceEntries in two namespaces.
const apiInB = service('api', 'b', ['127.96.2.2'], 'api.example.com')
const apiInA = service('api', 'a', ['127.96.2.1'], 'api.example.com')
const apiInDefault = service('api', 'default', ['127.96.2.3'], 'api.example.com')
const custom = service('reviews', 'default', ['127.96.9.10'], 'reviews.default.svc.corp.internal')

function lookupOf(services: readonly Service[]): (hostname: string) => readonly Service[] {
  return (hostname) => services.filter((s) => s.hostname === hostname)
}
const mesh = lookupOf([reviews, ratingsDual, reviewsOther, headless, v6only, apiInB, apiInA, custom])

interface Row {
  readonly name: string
  readonly input: Omit<HostnameResolutionInput, 'lookup'> & { lookup?: HostnameResolutionInput['lookup'] }
  readonly want:
    | { kind: 'service'; key: string; vip: string | undefined; hostname: string }
    | { kind: 'ip'; ip: string }
    | { kind: 'not-found'; tried: string[] }
}

const FQDN = 'reviews.default.svc.cluster.local'
const rows: Row[] = [
  {
    name: 'short name from its namespace',
    input: { name: 'reviews', sourceNamespace: 'default' },
    want: { kind: 'service', key: 'default/reviews', vip: '127.96.0.10', hostname: FQDN },
  },
  {
    name: "short name from another namespace finds that namespace's service",
    input: { name: 'reviews', sourceNamespace: 'other' },
    want: { kind: 'service', key: 'other/reviews', vip: '127.96.1.10', hostname: 'reviews.other.svc.cluster.local' },
  },
  {
    name: 'name.namespace',
    input: { name: 'reviews.default', sourceNamespace: 'other' },
    want: { kind: 'service', key: 'default/reviews', vip: '127.96.0.10', hostname: FQDN },
  },
  {
    name: 'name.namespace.svc',
    input: { name: 'reviews.default.svc', sourceNamespace: 'other' },
    want: { kind: 'service', key: 'default/reviews', vip: '127.96.0.10', hostname: FQDN },
  },
  {
    name: 'fully qualified',
    input: { name: FQDN, sourceNamespace: 'other' },
    want: { kind: 'service', key: 'default/reviews', vip: '127.96.0.10', hostname: FQDN },
  },
  {
    name: 'fully qualified, absolute (trailing dot)',
    input: { name: `${FQDN}.`, sourceNamespace: 'other' },
    want: { kind: 'service', key: 'default/reviews', vip: '127.96.0.10', hostname: FQDN },
  },
  {
    name: 'case-insensitive',
    input: { name: 'Reviews.DEFAULT', sourceNamespace: 'x' },
    want: { kind: 'service', key: 'default/reviews', vip: '127.96.0.10', hostname: FQDN },
  },
  {
    name: 'IPv4 literal passes through',
    input: { name: '127.96.0.10', sourceNamespace: 'default' },
    want: { kind: 'ip', ip: '127.96.0.10' },
  },
  {
    name: 'IPv6 literal passes through, canonical',
    input: { name: 'FD00:0:0::1', sourceNamespace: 'default' },
    want: { kind: 'ip', ip: 'fd00::1' },
  },
  {
    name: 'dual-stack: IPv4 VIP by default',
    input: { name: 'ratings', sourceNamespace: 'default' },
    want: { kind: 'service', key: 'default/ratings', vip: '127.96.0.20', hostname: 'ratings.default.svc.cluster.local' },
  },
  {
    name: 'dual-stack: IPv6 VIP when asked',
    input: { name: 'ratings', sourceNamespace: 'default', family: 'ipv6' },
    want: { kind: 'service', key: 'default/ratings', vip: 'fd00::20', hostname: 'ratings.default.svc.cluster.local' },
  },
  {
    name: 'IPv6-only service still has a VIP for an IPv4 client',
    input: { name: 'v6', sourceNamespace: 'default' },
    want: { kind: 'service', key: 'default/v6', vip: 'fd00::30', hostname: 'v6.default.svc.cluster.local' },
  },
  {
    name: 'headless service: no VIP',
    input: { name: 'db', sourceNamespace: 'default' },
    want: { kind: 'service', key: 'default/db', vip: undefined, hostname: 'db.default.svc.cluster.local' },
  },
  {
    name: 'external host, several namespaces: lowest namespace wins',
    input: { name: 'api.example.com', sourceNamespace: 'default' },
    want: { kind: 'service', key: 'a/api', vip: '127.96.2.1', hostname: 'api.example.com' },
  },
  {
    name: 'external host, several namespaces: own namespace wins',
    input: { name: 'api.example.com', sourceNamespace: 'default', lookup: lookupOf([apiInB, apiInA, apiInDefault]) },
    want: { kind: 'service', key: 'default/api', vip: '127.96.2.3', hostname: 'api.example.com' },
  },
  {
    name: 'custom cluster domain',
    input: { name: 'reviews', sourceNamespace: 'default', clusterDomain: 'corp.internal' },
    want: { kind: 'service', key: 'default/reviews', vip: '127.96.9.10', hostname: 'reviews.default.svc.corp.internal' },
  },
  {
    name: 'unknown short name: every candidate tried, search list first',
    input: { name: 'nope', sourceNamespace: 'default' },
    want: { kind: 'not-found', tried: ['nope.default.svc.cluster.local', 'nope.svc.cluster.local', 'nope.cluster.local', 'nope'] },
  },
  {
    name: 'a short name does not find a service of another namespace',
    input: { name: 'ratings', sourceNamespace: 'other' },
    want: {
      kind: 'not-found',
      tried: ['ratings.other.svc.cluster.local', 'ratings.svc.cluster.local', 'ratings.cluster.local', 'ratings'],
    },
  },
  {
    name: 'absolute short name is tried only as is',
    input: { name: 'reviews.', sourceNamespace: 'default' },
    want: { kind: 'not-found', tried: ['reviews'] },
  },
  { name: 'empty name', input: { name: '', sourceNamespace: 'default' }, want: { kind: 'not-found', tried: [] } },
  { name: 'empty label', input: { name: 'reviews..default', sourceNamespace: 'default' }, want: { kind: 'not-found', tried: [] } },
]

for (const row of rows) {
  t.test(row.name, async (t) => {
    const got = resolveServiceHostname({ lookup: mesh, ...row.input })
    switch (got.kind) {
      case 'service':
        t.same({ kind: got.kind, key: `${got.service.namespace}/${got.service.name}`, vip: got.vip, hostname: got.hostname }, row.want)
        t.equal(got.tried.at(-1), got.hostname, 'tried ends at the match')
        break
      case 'ip':
        t.same(got, row.want)
        break
      case 'not-found':
        t.same({ kind: got.kind, tried: got.tried }, row.want)
        t.equal(got.name, row.input.name, 'reports the name as asked')
        break
    }
  })
}

t.test('search order follows ndots 5', async (t) => {
  t.same(
    searchCandidates('a.b.c.d', 'ns', 'cluster.local'),
    ['a.b.c.d.ns.svc.cluster.local', 'a.b.c.d.svc.cluster.local', 'a.b.c.d.cluster.local', 'a.b.c.d'],
    '3 dots: search list first',
  )
  t.same(
    searchCandidates('a.b.c.d.e.f', 'ns', 'cluster.local'),
    ['a.b.c.d.e.f', 'a.b.c.d.e.f.ns.svc.cluster.local', 'a.b.c.d.e.f.svc.cluster.local', 'a.b.c.d.e.f.cluster.local'],
    '5 dots: as is first',
  )
  t.same(searchCandidates('x.', 'ns', 'cluster.local'), ['x'], 'absolute')
})

t.test('a fully qualified name resolves after the search-list misses, as in a pod', async (t) => {
  const got = resolveServiceHostname({ name: FQDN, sourceNamespace: 'default', lookup: mesh })
  t.same(got.kind === 'service' ? got.tried : [], [
    `${FQDN}.default.svc.cluster.local`,
    `${FQDN}.svc.cluster.local`,
    `${FQDN}.cluster.local`,
    FQDN,
  ])
})
