// Table tests for L4 authorization at the destination ztunnel (src/authz/rbac.ts), one row per rule
// of the reference's "L4 authorization at the destination ztunnel" section.
import t from 'tap'
import { SpiffeId } from '../../../src/identity/spiffe-id.js'
import { applicablePolicies } from '../../../src/authz/applicable.js'
import { parseCidr } from '../../../src/authz/cidr.js'
import {
  AuthzErrorCode,
  authorize,
  authorizeVerdict,
  DecisionReason,
  formatDecision,
  type Connection,
  type Decision,
} from '../../../src/authz/rbac.js'
import {
  match,
  type Authorization,
  type CidrMatch,
  type Match,
  type PolicyAction,
  type PolicyScope,
  type Rule,
} from '../../../src/authz/policy.js'

const CLIENT = SpiffeId.of({ namespace: 'client', serviceAccount: 'sleep' })
const BASE: Connection = { srcIdentity: CLIENT, srcIp: '10.0.0.5', dstIp: '10.0.1.7', dstPort: 8080 }
const PLAINTEXT: Partial<Connection> = { srcIdentity: undefined }

interface PolicyOptions {
  ns?: string
  scope?: PolicyScope
  dryRun?: boolean
}

function policy(name: string, action: PolicyAction, rules: Rule[], o: PolicyOptions = {}): Authorization {
  return { name, namespace: o.ns ?? 'server', scope: o.scope ?? 'NAMESPACE', action, rules, dryRun: o.dryRun ?? false }
}
/** A rule from clauses, each clause a list of matches. */
const rule = (...clauses: Partial<Match>[][]): Rule => ({ clauses: clauses.map((ms) => ({ matches: ms.map(match) })) })
/** The common case: one rule, one clause, one match. */
const one = (name: string, action: PolicyAction, m: Partial<Match>, o: PolicyOptions = {}) => policy(name, action, [rule([m])], o)
const allow = (m: Partial<Match>, o: PolicyOptions = {}) => one('allow', 'ALLOW', m, o)
const deny = (m: Partial<Match>, o: PolicyOptions = {}) => one('deny', 'DENY', m, o)
const cidr = (s: string): CidrMatch => parseCidr(s)!
const p = (s: string) => ({ exact: s })

const ME = 'cluster.local/ns/client/sa/sleep'

interface Row {
  name: string
  conn?: Partial<Connection>
  policies: Authorization[]
  allowed: boolean
  reason?: string
  check?: (d: Decision, tt: Subtest) => void
}
/** A subtest's `t` (the last overload of `t.test` takes just the callback). */
type Subtest = Parameters<Parameters<typeof t.test>[0]>[0]

const NONE = DecisionReason.noneAllowed
const rows: Row[] = [
  // --- the decision order ---
  { name: 'no policies → allow', policies: [], allowed: true, reason: 'no policies' },
  { name: 'ALLOW matching → allow', policies: [allow({ principals: [p(ME)] })], allowed: true, reason: 'allowed by: server/allow' },
  { name: 'ALLOW not matching → deny', policies: [allow({ principals: [p('cluster.local/ns/x/sa/y')] })], allowed: false, reason: NONE },
  { name: 'DENY matching → deny', policies: [deny({ principals: [p(ME)] })], allowed: false, reason: 'explicitly denied by: server/deny' },
  { name: 'DENY not matching, no ALLOW → allow', policies: [deny({ principals: [p('x')] })], allowed: true, reason: 'no allow policies' },
  {
    name: 'DENY and ALLOW both matching → DENY wins',
    policies: [allow({ principals: [p(ME)] }), deny({ principals: [p(ME)] })],
    allowed: false,
    reason: 'explicitly denied by: server/deny',
  },
  {
    name: 'DENY not matching + ALLOW matching → allow',
    policies: [deny({ destinationPorts: [22] }), allow({ principals: [p(ME)] })],
    allowed: true,
    reason: 'allowed by: server/allow',
  },
  {
    name: 'second of two ALLOWs matches',
    policies: [one('a1', 'ALLOW', { destinationPorts: [1] }), one('a2', 'ALLOW', { destinationPorts: [8080] })],
    allowed: true,
    reason: 'allowed by: server/a2',
  },
  {
    name: 'first matching DENY is the deciding one',
    policies: [one('d1', 'DENY', { destinationPorts: [8080] }), one('d2', 'DENY', { principals: [p(ME)] })],
    allowed: false,
    reason: 'explicitly denied by: server/d1',
    check: (d, tt) => tt.equal(d.decidingPolicy, 'server/d1'),
  },
  // --- policy / rule / clause / match structure ---
  { name: 'ALLOW with no rules (spec: {}) allows nothing', policies: [policy('deny-all', 'ALLOW', [])], allowed: false, reason: NONE },
  { name: 'DENY with no rules never matches', policies: [policy('d', 'DENY', [])], allowed: true, reason: 'no allow policies' },
  {
    name: 'ALLOW rule with no clauses matches everything',
    policies: [policy('all', 'ALLOW', [{ clauses: [] }])],
    allowed: true,
    conn: PLAINTEXT,
  },
  { name: 'DENY rule with no clauses denies everything', policies: [policy('d', 'DENY', [{ clauses: [] }])], allowed: false },
  { name: 'ALLOW with an empty match never matches', policies: [allow({})], allowed: false, reason: NONE },
  { name: 'DENY with an empty match never matches', policies: [deny({})], allowed: true },
  {
    name: 'clause with no matches counts as matching (ztunnel quirk)',
    policies: [policy('q', 'ALLOW', [{ clauses: [{ matches: [] }] }])],
    allowed: true,
  },
  {
    name: 'rule needs every clause: clause 1 fails',
    policies: [policy('a', 'ALLOW', [rule([{ destinationPorts: [8080] }], [{ principals: [p('x')] }])])],
    allowed: false,
  },
  {
    name: 'rule needs every clause: all pass',
    policies: [policy('a', 'ALLOW', [rule([{ destinationPorts: [8080] }], [{ principals: [p(ME)] }])])],
    allowed: true,
  },
  {
    name: 'clause needs any match: second matches',
    policies: [policy('a', 'ALLOW', [rule([{ principals: [p('x')] }, { namespaces: [p('client')] }])])],
    allowed: true,
  },
  {
    name: 'policy needs any rule: second rule matches',
    policies: [policy('a', 'ALLOW', [rule([{ principals: [p('x')] }]), rule([{ destinationPorts: [8080] }])])],
    allowed: true,
  },
  {
    name: 'a match needs every non-empty field: ports fail',
    policies: [allow({ principals: [p(ME)], destinationPorts: [80] })],
    allowed: false,
  },
  {
    name: 'a match needs every non-empty field: all pass',
    policies: [allow({ principals: [p(ME)], destinationPorts: [8080], sourceIps: [cidr('10.0.0.0/8')] })],
    allowed: true,
  },
  // --- principals ---
  { name: 'principal exact', policies: [allow({ principals: [p(ME)] })], allowed: true },
  { name: 'principal written with spiffe:// never matches', policies: [allow({ principals: [p(`spiffe://${ME}`)] })], allowed: false },
  { name: 'principal prefix', policies: [allow({ principals: [{ prefix: 'cluster.local/ns/client/' }] })], allowed: true },
  { name: 'principal suffix', policies: [allow({ principals: [{ suffix: '/sa/sleep' }] })], allowed: true },
  { name: 'principal suffix not matching', policies: [allow({ principals: [{ suffix: '/sa/other' }] })], allowed: false },
  { name: 'principal presence with identity', policies: [allow({ principals: [{ presence: true }] })], allowed: true },
  {
    name: 'principal presence without identity fails',
    conn: PLAINTEXT,
    policies: [allow({ principals: [{ presence: true }] })],
    allowed: false,
  },
  { name: 'positive principals without identity fail', conn: PLAINTEXT, policies: [allow({ principals: [p(ME)] })], allowed: false },
  { name: 'notPrincipals without identity pass', conn: PLAINTEXT, policies: [allow({ notPrincipals: [p(ME)] })], allowed: true },
  {
    name: 'DENY notPrincipals * denies plaintext (STRICT)',
    conn: PLAINTEXT,
    policies: [deny({ notPrincipals: [{ presence: true }] })],
    allowed: false,
  },
  { name: 'DENY notPrincipals * lets mTLS through', policies: [deny({ notPrincipals: [{ presence: true }] })], allowed: true },
  {
    name: 'notPrincipals containing the peer fail',
    policies: [allow({ notPrincipals: [{ prefix: 'cluster.local/ns/client/' }] })],
    allowed: false,
  },
  {
    name: 'principal includes the trust domain',
    conn: { srcIdentity: SpiffeId.of({ trustDomain: 'td2', namespace: 'client', serviceAccount: 'sleep' }) },
    policies: [allow({ principals: [p(ME)] })],
    allowed: false,
  },
  { name: 'any principal of the list', policies: [allow({ principals: [p('a'), p(ME), p('b')] })], allowed: true },
  // --- namespaces come from the peer's SPIFFE ID ---
  { name: 'namespaces exact', policies: [allow({ namespaces: [p('client')] })], allowed: true },
  { name: 'namespaces other', policies: [allow({ namespaces: [p('other')] })], allowed: false },
  { name: 'namespaces prefix', policies: [allow({ namespaces: [{ prefix: 'cli' }] })], allowed: true },
  { name: 'namespaces presence', policies: [allow({ namespaces: [{ presence: true }] })], allowed: true },
  { name: 'notNamespaces containing the peer fail', policies: [allow({ notNamespaces: [p('client')] })], allowed: false },
  { name: 'namespaces without identity fail', conn: PLAINTEXT, policies: [allow({ namespaces: [p('client')] })], allowed: false },
  { name: 'notNamespaces without identity pass', conn: PLAINTEXT, policies: [allow({ notNamespaces: [p('client')] })], allowed: true },
  { name: "namespace is the identity's, not the destination's", policies: [allow({ namespaces: [p('server')] })], allowed: false },
  // --- service accounts: (namespace, service account) of the peer ---
  {
    name: 'serviceAccounts match',
    policies: [allow({ serviceAccounts: [{ namespace: 'client', serviceAccount: 'sleep' }] })],
    allowed: true,
  },
  {
    name: 'serviceAccounts other sa',
    policies: [allow({ serviceAccounts: [{ namespace: 'client', serviceAccount: 'other' }] })],
    allowed: false,
  },
  {
    name: 'serviceAccounts other namespace',
    policies: [allow({ serviceAccounts: [{ namespace: 'server', serviceAccount: 'sleep' }] })],
    allowed: false,
  },
  {
    name: 'serviceAccounts ignore the trust domain',
    conn: { srcIdentity: SpiffeId.of({ trustDomain: 'td2', namespace: 'client', serviceAccount: 'sleep' }) },
    policies: [allow({ serviceAccounts: [{ namespace: 'client', serviceAccount: 'sleep' }] })],
    allowed: true,
  },
  {
    name: 'notServiceAccounts containing the peer fail',
    policies: [allow({ notServiceAccounts: [{ namespace: 'client', serviceAccount: 'sleep' }] })],
    allowed: false,
  },
  {
    name: 'serviceAccounts without identity fail',
    conn: PLAINTEXT,
    policies: [allow({ serviceAccounts: [{ namespace: 'client', serviceAccount: 'sleep' }] })],
    allowed: false,
  },
  {
    name: 'notServiceAccounts without identity pass',
    conn: PLAINTEXT,
    policies: [allow({ notServiceAccounts: [{ namespace: 'client', serviceAccount: 'sleep' }] })],
    allowed: true,
  },
  // --- IPs as CIDRs ---
  { name: 'sourceIps CIDR contains', policies: [allow({ sourceIps: [cidr('10.0.0.0/8')] })], allowed: true },
  { name: 'sourceIps CIDR does not contain', policies: [allow({ sourceIps: [cidr('192.168.0.0/16')] })], allowed: false },
  { name: 'sourceIps bare IP is /32', policies: [allow({ sourceIps: [cidr('10.0.0.5')] })], allowed: true },
  { name: 'sourceIps bare IP, another host', policies: [allow({ sourceIps: [cidr('10.0.0.6')] })], allowed: false },
  { name: 'sourceIps host bits in the CIDR are masked', policies: [allow({ sourceIps: [cidr('10.9.9.9/8')] })], allowed: true },
  { name: 'sourceIps 0.0.0.0/0 contains every IPv4', policies: [allow({ sourceIps: [cidr('0.0.0.0/0')] })], allowed: true },
  { name: 'notSourceIps containing the source fail', policies: [allow({ notSourceIps: [cidr('10.0.0.0/24')] })], allowed: false },
  { name: 'notSourceIps not containing pass', policies: [allow({ notSourceIps: [cidr('10.0.9.0/24')] })], allowed: true },
  {
    name: 'IPv4-mapped source is normalised to IPv4',
    conn: { srcIp: '::ffff:10.0.0.5' },
    policies: [allow({ sourceIps: [cidr('10.0.0.0/8')] })],
    allowed: true,
  },
  { name: 'IPv4-mapped CIDR in a policy is normalised', policies: [allow({ sourceIps: [cidr('::ffff:10.0.0.0/104')] })], allowed: true },
  { name: 'IPv6 source in an IPv6 CIDR', conn: { srcIp: 'fd00::5' }, policies: [allow({ sourceIps: [cidr('fd00::/64')] })], allowed: true },
  {
    name: 'IPv6 source outside the CIDR',
    conn: { srcIp: 'fd01::5' },
    policies: [allow({ sourceIps: [cidr('fd00::/64')] })],
    allowed: false,
  },
  {
    name: 'IPv6 source never in an IPv4 CIDR',
    conn: { srcIp: 'fd00::5' },
    policies: [allow({ sourceIps: [cidr('0.0.0.0/0')] })],
    allowed: false,
  },
  { name: 'IPv4 source never in ::/0', policies: [allow({ sourceIps: [cidr('::/0')] })], allowed: false },
  {
    name: 'IPv6 uncompressed connection text',
    conn: { srcIp: 'FD00:0:0:0:0:0:0:5' },
    policies: [allow({ sourceIps: [cidr('fd00::5')] })],
    allowed: true,
  },
  { name: 'destinationIps contains', policies: [allow({ destinationIps: [cidr('10.0.1.7/32')] })], allowed: true },
  {
    name: 'notDestinationIps containing the destination fail',
    policies: [allow({ notDestinationIps: [cidr('10.0.1.0/24')] })],
    allowed: false,
  },
  // --- ports ---
  { name: 'destinationPorts contains', policies: [allow({ destinationPorts: [80, 8080] })], allowed: true },
  { name: 'destinationPorts does not contain', policies: [allow({ destinationPorts: [80, 443] })], allowed: false },
  { name: 'notDestinationPorts containing the port fail', policies: [allow({ notDestinationPorts: [8080] })], allowed: false },
  { name: 'notDestinationPorts other port pass', policies: [allow({ notDestinationPorts: [9090] })], allowed: true },
  { name: 'DENY on a port, other port allowed', conn: { dstPort: 9000 }, policies: [deny({ destinationPorts: [8080] })], allowed: true },
  // --- dry run: evaluated and reported, never enforced ---
  {
    name: 'dry-run DENY matching is not enforced, reported',
    policies: [deny({ principals: [p(ME)] }, { dryRun: true })],
    allowed: true,
    reason: 'no policies',
    check: (d, tt) => {
      tt.same(
        d.dryRun.map((n) => [n.policy, n.matched]),
        [['server/deny', true]],
      )
      tt.match(d.dryRun[0]!.text, /would deny/)
      tt.same(d.shadow, { allowed: false, reason: 'explicitly denied by: server/deny', decidingPolicy: 'server/deny' })
    },
  },
  {
    name: 'dry-run ALLOW not matching is not enforced, shadow denies',
    policies: [allow({ principals: [p('x')] }, { dryRun: true })],
    allowed: true,
    reason: 'no policies',
    check: (d, tt) => {
      tt.equal(d.dryRun[0]!.matched, false)
      tt.same(d.shadow, { allowed: false, reason: NONE })
    },
  },
  {
    name: 'dry-run ALLOW matching beside an enforced DENY that does not match',
    policies: [deny({ destinationPorts: [1] }), one('shadow', 'ALLOW', { principals: [p(ME)] }, { dryRun: true })],
    allowed: true,
    reason: 'no allow policies',
    check: (d, tt) => {
      tt.match(d.dryRun[0]!.text, /would allow/)
      tt.equal(d.shadow?.reason, 'allowed by: server/shadow')
    },
  },
  {
    name: 'enforced ALLOW matches, dry-run DENY would have denied',
    policies: [allow({ principals: [p(ME)] }), deny({ principals: [p(ME)] }, { dryRun: true })],
    allowed: true,
    reason: 'allowed by: server/allow',
    check: (d, tt) => tt.equal(d.shadow?.allowed, false),
  },
  {
    name: 'enforced DENY still denies beside a dry-run ALLOW',
    policies: [deny({ principals: [p(ME)] }), allow({}, { dryRun: true })],
    allowed: false,
    reason: 'explicitly denied by: server/deny',
  },
  {
    name: 'without dry-run policies there is no shadow',
    policies: [allow({ principals: [p(ME)] })],
    allowed: true,
    check: (d, tt) => {
      tt.same(d.dryRun, [])
      tt.equal(d.shadow, undefined)
      tt.notOk('shadow' in d)
    },
  },
  // --- the trace ---
  {
    name: 'trace lists every policy, also those after the deciding DENY',
    policies: [
      one('d', 'DENY', { destinationPorts: [8080] }),
      one('a', 'ALLOW', { destinationPorts: [1] }),
      one('b', 'ALLOW', {}, { dryRun: true }),
    ],
    allowed: false,
    check: (d, tt) =>
      tt.same(
        d.trace.map((x) => [x.policy, x.action, x.dryRun, x.matched]),
        [
          ['server/d', 'DENY', false, true],
          ['server/a', 'ALLOW', false, false],
          ['server/b', 'ALLOW', true, false],
        ],
      ),
  },
  {
    name: 'trace names the rule, clause and field that failed',
    conn: { srcIdentity: SpiffeId.parse('spiffe://cluster.local/ns/x/sa/y') },
    policies: [policy('a', 'ALLOW', [rule([{ destinationPorts: [8080] }], [{ principals: [p('cluster.local/ns/a/sa/b')] }])])],
    allowed: false,
    check: (d, tt) => {
      const r = d.trace[0]!.rules[0]!
      tt.equal(r.text, 'rule 0 clause 1: principals ["cluster.local/ns/a/sa/b"] did not contain "cluster.local/ns/x/sa/y"')
      tt.equal(r.failedClause, 1)
      tt.same(r.clauses[1]!.matches[0]!.failure, {
        field: 'principals',
        values: ['cluster.local/ns/a/sa/b'],
        actual: 'cluster.local/ns/x/sa/y',
        text: r.text.slice('rule 0 clause 1: '.length),
      })
      tt.equal(d.trace[0]!.text, r.text)
    },
  },
  {
    name: 'trace says when the peer has no identity',
    conn: PLAINTEXT,
    policies: [allow({ namespaces: [{ prefix: 'client' }] })],
    allowed: false,
    check: (d, tt) => {
      tt.equal(d.trace[0]!.text, 'rule 0 clause 0: namespaces ["client*"] did not contain the peer: connection has no peer identity')
      tt.notOk('actual' in d.trace[0]!.rules[0]!.clauses[0]!.matches[0]!.failure!)
    },
  },
  {
    name: 'trace for a negative field, ports and CIDRs',
    policies: [
      policy('a', 'ALLOW', [
        rule([{ notNamespaces: [p('client')] }]),
        rule([{ destinationPorts: [80, 443] }]),
        rule([{ sourceIps: [cidr('192.168.0.0/16')] }]),
      ]),
    ],
    allowed: false,
    check: (d, tt) =>
      tt.equal(
        d.trace[0]!.text,
        [
          'rule 0 clause 0: notNamespaces ["client"] contained "client"',
          'rule 1 clause 0: destinationPorts [80, 443] did not contain 8080',
          'rule 2 clause 0: sourceIps ["192.168.0.0/16"] did not contain "10.0.0.5"',
        ].join('; '),
      ),
  },
  {
    name: 'trace reports the first failing field in ztunnel order (destination IPs before principals)',
    policies: [allow({ principals: [p('x')], destinationIps: [cidr('1.2.3.4')] })],
    allowed: false,
    check: (d, tt) => tt.equal(d.trace[0]!.rules[0]!.clauses[0]!.matches[0]!.failure?.field, 'destinationIps'),
  },
  {
    name: 'trace for a clause of several matches, one empty',
    policies: [policy('a', 'ALLOW', [rule([{ principals: [{ suffix: '/sa/x' }] }, {}])])],
    allowed: false,
    check: (d, tt) =>
      tt.equal(
        d.trace[0]!.text,
        'rule 0 clause 0: none of 2 matches matched (match 0: principals ["*/sa/x"] did not contain ' +
          '"cluster.local/ns/client/sa/sleep"; match 1 is empty (a match with every field empty ' +
          'never matches))',
      ),
  },
  {
    name: 'trace for no rules and for a matched rule',
    policies: [
      policy('none', 'ALLOW', []),
      policy('two', 'ALLOW', [rule([{ principals: [p('x')] }]), rule([{ principals: [{ presence: true }] }])]),
    ],
    allowed: true,
    check: (d, tt) => {
      tt.equal(d.trace[0]!.text, 'no rules (a policy with no rules never matches)')
      tt.equal(d.trace[1]!.text, 'rule 1 matched')
      tt.same(
        d.trace[1]!.rules.map((r) => r.matched),
        [false, true],
      )
    },
  },
  {
    name: 'the decision is plain JSON',
    policies: [allow({ principals: [p('x')] }), deny({}, { dryRun: true })],
    allowed: false,
    check: (d, tt) => tt.same(JSON.parse(JSON.stringify(d)), d),
  },
]

t.test('authorize: decision table', async (t) => {
  t.ok(rows.length >= 60, `${rows.length} rows`)
  for (const row of rows) {
    t.test(row.name, async (tt) => {
      const d = authorize({ ...BASE, ...row.conn }, row.policies)
      tt.equal(d.allowed, row.allowed, 'allowed')
      if (row.reason !== undefined) tt.equal(d.reason, row.reason, 'reason')
      tt.equal(d.trace.length, row.policies.length, 'every policy traced')
      row.check?.(d, tt)
    })
  }
})

t.test('authorizeVerdict: the same verdict as authorize on every row of the decision table', async (t) => {
  for (const row of rows) {
    const conn = { ...BASE, ...row.conn }
    const { allowed, reason, decidingPolicy } = authorize(conn, row.policies)
    t.same(
      authorizeVerdict(conn, row.policies),
      decidingPolicy === undefined ? { allowed, reason } : { allowed, reason, decidingPolicy },
      row.name,
    )
  }
  t.throws(() => authorizeVerdict({ ...BASE, srcIp: 'nope' }, []), { code: AuthzErrorCode.invalidConnection })
})

t.test('authorize: invalid connection addresses are an internal error', async (t) => {
  for (const bad of [{ srcIp: 'nope' }, { dstIp: '10.0.0.256' }, { dstPort: 70000 }, { srcIp: '010.0.0.1' }]) {
    t.throws(() => authorize({ ...BASE, ...bad }, []), { code: AuthzErrorCode.invalidConnection, side: 'internal' }, JSON.stringify(bad))
  }
})

t.test('formatDecision: one line per policy', async (t) => {
  const d = authorize(BASE, [deny({ principals: [p(ME)] }), allow({ destinationPorts: [1] }, { dryRun: true })])
  t.same(formatDecision(d), [
    'DENY: explicitly denied by: server/deny',
    '  DENY server/deny (NAMESPACE) matched: rule 0 matched',
    '  dry-run ALLOW server/allow (NAMESPACE) did not match: rule 0 clause 0: destinationPorts [1] did not contain 8080',
    '  with dry-run policies enforced: DENY: explicitly denied by: server/deny',
  ])
})

t.test('applicablePolicies: GLOBAL, NAMESPACE of the workload, and named selector policies', async (t) => {
  const nsPol = policy('ns', 'ALLOW', [], { ns: 'server' })
  const otherNs = policy('other', 'ALLOW', [], { ns: 'client' })
  const global = policy('mesh', 'DENY', [], { ns: 'istio-system', scope: 'GLOBAL' })
  const sel = policy('sel', 'ALLOW', [], { ns: 'server', scope: 'WORKLOAD_SELECTOR' })
  const selOther = policy('sel2', 'ALLOW', [], { ns: 'server', scope: 'WORKLOAD_SELECTOR' })
  const all = [sel, selOther, otherNs, global, nsPol]
  const keys = (ps: Authorization[]) => ps.map((x) => `${x.namespace}/${x.name}`)
  const cases: [string, { namespace: string; authorizationPolicies: string[] }, string[]][] = [
    ['namespace then global, no selector', { namespace: 'server', authorizationPolicies: [] }, ['server/ns', 'istio-system/mesh']],
    [
      'selector policies only when named',
      { namespace: 'server', authorizationPolicies: ['server/sel'] },
      ['server/ns', 'istio-system/mesh', 'server/sel'],
    ],
    [
      'another namespace sees only its own and GLOBAL',
      { namespace: 'client', authorizationPolicies: [] },
      ['client/other', 'istio-system/mesh'],
    ],
    ['unknown names are skipped', { namespace: 'web', authorizationPolicies: ['web/gone'] }, ['istio-system/mesh']],
    [
      'a name listed twice or also namespace-wide appears once',
      { namespace: 'server', authorizationPolicies: ['server/sel', 'server/sel', 'server/ns'] },
      ['server/ns', 'istio-system/mesh', 'server/sel'],
    ],
  ]
  for (const [name, target, want] of cases) t.same(keys(applicablePolicies(target, all)), want, name)
  // GLOBAL applies wherever it lives (ztunnel files GLOBAL under "" whatever its namespace).
  t.same(
    keys(
      applicablePolicies({ namespace: 'a', authorizationPolicies: [] }, [policy('g', 'DENY', [], { ns: 'custom-root', scope: 'GLOBAL' })]),
    ),
    ['custom-root/g'],
  )
  // End to end: the applicable set decides.
  const d = authorize(
    BASE,
    applicablePolicies({ namespace: 'server', authorizationPolicies: [] }, [
      ...all,
      one('deny-client', 'DENY', { namespaces: [p('client')] }, { ns: 'other-ns' }),
    ]),
  )
  t.equal(d.reason, NONE, 'other-namespace DENY not applied; server/ns ALLOW has no rules')
})
