// Authorizations that exercise every field of istio.security.Authorization: the round-trip table of
// convert.test.ts and the direct reader's comparison in authorization-bytes.test.ts.
import { match } from '../../../src/authz/policy.js'
import type { Authorization } from '../../../src/authz/policy.js'
import { policy as built } from '../mesh/builders.js'

/** A policy named `p` unless `over` names it. */
export const policy = (over: Partial<Authorization>): Authorization => built({ name: 'p', ...over })
export const POLICY_FIXTURES: Array<[string, Authorization]> = [
  ['no rules (allow nothing)', policy({})],
  ['empty rule matches everything', policy({ name: 'all', rules: [{ clauses: [] }] })],
  [
    'every match field, DENY, GLOBAL, dry run',
    policy({
      name: 'deny',
      namespace: 'istio-system',
      scope: 'GLOBAL',
      action: 'DENY',
      dryRun: true,
      rules: [
        {
          clauses: [
            {
              matches: [
                match({
                  namespaces: [{ exact: 'a' }, { prefix: 'b' }],
                  notNamespaces: [{ suffix: 'c' }, { presence: true }],
                  principals: [{ exact: 'cluster.local/ns/a/sa/b' }],
                  notPrincipals: [{ prefix: 'cluster.local/ns/x/' }],
                  sourceIps: [{ address: '10.0.0.0', length: 8 }],
                  notSourceIps: [{ address: '10.1.2.3', length: 32 }],
                  destinationIps: [{ address: 'fd00::', length: 64 }],
                  notDestinationIps: [{ address: '::1', length: 128 }],
                  destinationPorts: [80, 65535],
                  notDestinationPorts: [22],
                  serviceAccounts: [{ namespace: 'a', serviceAccount: 'b' }],
                  notServiceAccounts: [{ namespace: 'c', serviceAccount: 'd' }],
                }),
              ],
            },
            { matches: [match({ destinationPorts: [8080] }), match({ principals: [{ presence: true }] })] },
          ],
        },
      ],
    }),
  ],
  [
    'workload selector',
    policy({ name: 'sel', scope: 'WORKLOAD_SELECTOR', rules: [{ clauses: [{ matches: [match({ namespaces: [{ exact: 'x' }] })] }] }] }),
  ],
]
