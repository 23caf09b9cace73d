// The readable form of a Decision (src/authz/explain-format.ts): verdict first, the deciding policy,
// then every policy with MATCH / NO MATCH and, for a miss, each rule's first failing clause.
import t from 'tap'
import { formatExplanation, verdictLine } from '../../../src/authz/explain-format.js'
import { match, type Authorization, type Rule } from '../../../src/authz/policy.js'
import { authorize, type Connection } from '../../../src/authz/rbac.js'
import { SpiffeId } from '../../../src/identity/spiffe-id.js'

const SLEEP = SpiffeId.of({ namespace: 'default', serviceAccount: 'sleep' })
const CONN: Connection = { srcIdentity: SLEEP, srcIp: '10.0.0.5', dstIp: '10.0.1.7', dstPort: 8080 }

const pol = (name: string, action: 'ALLOW' | 'DENY', rules: Rule[], extra: Partial<Authorization> = {}): Authorization => ({
  name,
  namespace: 'default',
  scope: 'NAMESPACE',
  action,
  rules,
  dryRun: false,
  ...extra,
})
const principal = (p: string): Rule => ({ clauses: [{ matches: [match({ principals: [{ exact: p }] })] }] })
const port = (n: number): Rule => ({ clauses: [{ matches: [match({ destinationPorts: [n] })] }] })

interface Row {
  readonly name: string
  readonly policies: Authorization[]
  readonly conn?: Partial<Connection>
  /** Lines that must appear, in this order (not necessarily adjacent). */
  readonly lines: readonly (string | RegExp)[]
}

const rows: Row[] = [
  {
    name: 'no policies: allow, nothing considered',
    policies: [],
    lines: ['ALLOW: no policies', /deciding policy: none/, 'no policies apply to this workload'],
  },
  {
    name: 'an ALLOW that matches decides; the DENY that missed shows its failing clause',
    policies: [pol('deny-9999', 'DENY', [port(9999)]), pol('allow-sleep', 'ALLOW', [principal('cluster.local/ns/default/sa/sleep')])],
    lines: [
      'ALLOW: allowed by: default/allow-sleep',
      /deciding policy: default\/allow-sleep$/,
      'policies considered (2):',
      /^ {2}NO MATCH {2}DENY {2}default\/deny-9999 \(NAMESPACE\)$/,
      /^ {12}rule 0 clause 0: destinationPorts \[9999\] did not contain 8080$/,
      /^ {2}MATCH {5}ALLOW default\/allow-sleep \(NAMESPACE, deciding\)$/,
      /^ {12}rule 0 matched$/,
    ],
  },
  {
    name: 'no ALLOW matches: every rule of each ALLOW shows its first failing clause',
    policies: [pol('allow-two', 'ALLOW', [principal('cluster.local/ns/x/sa/y'), port(22)])],
    lines: [
      'DENY: allow policies exist, but none allowed',
      /deciding policy: none/,
      /NO MATCH {2}ALLOW default\/allow-two/,
      /rule 0 clause 0: principals \["cluster\.local\/ns\/x\/sa\/y"\] did not contain "cluster\.local\/ns\/default\/sa\/sleep"/,
      /rule 1 clause 0: destinationPorts \[22\] did not contain 8080/,
    ],
  },
  {
    name: 'a matching DENY decides',
    policies: [pol('deny-sleep', 'DENY', [principal('cluster.local/ns/default/sa/sleep')], { scope: 'GLOBAL', namespace: 'istio-system' })],
    lines: ['DENY: explicitly denied by: istio-system/deny-sleep', /MATCH {5}DENY {2}istio-system\/deny-sleep \(GLOBAL, deciding\)/],
  },
  {
    name: 'a policy with no rules says it never matches',
    policies: [pol('allow-nothing', 'ALLOW', [])],
    lines: [
      'DENY: allow policies exist, but none allowed',
      /NO MATCH {2}ALLOW default\/allow-nothing/,
      /no rules \(a policy with no rules never matches\)/,
    ],
  },
  {
    name: 'dry-run policies are tagged and the shadow verdict follows',
    policies: [pol('deny-all', 'DENY', [{ clauses: [] }], { dryRun: true })],
    lines: [
      'ALLOW: no policies',
      /MATCH {5}DENY {2}default\/deny-all \(NAMESPACE, dry-run\)/,
      'with dry-run policies enforced: DENY: explicitly denied by: default/deny-all',
    ],
  },
  {
    name: 'plaintext: principal rules fail on the missing identity',
    conn: { srcIdentity: undefined },
    policies: [pol('allow-sleep', 'ALLOW', [principal('cluster.local/ns/default/sa/sleep')])],
    lines: [
      'DENY: allow policies exist, but none allowed',
      /principals \["cluster\.local\/ns\/default\/sa\/sleep"\] did not contain the peer: connection has no peer identity/,
    ],
  },
]

for (const row of rows) {
  t.test(row.name, async (t) => {
    const decision = authorize({ ...CONN, ...row.conn }, row.policies)
    const lines = formatExplanation(decision)
    t.equal(lines[0], verdictLine(decision), 'the verdict comes first')
    let at = 0
    for (const want of row.lines) {
      const found = lines.findIndex((l, i) => i >= at && (typeof want === 'string' ? l === want : want.test(l)))
      t.ok(found >= 0, String(want), found >= 0 ? {} : { diagnostic: true, lines })
      if (found >= 0) at = found + 1
    }
  })
}

t.test('facts and notes follow the verdict, labels aligned', async (t) => {
  const lines = formatExplanation(authorize(CONN, []), {
    facts: [
      ['source', 'a'],
      ['destination', 'b'],
    ],
    notes: ['careful'],
  })
  t.same(lines.slice(0, 5), [
    'ALLOW: no policies',
    '  source:          a',
    '  destination:     b',
    '  deciding policy: none',
    '  note: careful',
  ])
})
