// AMB0104: PeerAuthentication DISABLE (whole policy or a port) for ambient workloads. Ambient has no
// way to turn mTLS off between ztunnels: ztunnel only decides whether it also accepts plaintext on
// 15006, so DISABLE behaves as PERMISSIVE (docs/istio-reference.md, L4 authorization).
import type { Analyzer, Finding } from './analyzer.js'
import { policyReach } from './policy-reach.js'

export const peerAuthentication: Analyzer = {
  name: 'peer-authentication',
  analyze(ctx) {
    const out: Finding[] = []
    for (const pa of ctx.snapshot.PeerAuthentication) {
      const reach = policyReach(ctx, pa, pa.spec.selector?.matchLabels)
      if (!reach.ambient) continue
      const where = reach.scope === 'mesh' ? 'mesh-wide' : `namespace ${reach.scope}`
      if (pa.spec.mtls.mode === 'DISABLE') {
        out.push({ type: 'PeerAuthenticationDisableInAmbient', args: [`${where}, ambient workloads`], object: pa, path: 'spec.mtls.mode' })
      }
      for (const [port, { mode }] of Object.entries(pa.spec.portLevelMtls)) {
        if (mode === 'DISABLE') {
          out.push({
            type: 'PeerAuthenticationDisableInAmbient',
            args: [`port ${port}, ${where}`],
            object: pa,
            path: `spec.portLevelMtls.${port}.mode`,
          })
        }
      }
    }
    return out
  },
}
