// The data path's verdict (authorizeRequestVerdict, authorizeConnection: no trace) against the
// explaining variant (authorizeRequest, explainConnection: a trace per policy) on thousands of
// generated policy sets × requests: same verdict, deciding policy, reason, reply and logs, in order.
// The generator covers every action (ALLOW, DENY, AUDIT, CUSTOM), dry-run, policies without rules,
// empty sources/operations, every source/operation field and `not` form, path templates, every
// `when` key we know and an unknown one; the counts at the end show each outcome was reached.
import { isDeepStrictEqual } from 'node:util'
import t from 'tap'
import {
  authorizeRequest,
  authorizeRequestVerdict,
  type L7AuthzDecision,
  type L7AuthzVerdict,
  type L7RequestFacts,
} from '../../../src/l7/engines/l7-authz.js'
import { authorizeConnection, explainConnection } from '../../../src/l7/l4-authz.js'
import type { L7AuthorizationPolicy, L7Condition, L7Operation, L7Rule, L7Source } from '../../../src/mesh/waypoint-config.js'
import { operation, policy, rule, seeded, source } from '../../helpers/waypoint-config.js'

const PRODUCTPAGE = 'cluster.local/ns/default/sa/bookinfo-productpage'

const SOURCES: readonly L7Source[] = [
  source({ principals: [PRODUCTPAGE] }),
  source({ principals: ['*/sa/other', 'cluster.local/ns/default/*'] }),
  source({ notPrincipals: ['*'] }),
  source({ namespaces: ['default'] }),
  source({ notNamespaces: ['default'] }),
  source({ ipBlocks: ['10.244.0.0/16'] }),
  source({ notIpBlocks: ['10.244.1.5'] }),
  source({ ipBlocks: ['::1/128', 'not-a-cidr'] }),
  source({ remoteIpBlocks: ['192.168.0.0/16'] }),
  source({ notRemoteIpBlocks: ['192.168.1.7/32'] }),
  source({ serviceAccounts: ['default/bookinfo-productpage'] }),
  source({ notServiceAccounts: ['default/sleep'] }),
  source({ requestPrincipals: ['*'] }),
  source({ notRequestPrincipals: ['iss/*'] }),
  source({}),
  source({ principals: ['*'], namespaces: ['default'], notIpBlocks: ['10.0.0.0/8'] }),
]

const OPERATIONS: readonly L7Operation[] = [
  operation({ methods: ['GET'] }),
  operation({ methods: ['POST', 'PUT'] }),
  operation({ notMethods: ['GET'] }),
  operation({ paths: ['/reviews/*'] }),
  operation({ paths: ['/api/{*}/items/{**}'] }),
  operation({ notPaths: ['/admin*', '*/0'] }),
  operation({ hosts: ['REVIEWS:*'] }),
  operation({ notHosts: ['*.example.com'] }),
  operation({ ports: [9080] }),
  operation({ notPorts: [9080] }),
  operation({}),
  operation({ methods: ['GET'], paths: ['*/0', '/health'], hosts: ['reviews*'] }),
]

const CONDITIONS: readonly L7Condition[] = [
  { key: 'request.headers[x-tenant]', values: ['t1'], notValues: [] },
  { key: 'request.headers[X-Tenant]', values: [], notValues: ['t2*'] },
  { key: 'source.ip', values: ['10.244.1.0/24'], notValues: [] },
  { key: 'remote.ip', values: ['192.168.1.0/24'], notValues: [] },
  { key: 'destination.ip', values: ['10.96.0.0/16'], notValues: [] },
  { key: 'source.namespace', values: ['default'], notValues: [] },
  { key: 'source.principal', values: [], notValues: ['*/sa/sleep'] },
  { key: 'destination.port', values: ['9080'], notValues: [] },
  { key: 'request.auth.principal', values: ['*'], notValues: [] },
  { key: 'request.auth.claims[groups]', values: ['admin'], notValues: [] },
  { key: 'connection.sni', values: ['*'], notValues: [] },
  { key: 'bogus.key', values: ['x'], notValues: [] },
]

const ACTIONS: readonly L7AuthorizationPolicy['action'][] = ['ALLOW', 'ALLOW', 'DENY', 'DENY', 'AUDIT', 'CUSTOM']

const REQUESTS = {
  method: ['GET', 'POST', 'DELETE'],
  path: ['/reviews/0', '/reviews/0?x=1', '/api/v1/items/a/b', '/admin/x', '/health'],
  host: ['reviews:9080', 'Reviews:9080', 'x.example.com'],
  headers: [{}, { 'x-tenant': 't1' }, { 'x-tenant': ['t2a', 't1'] }],
  peer: [
    { sourcePrincipal: PRODUCTPAGE, sourceNamespace: 'default' },
    { sourcePrincipal: 'cluster.local/ns/default/sa/sleep', sourceNamespace: 'default' },
    { sourcePrincipal: null, sourceNamespace: null },
  ],
  sourceIp: ['10.244.1.5', '::1'],
  remoteIp: [undefined, '192.168.1.7', 'not-an-ip'],
  destinationIp: [undefined, '10.96.0.5'],
  destinationPort: [9080, 8080],
  requestPrincipal: [undefined, 'iss/sub'],
} as const

function generator(seed: number) {
  const random = seeded(seed)
  const int = (n: number): number => Math.floor(random() * n)
  const pick = <T>(items: readonly T[]): T => items[int(items.length)]!
  const some = <T>(items: readonly T[], max: number): T[] => Array.from({ length: int(max + 1) }, () => pick(items))
  const genRule = (): L7Rule => rule({ from: some(SOURCES, 2), to: some(OPERATIONS, 2), when: some(CONDITIONS, 2) })
  const genPolicy = (i: number): L7AuthorizationPolicy => {
    const action = pick(ACTIONS)
    const rules = random() < 0.15 ? [] : Array.from({ length: 1 + int(3) }, genRule)
    return policy(`p${i}`, action, rules, {
      namespace: pick(['default', 'istio-system']),
      dryRun: random() < 0.2,
      provider: action === 'CUSTOM' ? pick([null, 'opa']) : null,
    })
  }
  const policies = (): L7AuthorizationPolicy[] => Array.from({ length: int(6) }, (_, i) => genPolicy(i))
  const facts = (): L7RequestFacts => {
    const remoteIp = pick(REQUESTS.remoteIp)
    const destinationIp = pick(REQUESTS.destinationIp)
    const requestPrincipal = pick(REQUESTS.requestPrincipal)
    return {
      method: pick(REQUESTS.method),
      path: pick(REQUESTS.path),
      host: pick(REQUESTS.host),
      headers: pick(REQUESTS.headers),
      ...pick(REQUESTS.peer),
      sourceIp: pick(REQUESTS.sourceIp),
      destinationPort: pick(REQUESTS.destinationPort),
      ...(remoteIp === undefined ? {} : { remoteIp }),
      ...(destinationIp === undefined ? {} : { destinationIp }),
      ...(requestPrincipal === undefined ? {} : { requestPrincipal }),
    }
  }
  return { policies, facts }
}

const withoutTraces = ({ traces: _traces, ...verdict }: L7AuthzDecision): L7AuthzVerdict => verdict

const CASES = 4000

t.test('authorizeRequestVerdict = authorizeRequest without its traces, on generated policies × requests', async (t) => {
  const gen = generator(7)
  const mismatches: unknown[] = []
  const seen = new Map<string, number>()
  const count = (k: string) => seen.set(k, (seen.get(k) ?? 0) + 1)
  for (let i = 0; i < CASES; i++) {
    const policies = gen.policies()
    const facts = gen.facts()
    const fast = authorizeRequestVerdict(policies, facts)
    const full = authorizeRequest(policies, facts)
    if (!isDeepStrictEqual(fast, withoutTraces(full))) mismatches.push({ case: i, policies, facts, fast, full: withoutTraces(full) })
    // The explaining variant's deciding policy is one whose trace matched.
    if (full.policy !== null && !full.traces.some((tr) => tr.policy.name === full.policy!.name && tr.matchedRule !== null))
      mismatches.push({ case: i, problem: 'deciding policy without a matching trace', full })
    count(`${full.kind} ${full.policy === null ? 'without' : `by ${full.policy.action}`}`)
    for (const l of full.logs) count(`log ${l.kind}${l.kind === 'dry-run' ? ` ${l.message.replace(/^.*: /, '')}` : ''}`)
    if (full.traces.some((tr) => tr.misses.some((m) => m.includes('unsupported key')))) count('unknown when key')
    if (full.traces.some((tr) => tr.misses.some((m) => m.includes('empty source')))) count('empty source')
    if (full.traces.some((tr) => tr.misses.some((m) => m.includes('no rules')))) count('policy without rules')
  }
  t.equal(mismatches.length, 0, `${mismatches.length} of ${CASES} cases differ`)
  t.same(mismatches.slice(0, 2), [], 'first differing cases')
  const outcomes = [
    'allow without',
    'allow by ALLOW',
    'deny without',
    'deny by DENY',
    'deny by CUSTOM',
    'log audit',
    'log custom-unsupported',
    'log dry-run would allow',
    'log dry-run would not allow',
    'log dry-run would deny',
    'log dry-run would send to the CUSTOM provider',
    'log dry-run would not match',
    'unknown when key',
    'empty source',
    'policy without rules',
  ]
  for (const o of outcomes) t.ok((seen.get(o) ?? 0) > 0, `reached: ${o} (${seen.get(o) ?? 0} cases)`)
})

t.test('authorizeConnection = explainConnection without its traces (TCP at the waypoint)', async (t) => {
  const gen = generator(11)
  let differ = 0
  const kinds = new Set<string>()
  for (let i = 0; i < CASES / 4; i++) {
    const policies = gen.policies()
    const f = gen.facts()
    const facts = {
      sourcePrincipal: f.sourcePrincipal,
      sourceNamespace: f.sourceNamespace,
      sourceIp: f.sourceIp,
      destinationPort: f.destinationPort,
    }
    const fast = authorizeConnection(policies, facts)
    const full = explainConnection(policies, facts)
    kinds.add(fast.kind)
    if (!isDeepStrictEqual(fast, withoutTraces(full))) {
      differ++
      if (differ === 1) t.same(fast, withoutTraces(full), `first differing case ${i}`)
    }
  }
  t.equal(differ, 0, `cases that differ of ${CASES / 4}`)
  t.same([...kinds].sort(), ['allow', 'deny'], 'both verdicts reached')
})
