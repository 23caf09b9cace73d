// Table tests for what ztunnel's DNS proxy answers itself (src/ztunnel/dns/resolver.ts), after
// istio/ztunnel's own lookup cases: Kubernetes short names in the *client's* namespace, search
// domains stripped (CNAME then address), wildcards, the client's namespace winning, headless
// Services, the client's network, families, and what is left to the upstream.
import t from 'tap'
import { DnsClass, DnsType } from '../../../src/ztunnel/dns/message.js'
import { dnsCandidates, resolveDnsQuestion, wildcards, type DnsDecision } from '../../../src/ztunnel/dns/resolver.js'
import { meshView, service, workload } from '../../helpers/mesh-view.js'

const clientDefault = workload({ name: 'curl', addresses: ['10.244.1.1'] })
const clientNs2 = workload({ name: 'sleep', namespace: 'ns2', addresses: ['10.244.1.2'] })
const clientNw2 = workload({ name: 'far', addresses: ['10.244.9.1'], network: 'nw2' })

const mesh = meshView({
  workloads: [
    clientDefault,
    clientNs2,
    clientNw2,
    workload({
      name: 'db-0',
      addresses: ['10.244.2.1', 'fd00::2:1'],
      services: { 'default/db.default.svc.cluster.local': [[5432, 5432]] },
    }),
    workload({ name: 'db-1', addresses: ['10.244.2.2'], services: { 'default/db.default.svc.cluster.local': [[5432, 5432]] } }),
    workload({
      name: 'db-2',
      addresses: ['10.244.2.3'],
      status: 'UNHEALTHY',
      services: { 'default/db.default.svc.cluster.local': [[5432, 5432]] },
    }),
  ],
  services: [
    service({ name: 'reviews', addresses: ['10.96.0.5'] }),
    service({ name: 'ratings', namespace: 'ns2', addresses: ['10.96.0.6'] }),
    service({ name: 'dual', addresses: ['10.96.0.7', 'fd00::7'] }),
    service({ name: 'v6only', addresses: ['fd00::8'] }),
    service({ name: 'db', addresses: [] }),
    service({ name: 'remote', addresses: ['10.96.9.9'], network: 'nw2' }),
    // ServiceEntry-like hosts.
    service({ name: 'httpbin', namespace: 'ns2', hostname: 'httpbin.org', addresses: ['240.240.0.1'] }),
    service({ name: 'httpbin', namespace: 'default', hostname: 'httpbin.org', addresses: ['240.240.0.2'] }),
    service({ name: 'shared', namespace: 'zz', hostname: 'shared.example.com', addresses: ['240.240.0.3'] }),
    service({ name: 'shared', namespace: 'aa', hostname: 'shared.example.com', addresses: ['240.240.0.4'] }),
    service({ name: 'wild', hostname: '*.wild.example', addresses: ['240.240.0.5'] }),
    service({ name: 'wild-b', hostname: '*.b.wild.example', addresses: ['240.240.0.6'] }),
    service({ name: 'novip', hostname: 'novip.example.com', addresses: [] }),
    service({ name: 'corp', hostname: 'corp.default.svc.corp.example', addresses: ['10.96.0.9'] }),
  ],
})

interface Row {
  readonly name: string
  readonly host: string
  readonly type?: number
  readonly client?: typeof clientDefault | undefined
  readonly clusterDomain?: string
  /** `A 1.2.3.4 @owner`, `CNAME target @owner`, or a decision kind with its reason. */
  readonly want: readonly string[] | { readonly kind: 'forward' | 'servfail'; readonly reason: string; readonly service?: string }
}

function summarize(d: DnsDecision): Row['want'] {
  switch (d.kind) {
    case 'answer':
      return d.records.map((r) => {
        const data = r.data.kind === 'cname' ? r.data.target : r.data.kind === 'raw' ? '?' : r.data.address
        return `${r.type === DnsType.A ? 'A' : r.type === DnsType.AAAA ? 'AAAA' : 'CNAME'} ${data} @${r.name}`
      })
    case 'forward':
      return { kind: d.kind, reason: d.reason, ...(d.service ? { service: d.service.hostname } : {}) }
    case 'servfail':
      return { kind: d.kind, reason: d.reason }
  }
}

const fwd = { kind: 'forward', reason: 'not-found' } as const
const rows: Row[] = [
  // Kubernetes forms, client in `default`.
  { name: 'short name in the client namespace', host: 'reviews', want: ['A 10.96.0.5 @reviews'] },
  { name: 'short name with a trailing dot', host: 'reviews.', want: ['A 10.96.0.5 @reviews.'] },
  { name: 'name.namespace', host: 'reviews.default', want: ['A 10.96.0.5 @reviews.default'] },
  { name: 'name.namespace.svc', host: 'reviews.default.svc', want: ['A 10.96.0.5 @reviews.default.svc'] },
  { name: 'the FQDN', host: 'reviews.default.svc.cluster.local', want: ['A 10.96.0.5 @reviews.default.svc.cluster.local'] },
  { name: 'case does not matter; the owner keeps the asked case', host: 'Reviews.DEFAULT', want: ['A 10.96.0.5 @Reviews.DEFAULT'] },
  { name: 'another namespace by name.namespace', host: 'ratings.ns2', want: ['A 10.96.0.6 @ratings.ns2'] },
  { name: 'another namespace by FQDN', host: 'ratings.ns2.svc.cluster.local', want: ['A 10.96.0.6 @ratings.ns2.svc.cluster.local'] },
  { name: 'a short name of another namespace is not ours: forwarded', host: 'ratings', want: fwd },
  { name: 'the same short name from that namespace is', host: 'ratings', client: clientNs2, want: ['A 10.96.0.6 @ratings'] },
  { name: 'the client namespace decides the short name: reviews from ns2 → forwarded', host: 'reviews', client: clientNs2, want: fwd },
  { name: 'name.svc is no Kubernetes form', host: 'reviews.svc', want: fwd },
  { name: 'wrong cluster domain', host: 'reviews.default.svc.cluster.remote', want: fwd },
  { name: 'a configured cluster domain: short name', host: 'corp', clusterDomain: 'corp.example', want: ['A 10.96.0.9 @corp'] },
  {
    name: 'a configured cluster domain: name.namespace.svc',
    host: 'corp.default.svc',
    clusterDomain: 'corp.example',
    want: ['A 10.96.0.9 @corp.default.svc'],
  },
  {
    name: 'a configured cluster domain, written with a trailing dot',
    host: 'corp.default',
    clusterDomain: 'corp.example.',
    want: ['A 10.96.0.9 @corp.default'],
  },
  { name: 'cluster.local names do not expand under another cluster domain', host: 'reviews', clusterDomain: 'corp.example', want: fwd },
  // Search domains appended by the pod's resolver (ndots:5) are stripped: CNAME, then the address.
  {
    name: 'FQDN with the first search domain appended',
    host: 'reviews.default.svc.cluster.local.default.svc.cluster.local',
    want: [
      'CNAME reviews.default.svc.cluster.local @reviews.default.svc.cluster.local.default.svc.cluster.local',
      'A 10.96.0.5 @reviews.default.svc.cluster.local',
    ],
  },
  // A name already fully qualified is answered once: as asked when it is written with its final dot
  // (the resolver appends nothing), and with one CNAME to the FQDN itself when the pod's resolver
  // appended a search domain (ndots:5) — never a target or owner that carries the suffix again.
  // Istio's ztunnel answers the same (its lookup table: `productpage.ns1.ns1.svc.cluster.local.` →
  // CNAME `productpage.ns1.` + A; the search domain trimmed, the rest used as written).
  {
    name: 'the FQDN with its final dot: as asked, no CNAME',
    host: 'reviews.default.svc.cluster.local.',
    want: ['A 10.96.0.5 @reviews.default.svc.cluster.local.'],
  },
  {
    name: 'the FQDN with the first search domain and a final dot',
    host: 'reviews.default.svc.cluster.local.default.svc.cluster.local.',
    want: [
      'CNAME reviews.default.svc.cluster.local @reviews.default.svc.cluster.local.default.svc.cluster.local.',
      'A 10.96.0.5 @reviews.default.svc.cluster.local',
    ],
  },
  {
    name: 'the FQDN with the second search domain',
    host: 'reviews.default.svc.cluster.local.svc.cluster.local',
    want: [
      'CNAME reviews.default.svc.cluster.local @reviews.default.svc.cluster.local.svc.cluster.local',
      'A 10.96.0.5 @reviews.default.svc.cluster.local',
    ],
  },
  {
    name: 'the FQDN with the third search domain',
    host: 'reviews.default.svc.cluster.local.cluster.local',
    want: [
      'CNAME reviews.default.svc.cluster.local @reviews.default.svc.cluster.local.cluster.local',
      'A 10.96.0.5 @reviews.default.svc.cluster.local',
    ],
  },
  {
    name: 'name.namespace.svc + first search domain: CNAME to the name as written, not to its expansion',
    host: 'reviews.default.svc.default.svc.cluster.local',
    want: ['CNAME reviews.default.svc @reviews.default.svc.default.svc.cluster.local', 'A 10.96.0.5 @reviews.default.svc'],
  },
  {
    name: 'a search domain appended twice is stripped once: no Service by that name',
    host: 'reviews.default.svc.cluster.local.default.svc.cluster.local.default.svc.cluster.local',
    want: fwd,
  },
  {
    name: 'name.namespace + first search domain',
    host: 'ratings.ns2.default.svc.cluster.local',
    want: ['CNAME ratings.ns2 @ratings.ns2.default.svc.cluster.local', 'A 10.96.0.6 @ratings.ns2'],
  },
  {
    name: 'name.namespace + svc.cluster.local is the FQDN itself (no CNAME)',
    host: 'ratings.ns2.svc.cluster.local',
    want: ['A 10.96.0.6 @ratings.ns2.svc.cluster.local'],
  },
  {
    name: 'external host + search domain',
    host: 'httpbin.org.default.svc.cluster.local',
    want: ['CNAME httpbin.org @httpbin.org.default.svc.cluster.local', 'A 240.240.0.2 @httpbin.org'],
  },
  {
    name: 'external host + cluster.local',
    host: 'httpbin.org.cluster.local',
    want: ['CNAME httpbin.org @httpbin.org.cluster.local', 'A 240.240.0.2 @httpbin.org'],
  },
  { name: 'unknown name + search domain: forwarded as asked', host: 'www.example.com.default.svc.cluster.local', want: fwd },
  {
    name: 'the search domains are the client namespace’s: ns2 suffix from default is not stripped',
    host: 'httpbin.org.ns2.svc.cluster.local',
    want: fwd,
  },
  // Families.
  { name: 'AAAA for a v4-only Service: NOERROR, no records', host: 'reviews', type: DnsType.AAAA, want: [] },
  {
    name: 'AAAA for a v4-only Service found by stripping: no CNAME either',
    host: 'reviews.default.svc.cluster.local.default.svc.cluster.local',
    type: DnsType.AAAA,
    want: [],
  },
  { name: 'dual stack: A gets the v4 VIP', host: 'dual', want: ['A 10.96.0.7 @dual'] },
  { name: 'dual stack: AAAA gets the v6 VIP', host: 'dual', type: DnsType.AAAA, want: ['AAAA fd00::7 @dual'] },
  { name: 'v6-only: A is empty', host: 'v6only', want: [] },
  // ServiceEntry-like hosts, wildcards and several namespaces.
  { name: 'external host: the client namespace wins', host: 'httpbin.org', want: ['A 240.240.0.2 @httpbin.org'] },
  { name: 'external host from ns2', host: 'httpbin.org', client: clientNs2, want: ['A 240.240.0.1 @httpbin.org'] },
  {
    name: 'several namespaces, none the client’s: the lowest name',
    host: 'shared.example.com',
    want: ['A 240.240.0.4 @shared.example.com'],
  },
  { name: 'wildcard', host: 'foo.wild.example', want: ['A 240.240.0.5 @foo.wild.example'] },
  { name: 'the most specific wildcard', host: 'a.b.wild.example', want: ['A 240.240.0.6 @a.b.wild.example'] },
  {
    name: 'wildcard found by stripping: no CNAME, the asked name owns the address (ztunnel)',
    host: 'foo.wild.example.default.svc.cluster.local',
    want: ['A 240.240.0.5 @foo.wild.example.default.svc.cluster.local'],
  },
  { name: 'a wildcard does not match its own domain', host: 'wild.example', want: fwd },
  // Headless and VIP-less.
  { name: 'headless Kubernetes Service: healthy endpoint IPs', host: 'db', want: ['A 10.244.2.1 @db', 'A 10.244.2.2 @db'] },
  {
    name: 'headless AAAA: endpoints with a v6 address',
    host: 'db.default.svc.cluster.local',
    type: DnsType.AAAA,
    want: ['AAAA fd00::2:1 @db.default.svc.cluster.local'],
  },
  { name: 'a VIP-less external host is forwarded', host: 'novip.example.com', want: fwd },
  // Networks.
  { name: 'a VIP on another network: NOERROR, no records', host: 'remote', want: [] },
  { name: 'a client on that network gets it', host: 'remote.default', client: clientNw2, want: ['A 10.96.9.9 @remote.default'] },
  // Not ours.
  { name: 'unknown name', host: 'www.example.com', want: fwd },
  { name: 'the root', host: '', want: fwd },
  {
    name: 'SRV for a Service: forwarded, naming the Service',
    host: 'reviews',
    type: DnsType.SRV,
    want: { kind: 'forward', reason: 'unsupported-type', service: 'reviews.default.svc.cluster.local' },
  },
  { name: 'TXT for an unknown name', host: 'x.example', type: DnsType.TXT, want: { kind: 'forward', reason: 'unsupported-type' } },
  {
    name: 'TXT for the FQDN: forwarded, naming the Service',
    host: 'reviews.default.svc.cluster.local',
    type: DnsType.TXT,
    want: { kind: 'forward', reason: 'unsupported-type', service: 'reviews.default.svc.cluster.local' },
  },
  {
    name: 'TXT for the FQDN + a search domain: forwarded, no Service (the alias is for A/AAAA only)',
    host: 'reviews.default.svc.cluster.local.default.svc.cluster.local',
    type: DnsType.TXT,
    want: { kind: 'forward', reason: 'unsupported-type' },
  },
  { name: 'unknown client: SERVFAIL', host: 'reviews', client: undefined, want: { kind: 'servfail', reason: 'unknown-source' } },
]

t.test('resolveDnsQuestion', async (t) => {
  for (const row of rows) {
    const decision = resolveDnsQuestion({
      question: { name: row.host, type: row.type ?? DnsType.A, class: DnsClass.IN },
      client: 'client' in row ? row.client : clientDefault,
      mesh,
      clusterDomain: row.clusterDomain ?? 'cluster.local',
    })
    t.same(summarize(decision), row.want, row.name)
    if (decision.kind === 'answer')
      t.ok(
        decision.records.every((r) => r.ttl === 30),
        `${row.name}: TTL 30`,
      )
  }
})

t.test('class other than IN is forwarded', async (t) => {
  const d = resolveDnsQuestion({
    question: { name: 'reviews', type: DnsType.A, class: 3 },
    client: clientDefault,
    mesh,
    clusterDomain: 'cluster.local',
  })
  t.same(summarize(d), { kind: 'forward', reason: 'unsupported-type', service: 'reviews.default.svc.cluster.local' })
})

t.test('candidates and wildcards, in ztunnel order', async (t) => {
  t.same(
    dnsCandidates('reviews', 'default', 'cluster.local').map((c) => c.name),
    ['reviews', 'reviews.default.svc.cluster.local'],
  )
  t.same(
    dnsCandidates('reviews.ns2', 'default', 'cluster.local').map((c) => c.name),
    ['reviews.ns2', 'reviews.ns2.svc.cluster.local'],
  )
  t.same(
    dnsCandidates('reviews.ns2.svc', 'default', 'cluster.local').map((c) => c.name),
    ['reviews.ns2.svc', 'reviews.ns2.svc.cluster.local'],
  )
  t.same(
    dnsCandidates('a.b.c', 'default', 'cluster.local').map((c) => c.name),
    ['a.b.c'],
  )
  // Each search domain stripped in turn; the expansions of what is left are the asked name again.
  t.same(dnsCandidates('x.default.svc.cluster.local', 'default', 'cluster.local'), [
    { name: 'x.default.svc.cluster.local', stripped: undefined },
    { name: 'x', stripped: 'x' },
    { name: 'x.default', stripped: 'x.default' },
    { name: 'x.default.svc', stripped: 'x.default.svc' },
  ])
  t.same(wildcards('a.b.c'), ['a.b.c', '*.b.c', '*.c'])
  t.same(wildcards('single'), ['single'])
})
