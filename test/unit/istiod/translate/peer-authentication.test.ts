// PeerAuthentication → ztunnel DENY policies (src/istiod/translate/peer-authentication.ts), checked
// through the real evaluator: STRICT denies a peer without identity and admits an mTLS peer.
import t from 'tap'
import { applicablePolicies } from '../../../../src/authz/applicable.js'
import { authorize } from '../../../../src/authz/rbac.js'
import { SpiffeId } from '../../../../src/identity/spiffe-id.js'
import { TranslationCode, type TranslationMessage } from '../../../../src/istiod/translate/index.js'
import type { Translation } from '../../../../src/istiod/translate/index.js'
import { deployment, fixture, run, workloadNamed } from './helpers.js'

const pa = (name: string, namespace: string, mode: string, extra = ''): string => `
apiVersion: security.istio.io/v1
kind: PeerAuthentication
metadata: {name: ${name}, namespace: ${namespace}}
spec:
  mtls: {mode: ${mode}}
${extra}
---
`

/** Is a connection to `pod` on `port` allowed, plaintext (no identity) or over mTLS? */
function admits(out: Translation, pod: string, port: number, mtls: boolean): boolean {
  const w = workloadNamed(out, pod)
  const peer = mtls ? SpiffeId.of({ namespace: 'other', serviceAccount: 'client' }) : undefined
  return authorize(
    { srcIdentity: peer, srcIp: '127.244.9.9', dstIp: w.addresses[0]!, dstPort: port },
    applicablePolicies(w, out.mesh.policies),
  ).allowed
}

interface Row {
  name: string
  yaml: string[]
  plaintext: Record<string, boolean>
  policies: Record<string, string[]>
  messages?: string[]
}

const apps = deployment('web', { ns: 'apps' }) + deployment('db', { ns: 'apps' }) + deployment('batch', { ns: 'jobs' })
const rows: Row[] = [
  {
    name: 'no PeerAuthentication: PERMISSIVE everywhere',
    yaml: [apps],
    plaintext: { web: true, db: true, batch: true },
    policies: { web: [], batch: [] },
  },
  {
    name: 'mesh-wide STRICT (root namespace)',
    yaml: [apps, pa('default', 'istio-system', 'STRICT')],
    plaintext: { web: false, db: false, batch: false },
    policies: { web: ['istio-system/istio_converted_static_strict'], batch: ['istio-system/istio_converted_static_strict'] },
  },
  {
    name: 'namespace STRICT: only that namespace',
    yaml: [apps, pa('default', 'apps', 'STRICT')],
    plaintext: { web: false, db: false, batch: true },
    policies: { web: ['istio-system/istio_converted_static_strict'], batch: [] },
  },
  {
    name: 'namespace PERMISSIVE under mesh STRICT',
    yaml: [apps, pa('default', 'istio-system', 'STRICT'), pa('default', 'apps', 'PERMISSIVE')],
    plaintext: { web: true, db: true, batch: false },
    policies: { web: [] },
  },
  {
    name: 'namespace UNSET inherits mesh STRICT',
    yaml: [apps, pa('default', 'istio-system', 'STRICT'), pa('default', 'apps', 'UNSET')],
    plaintext: { web: false, batch: false },
    policies: { web: ['istio-system/istio_converted_static_strict'] },
  },
  {
    name: 'selector STRICT: only the selected workload, with its own policy',
    yaml: [apps, pa('web-strict', 'apps', 'STRICT', '  selector: {matchLabels: {app: web}}')],
    plaintext: { web: false, db: true },
    policies: { web: ['apps/converted_peer_authentication_web-strict'], db: [] },
  },
  {
    name: 'selector PERMISSIVE under namespace STRICT',
    yaml: [apps, pa('default', 'apps', 'STRICT'), pa('web-open', 'apps', 'PERMISSIVE', '  selector: {matchLabels: {app: web}}')],
    plaintext: { web: true, db: false },
    policies: { web: [], db: ['istio-system/istio_converted_static_strict'] },
  },
  {
    name: 'DISABLE is reported and read as PERMISSIVE',
    yaml: [apps, pa('default', 'apps', 'DISABLE')],
    plaintext: { web: true },
    policies: { web: [] },
    messages: [TranslationCode.peerAuthenticationDisable],
  },
]

for (const r of rows) {
  t.test(r.name, async (t) => {
    const out = run(r.yaml)
    for (const [pod, want] of Object.entries(r.plaintext)) {
      t.equal(admits(out, pod, 8080, false), want, `${pod}: plaintext ${want ? 'admitted' : 'denied'}`)
      t.equal(admits(out, pod, 8080, true), true, `${pod}: mTLS admitted`)
    }
    for (const [pod, keys] of Object.entries(r.policies)) t.same(workloadNamed(out, pod).authorizationPolicies, keys, `${pod} lists`)
    t.same(
      out.messages.map((m: TranslationMessage) => m.code),
      r.messages ?? [],
    )
  })
}

t.test('portLevelMtls: STRICT workload with a PERMISSIVE port, and the reverse', async (t) => {
  const strictButPort = pa('web', 'apps', 'STRICT', '  selector: {matchLabels: {app: web}}\n  portLevelMtls:\n    9000: {mode: PERMISSIVE}')
  const out = run([apps, strictButPort])
  t.equal(admits(out, 'web', 8080, false), false)
  t.equal(admits(out, 'web', 9000, false), true)
  const permissiveButPort = pa(
    'web',
    'apps',
    'PERMISSIVE',
    '  selector: {matchLabels: {app: web}}\n  portLevelMtls:\n    9000: {mode: STRICT}',
  )
  const out2 = run([apps, permissiveButPort])
  t.equal(admits(out2, 'web', 8080, false), true)
  t.equal(admits(out2, 'web', 9000, false), false)
})

t.test('the seed: namespace-level STRICT in my-namespace', async (t) => {
  const out = run([
    ...fixture('seed/06-peerauthentication-strict.yaml'),
    deployment('app', { ns: 'my-namespace' }),
    deployment('app', { ns: 'elsewhere' }),
  ])
  const policy = out.mesh.policies.find((p) => p.name === 'istio_converted_static_strict')!
  t.match(policy, { namespace: 'istio-system', scope: 'WORKLOAD_SELECTOR', action: 'DENY' })
  t.same(policy.rules[0]!.clauses[0]!.matches[0]!.notPrincipals, [{ presence: true }])
  const inNs = out.mesh.workloads.find((w) => w.namespace === 'my-namespace')!
  const outside = out.mesh.workloads.find((w) => w.namespace === 'elsewhere')!
  t.same(inNs.authorizationPolicies, ['istio-system/istio_converted_static_strict'])
  t.same(outside.authorizationPolicies, [])
})
