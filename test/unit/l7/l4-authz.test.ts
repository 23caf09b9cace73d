// The L4-only evaluation of waypoint policies for TCP flows (src/l7/l4-authz.ts), and the
// HTTP response-flag labels the waypoint reports (traffic-labels' widened vocabulary).
import t from 'tap'
import type { L7AuthorizationPolicy } from '../../../src/mesh/waypoint-config.js'
import { formatResponseFlags, formatResponseFlags as labelFlags, httpLabels, tcpLabels } from '../../../src/observability/traffic-labels.js'
import { authorizeConnection, toL4Policy } from '../../../src/l7/l4-authz.js'
import { operation as op, source } from '../../helpers/waypoint-config.js'

const policy = (action: L7AuthorizationPolicy['action'], rules: L7AuthorizationPolicy['rules']): L7AuthorizationPolicy => ({
  name: `p-${action.toLowerCase()}`,
  namespace: 'default',
  action,
  provider: action === 'CUSTOM' ? 'ext' : null,
  dryRun: false,
  rules,
})

const PRODUCTPAGE = 'cluster.local/ns/default/sa/productpage'
const facts = { sourcePrincipal: PRODUCTPAGE, sourceNamespace: 'default', sourceIp: '10.0.0.1', destinationPort: 9080 }
const decide = (...policies: L7AuthorizationPolicy[]) => authorizeConnection(policies, facts).kind

t.test('ALLOW rules that need an HTTP field never match a TCP flow', async (t) => {
  const cases: [string, L7AuthorizationPolicy['rules'][number]][] = [
    ['methods', { from: [], to: [op({ methods: ['GET'] })], when: [] }],
    ['notPaths', { from: [], to: [op({ notPaths: ['/admin'] })], when: [] }],
    ['hosts', { from: [], to: [op({ hosts: ['reviews*'] })], when: [] }],
    ['requestPrincipals', { from: [source({ requestPrincipals: ['*'] })], to: [], when: [] }],
    ['request.headers', { from: [], to: [], when: [{ key: 'request.headers[x-a]', values: ['1'], notValues: [] }] }],
    ['request.auth.claims', { from: [], to: [], when: [{ key: 'request.auth.claims[iss]', values: ['x'], notValues: [] }] }],
  ]
  for (const [field, rule] of cases) t.equal(decide(policy('ALLOW', [rule])), 'deny', field)
  t.equal(
    decide(policy('ALLOW', [{ from: [source({ principals: [PRODUCTPAGE] })], to: [op({ ports: [9080] })], when: [] }])),
    'allow',
    'L4 fields only',
  )
  t.equal(
    decide(
      policy('ALLOW', [
        { from: [], to: [op({ methods: ['GET'] })], when: [] },
        { from: [source({ namespaces: ['default'] })], to: [], when: [] },
      ]),
    ),
    'allow',
    'another rule of the policy can still allow',
  )
  t.equal(
    toL4Policy(policy('ALLOW', [{ from: [], to: [op({ methods: ['GET'] })], when: [] }])).rules.length,
    0,
    'the rule is dropped; the policy stays (so it denies)',
  )
})

t.test('DENY rules have their HTTP fields ignored (they deny more), L4 fields kept', async (t) => {
  t.equal(decide(policy('DENY', [{ from: [], to: [op({ paths: ['/admin'] })], when: [] }])), 'deny', 'paths ignored: denies every flow')
  t.equal(
    decide(policy('DENY', [{ from: [source({ requestPrincipals: ['x/y'] })], to: [], when: [] }])),
    'deny',
    'requestPrincipals ignored',
  )
  t.equal(
    decide(policy('DENY', [{ from: [], to: [], when: [{ key: 'request.headers[x-a]', values: ['1'], notValues: [] }] }])),
    'deny',
    'request condition ignored',
  )
  t.equal(
    decide(policy('DENY', [{ from: [], to: [op({ methods: ['POST'], ports: [8080] })], when: [] }])),
    'allow',
    'the port still has to match',
  )
  t.equal(
    decide(
      policy('DENY', [
        {
          from: [source({ principals: ['cluster.local/ns/default/sa/curl'], requestPrincipals: ['*'] })],
          to: [op({ paths: ['/x'] })],
          when: [],
        },
      ]),
    ),
    'allow',
    'the principal still has to match',
  )
  t.equal(decide(policy('CUSTOM', [{ from: [], to: [op({ paths: ['/x'] })], when: [] }])), 'deny', 'CUSTOM fails closed the same way')
  t.equal(
    decide(
      policy('DENY', [{ from: [], to: [op({ ports: [9080] })], when: [] }]),
      policy('ALLOW', [{ from: [source({ principals: [PRODUCTPAGE] })], to: [], when: [] }]),
    ),
    'deny',
    'DENY before ALLOW',
  )
})

t.test('response flags: Envoy order, joined with commas; L4 flags unchanged', async (t) => {
  t.equal(formatResponseFlags(new Set()), '-')
  t.equal(formatResponseFlags(new Set(['FI', 'DI'] as const)), 'DI,FI')
  t.equal(formatResponseFlags(new Set(['URX', 'UO', 'UF'] as const)), 'UF,UO,URX')
  t.equal(labelFlags(undefined), '-')
  t.equal(labelFlags([]), '-')
  t.equal(labelFlags('DENY'), 'DENY')
  t.equal(labelFlags(['UO', 'URX']), 'UO,URX')
  const peer = { addr: '10.0.0.1:80' }
  t.equal(
    tcpLabels({ reporter: 'source', src: peer, dst: peer, securityPolicy: 'mutual_tls', responseFlags: 'CONNECT' }).response_flags,
    'CONNECT',
  )
  t.equal(
    httpLabels({
      reporter: 'waypoint',
      src: peer,
      dst: peer,
      securityPolicy: 'mutual_tls',
      requestProtocol: 'http',
      responseCode: 503,
      responseFlags: ['UO'],
    }).response_flags,
    'UO',
  )
})
