// IST0101 (as a Warning) for a Pod or Deployment whose serviceAccountName has no ServiceAccount in
// the input. Kubernetes would refuse to create such pods; the emulator still runs them with that
// identity, so the workload works here and breaks in a cluster. `default` always exists.
import type { Analyzer, Finding } from './analyzer.js'

export const serviceAccounts: Analyzer = {
  name: 'service-accounts',
  analyze(ctx) {
    const known = new Set(ctx.snapshot.ServiceAccount.map((sa) => `${sa.metadata.namespace}/${sa.metadata.name}`))
    const out: Finding[] = []
    for (const w of ctx.workloads) {
      if (w.serviceAccount === 'default' || known.has(`${w.namespace}/${w.serviceAccount}`)) continue
      const path = w.object.kind === 'Deployment' ? 'spec.template.spec.serviceAccountName' : 'spec.serviceAccountName'
      out.push({
        type: 'ReferencedResourceNotFound',
        args: ['ServiceAccount', `${w.namespace}/${w.serviceAccount}`],
        object: w.object,
        path,
        level: 'Warning',
        note: 'Kubernetes would not create these pods; the emulator runs them with this identity',
        fix: `add a ServiceAccount ${w.serviceAccount} in namespace ${w.namespace}`,
      })
    }
    return out
  },
}
