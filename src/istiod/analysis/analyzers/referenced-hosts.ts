// IST0101 for the hosts and subsets routes name: VirtualService destinations and mirrors, and
// DestinationRule hosts. Istio's destination analyzer reports these as errors; the input of `ambient
// analyze` is often only part of a cluster (a directory of Istio config without the Services), so a
// host in a namespace the input says nothing about is reported as a Warning with a note: the input
// cannot show it is wrong. Hosts outside the cluster domain and wildcards are not checked
// (ServiceEntry is not modelled).
import type { Destination, DestinationRule, VirtualService } from '../../resources/model.js'
import type { AnalysisContext, HostLookup } from '../context.js'
import type { Analyzer, Finding } from './analyzer.js'

export const referencedHosts: Analyzer = {
  name: 'referenced-hosts',
  analyze(ctx) {
    const out: Finding[] = []
    for (const vs of ctx.snapshot.VirtualService) {
      vs.spec.http.forEach((route, i) => {
        route.route.forEach((rd, j) => checkDestination(ctx, vs, rd.destination, `spec.http[${i}].route[${j}].destination`, 'host', out))
        if (route.mirror !== undefined) checkDestination(ctx, vs, route.mirror, `spec.http[${i}].mirror`, 'mirror host', out)
      })
      vs.spec.tcp.forEach((route, i) => {
        route.route.forEach((rd, j) => checkDestination(ctx, vs, rd.destination, `spec.tcp[${i}].route[${j}].destination`, 'host', out))
      })
    }
    for (const dr of ctx.snapshot.DestinationRule) {
      const found = ctx.lookupHost(dr.spec.host, dr.metadata.namespace)
      const f = hostFinding(ctx, found, dr, dr.spec.host, 'spec.host', 'host')
      if (f !== undefined) out.push(f)
    }
    return out
  },
}

function checkDestination(ctx: AnalysisContext, vs: VirtualService, d: Destination, path: string, reftype: string, out: Finding[]): void {
  const found = ctx.lookupHost(d.host, vs.metadata.namespace)
  const f = hostFinding(ctx, found, vs, d.host, `${path}.host`, reftype)
  if (f !== undefined) out.push(f)
  if (d.subset === undefined || found.kind === 'unchecked') return
  const fqdn =
    found.kind === 'service' ? `${found.service.metadata.name}.${found.service.metadata.namespace}.svc.cluster.local` : found.fqdn
  const rules = ctx.snapshot.DestinationRule.filter((dr) => fqdnOf(ctx, dr) === fqdn)
  if (rules.some((dr) => dr.spec.subsets.some((s) => s.name === d.subset))) return
  const namespace = found.kind === 'service' ? found.service.metadata.namespace : found.namespace
  const partial = rules.length === 0 && !ctx.describes(namespace)
  out.push({
    type: 'ReferencedResourceNotFound',
    args: ['host+subset in destinationrule', `${d.host}+${d.subset}`],
    object: vs,
    path: `${path}.subset`,
    fix:
      rules.length === 0
        ? `add a DestinationRule for host ${d.host} with subsets: [{name: ${d.subset}, labels: {...}}]`
        : `define subset ${d.subset} in DestinationRule ` +
          `${rules.map((r) => `${r.metadata.namespace}/${r.metadata.name}`).join(', ')}, or use one of its ` +
          `subsets: ${rules.flatMap((r) => r.spec.subsets.map((s) => s.name)).join(', ') || '(none)'}`,
    ...(partial
      ? { level: 'Warning', note: `the input has no DestinationRule for it and describes nothing of namespace ${namespace}` }
      : {}),
  })
}

function fqdnOf(ctx: AnalysisContext, dr: DestinationRule): string | undefined {
  const found = ctx.lookupHost(dr.spec.host, dr.metadata.namespace)
  switch (found.kind) {
    case 'service':
      return `${found.service.metadata.name}.${found.service.metadata.namespace}.svc.cluster.local`
    case 'missing':
      return found.fqdn
    case 'not-fqdn':
      return found.fqdn
    case 'unchecked':
      return undefined
  }
}

function hostFinding(
  ctx: AnalysisContext,
  found: HostLookup,
  object: VirtualService | DestinationRule,
  host: string,
  path: string,
  reftype: string,
): Finding | undefined {
  switch (found.kind) {
    case 'service':
    case 'unchecked':
      return undefined
    case 'not-fqdn':
      return {
        type: 'ReferencedResourceNotFound',
        args: [reftype, host],
        object,
        path,
        note: 'a host with a dot is read as a full name',
        fix: `write ${found.suggestion} (or the short name when in the same namespace)`,
      }
    case 'missing': {
      const partial = !ctx.describes(found.namespace)
      return {
        type: 'ReferencedResourceNotFound',
        args: [reftype, host],
        object,
        path,
        fix: `create Service ${found.fqdn.split('.')[0] ?? host} in namespace ${found.namespace}, or correct the host`,
        ...(partial
          ? {
              level: 'Warning',
              note: `the input describes nothing of namespace ${found.namespace}; ignore this if the Service exists in the cluster`,
            }
          : {}),
      }
    }
  }
}
