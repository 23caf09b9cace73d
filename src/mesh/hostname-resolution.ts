// Resolving a name, as an application in a pod wrote it, to a mesh Service: what the pod's DNS
// resolver would do with Kubernetes' resolv.conf, done against the mesh's services instead of DNS.
// socks mode needs it because `socks5h://` hands ztunnel the unresolved name (`reviews`), and
// ztunnel must pick the Service the pod meant.
//
// Kubernetes gives every pod (Kubernetes docs, "DNS for Services and Pods"):
//   search <ns>.svc.<cluster domain> svc.<cluster domain> <cluster domain>
//   options ndots:5
// resolv.conf(5) semantics, simplified to what matters for Service names:
// - a trailing dot makes the name absolute: it is tried as is and only as is;
// - a name with fewer than `ndots` dots tries each search domain first, then the name as is;
// - a name with `ndots` or more dots tries the name as is first, then the search domains.
// So `reviews.default.svc.cluster.local` (4 dots) is tried under the search list first, exactly as
// in a real pod; the extra candidates simply match nothing.
//
// Pure: no sockets, no DNS; the caller passes the lookup (MeshView.servicesByHostname fits).
import ipaddr from 'ipaddr.js'
import { isIP, isIPv4, isIPv6 } from 'node:net'
import type { Service } from './types.js'

export const DEFAULT_CLUSTER_DOMAIN = 'cluster.local'
/** The `ndots` Kubernetes writes into every pod's resolv.conf. */
export const KUBERNETES_NDOTS = 5

export type AddressFamily = 'ipv4' | 'ipv6'

export interface HostnameResolutionInput {
  /** The name as the application sent it (case does not matter; a trailing dot means absolute). */
  readonly name: string
  /** The namespace of the pod that asked: the first search domain is `<ns>.svc.<cluster domain>`. */
  readonly sourceNamespace: string
  readonly clusterDomain?: string
  /** Services with exactly this hostname, any namespace. */
  readonly lookup: (hostname: string) => readonly Service[]
  /** The VIP family to prefer; default IPv4. */
  readonly family?: AddressFamily
}

export type HostnameResolution =
  /** The name was an IP literal: nothing to resolve (canonical text). */
  | { readonly kind: 'ip'; readonly ip: string }
  | {
      readonly kind: 'service'
      readonly service: Service
      /** The candidate that matched (the Service's hostname). */
      readonly hostname: string
      /**
       * First VIP of the preferred family, else the first VIP of any family (ztunnel connects
       * upstream itself, so the client's family does not limit it); undefined for a Service
       * without VIPs (headless), whose endpoints the caller must pick.
       */
      readonly vip: string | undefined
      readonly tried: readonly string[]
    }
  /** No candidate matched a Service; `tried` lists them in order (empty for an invalid name). */
  | { readonly kind: 'not-found'; readonly name: string; readonly tried: readonly string[] }

export function resolveServiceHostname(input: HostnameResolutionInput): HostnameResolution {
  const name = input.name.trim().toLowerCase()
  if (isIP(name) !== 0) return { kind: 'ip', ip: ipaddr.process(name).toString() }
  const candidates = searchCandidates(name, input.sourceNamespace, input.clusterDomain ?? DEFAULT_CLUSTER_DOMAIN)
  const tried: string[] = []
  for (const hostname of candidates) {
    tried.push(hostname)
    const service = pickService(input.lookup(hostname), input.sourceNamespace)
    if (service !== undefined) {
      return { kind: 'service', service, hostname, vip: pickVip(service.addresses, input.family ?? 'ipv4'), tried }
    }
  }
  return { kind: 'not-found', name: input.name, tried }
}

/** The fully qualified names a pod's resolver would try for `name`, in order (resolv.conf(5)). */
export function searchCandidates(name: string, sourceNamespace: string, clusterDomain: string): readonly string[] {
  const normalized = name.trim().toLowerCase()
  if (normalized === '' || normalized === '.' || normalized.includes('..') || normalized.startsWith('.')) return []
  if (normalized.endsWith('.')) return [normalized.slice(0, -1)]
  const search = [`${sourceNamespace}.svc.${clusterDomain}`, `svc.${clusterDomain}`, clusterDomain]
  const underSearch = search.map((domain) => `${normalized}.${domain}`)
  const dots = normalized.split('.').length - 1
  return dots < KUBERNETES_NDOTS ? [...underSearch, normalized] : [normalized, ...underSearch]
}

/**
 * One hostname may name Services in several namespaces (ServiceEntries for the same host). The
 * client's own namespace wins, as a namespace-local ServiceEntry does in Istio; otherwise the lowest
 * namespace name, so that the choice never depends on the order the mesh state was built in.
 */
function pickService(services: readonly Service[], sourceNamespace: string): Service | undefined {
  const local = services.find((s) => s.namespace === sourceNamespace)
  if (local !== undefined) return local
  return [...services].sort((a, b) => (a.namespace < b.namespace ? -1 : a.namespace > b.namespace ? 1 : 0))[0]
}

function pickVip(addresses: readonly string[], family: AddressFamily): string | undefined {
  const ofFamily = addresses.find((a) => (family === 'ipv4' ? isIPv4(a) : isIPv6(a)))
  return ofFamily ?? addresses[0]
}
