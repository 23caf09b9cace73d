// IST0101 (as a Warning) for an object in a namespace the input never creates. `kubectl apply` would
// refuse it ("namespaces X not found"); the emulator still applies it, so the mistake would only show
// in a real cluster. `default` and the root namespace exist in every Istio cluster. Only checked once
// the input declares Namespaces at all: a directory of bare examples (the seed's) relies on existing
// namespaces, and flagging each of them would be noise.
import { KINDS, type ConfigObject } from '../../resources/model.js'
import type { Analyzer, Finding } from './analyzer.js'

export const namespaces: Analyzer = {
  name: 'namespaces',
  analyze(ctx) {
    if (ctx.snapshot.Namespace.length === 0) return []
    const always = new Set(['default', ctx.rootNamespace])
    const out: Finding[] = []
    for (const kind of KINDS) {
      for (const obj of ctx.snapshot[kind] as readonly ConfigObject[]) {
        const ns = obj.metadata.namespace
        if (ns === '' || always.has(ns) || ctx.namespace(ns) !== undefined) continue
        out.push({
          type: 'ReferencedResourceNotFound',
          args: ['Namespace', ns],
          object: obj,
          path: 'metadata.namespace',
          level: 'Warning',
          note: 'kubectl apply would refuse this object; the emulator applies it',
          fix: `add a Namespace ${ns} (with istio.io/dataplane-mode: ambient for ambient workloads), or correct metadata.namespace`,
        })
      }
    }
    return out
  },
}
