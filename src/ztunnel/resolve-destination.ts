// Turns what the capture learned (an IP, or a hostname from SOCKS5 `socks5h`) into the planner's
// destination. Hostnames resolve against mesh Services with Kubernetes search-domain rules from the
// source pod's namespace (src/mesh/hostname-resolution.ts); ztunnel never asks a DNS server.
import type { OriginalDestination } from '../capture/capture.js'
import { resolveServiceHostname } from '../mesh/hostname-resolution.js'
import type { MeshView, Workload } from '../mesh/types.js'
import { formatHostPort } from '../net/address.js'
import type { OutboundDestination } from './outbound-plan.js'

export type ResolvedDestination =
  | { readonly ok: true; readonly dst: OutboundDestination; readonly display: string }
  | { readonly ok: false; readonly reason: string; readonly display: string }

export function resolveDestination(
  mesh: MeshView,
  source: Workload,
  original: OriginalDestination,
  clusterDomain: string,
): ResolvedDestination {
  if (original.kind === 'ip')
    return { ok: true, dst: { ip: original.ip, port: original.port }, display: formatHostPort(original.ip, original.port) }
  const display = `${original.hostname}:${original.port}`
  const r = resolveServiceHostname({
    name: original.hostname,
    sourceNamespace: source.namespace,
    clusterDomain,
    lookup: (h) => mesh.servicesByHostname(h),
  })
  switch (r.kind) {
    case 'ip':
      return { ok: true, dst: { ip: r.ip, port: original.port }, display }
    case 'service':
      return { ok: true, dst: { service: r.service, port: original.port }, display }
    case 'not-found':
      return {
        ok: false,
        reason: `unknown hostname "${original.hostname}": no Service (tried ${r.tried.join(', ') || 'nothing: not a valid name'})`,
        display,
      }
  }
}
