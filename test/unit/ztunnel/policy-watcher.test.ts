// The policy watcher re-checks only the live flows a change can affect (namespace of the changed
// policy, workloads naming it, every flow for GLOBAL ones), and closes the ones now denied.
import t from 'tap'
import { match, type Authorization } from '../../../src/authz/policy.js'
import { SpiffeId } from '../../../src/identity/spiffe-id.js'
import type { MeshChange } from '../../../src/mesh/change.js'
import { MeshState } from '../../../src/mesh/state.js'
import { createCapturingLogger } from '../../../src/observability/capturing-logger.js'
import { createFlowRegistry } from '../../../src/observability/flow-registry.js'
import { createMetrics } from '../../../src/observability/metrics.js'
import { createPolicyWatcher } from '../../../src/ztunnel/policy-watcher.js'
import { policy, workload } from '../mesh/builders.js'

const SLEEP = SpiffeId.of({ namespace: 'client', serviceAccount: 'sleep' })

/** A DENY of everything from `client/sleep`. */
const denySleep = (o: Partial<Authorization> & { name: string }): Authorization =>
  policy({ action: 'DENY', rules: [{ clauses: [{ matches: [match({ principals: [{ exact: SLEEP.principal }] })] }] }], ...o })

function setup() {
  const mesh = new MeshState()
  mesh.apply([
    { op: 'upsert', kind: 'workload', value: workload({ uid: 'a1', namespace: 'a', addresses: ['10.0.0.1'] }) },
    {
      op: 'upsert',
      kind: 'workload',
      value: workload({ uid: 'b1', namespace: 'b', addresses: ['10.0.0.2'], authorizationPolicies: ['x/sel'] }),
    },
    { op: 'upsert', kind: 'workload', value: workload({ uid: 'c1', namespace: 'c', addresses: ['10.0.0.3'] }) },
    { op: 'upsert', kind: 'policy', value: policy({ name: 'old-global', namespace: 'istio-system', scope: 'GLOBAL', action: 'DENY' }) },
  ])
  const { logger } = createCapturingLogger()
  const metrics = createMetrics()
  const flows = createFlowRegistry()
  const watcher = createPolicyWatcher(mesh, flows, logger)
  mesh.subscribe((d) => watcher.onMeshDelta(d))
  const open = (id: string, uid: string, ip: string): void => {
    flows.open(
      {
        id,
        reporter: 'destination',
        direction: 'inbound',
        securityPolicy: 'mutual_tls',
        logger,
        metrics,
        src: { addr: '10.0.9.9:40000', identity: SLEEP },
        dst: { addr: `${ip}:8080` },
      },
      () => undefined,
    )
    watcher.track(id, uid, { srcIdentity: SLEEP, srcIp: '10.0.9.9', dstIp: ip, dstPort: 8080 })
  }
  for (let i = 0; i < 3; i++) {
    open(`a-${i}`, 'a1', '10.0.0.1')
    open(`b-${i}`, 'b1', '10.0.0.2')
    open(`c-${i}`, 'c1', '10.0.0.3')
  }
  const step = (changes: MeshChange[]): { rechecks: number; live: string[] } => {
    const before = watcher.rechecks
    mesh.apply(changes)
    return {
      rechecks: watcher.rechecks - before,
      live: flows
        .list()
        .map((f) => f.id)
        .sort(),
    }
  }
  return { mesh, flows, watcher, step }
}

t.test('a change re-checks only the flows it can affect', async (t) => {
  const { step, watcher } = setup()
  t.equal(watcher.size, 9)
  const all = ['a-0', 'a-1', 'a-2', 'b-0', 'b-1', 'b-2', 'c-0', 'c-1', 'c-2']
  const rows: { name: string; changes: MeshChange[]; rechecks: number; live: string[] }[] = [
    {
      name: 'a policy in a namespace with no live flows',
      changes: [{ op: 'upsert', kind: 'policy', value: denySleep({ name: 'd', namespace: 'z' }) }],
      rechecks: 0,
      live: all,
    },
    {
      name: 'an ALLOW in namespace c: c re-checked, still allowed',
      changes: [{ op: 'upsert', kind: 'policy', value: policy({ name: 'open', namespace: 'c', rules: [{ clauses: [] }] }) }],
      rechecks: 3,
      live: all,
    },
    {
      name: 'a selector policy named by b1 only',
      changes: [{ op: 'upsert', kind: 'policy', value: denySleep({ name: 'sel', namespace: 'x', scope: 'WORKLOAD_SELECTOR' }) }],
      rechecks: 3,
      live: all.filter((id) => !id.startsWith('b')),
    },
    {
      name: "a DENY in namespace a closes a's flows only",
      changes: [{ op: 'upsert', kind: 'policy', value: denySleep({ name: 'd', namespace: 'a' }) }],
      rechecks: 3,
      live: ['c-0', 'c-1', 'c-2'],
    },
    {
      name: 'a workload update re-checks its own flows',
      changes: [
        {
          op: 'upsert',
          kind: 'workload',
          value: workload({ uid: 'c1', namespace: 'c', addresses: ['10.0.0.3'], serviceAccount: 'other' }),
        },
      ],
      rechecks: 3,
      live: ['c-0', 'c-1', 'c-2'],
    },
  ]
  for (const row of rows) {
    const got = step(row.changes)
    t.same(got, { rechecks: row.rechecks, live: row.live }, row.name)
  }
})

t.test('GLOBAL policies re-check every flow, also when one is removed or stops being GLOBAL', async (t) => {
  const { step } = setup()
  t.same(step([{ op: 'remove', kind: 'policy', key: 'istio-system/old-global' }]).rechecks, 9, 'removing a GLOBAL known at start')
  t.same(
    step([
      { op: 'upsert', kind: 'policy', value: policy({ name: 'g', namespace: 'istio-system', scope: 'GLOBAL', rules: [{ clauses: [] }] }) },
    ]).rechecks,
    9,
  )
  t.same(
    step([{ op: 'upsert', kind: 'policy', value: policy({ name: 'g', namespace: 'istio-system', rules: [{ clauses: [] }] }) }]).rechecks,
    9,
    'GLOBAL → NAMESPACE of a namespace with no flows still re-checks all: it no longer applies to them',
  )
  t.same(
    step([{ op: 'upsert', kind: 'policy', value: denySleep({ name: 'g', namespace: 'istio-system', scope: 'GLOBAL' }) }]),
    { rechecks: 9, live: [] },
    'a GLOBAL DENY closes every flow',
  )
})

t.test('a removed destination workload closes its flows', async (t) => {
  const { step } = setup()
  t.same(step([{ op: 'remove', kind: 'workload', key: 'b1' }]), { rechecks: 3, live: ['a-0', 'a-1', 'a-2', 'c-0', 'c-1', 'c-2'] })
})
