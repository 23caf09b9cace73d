// Hostnames as istiod resolves them. A Kubernetes Service is `<name>.<namespace>.svc.<domain>`
// (the DNS domain is `cluster.local`, independent of the trust domain). Hosts written in Istio
// config are resolved relative to the namespace of the object holding them, with Istio's
// `ResolveShortnameToFQDN` rule, quirk included: only a name WITHOUT a dot is expanded
// (`reviews` in namespace `bookinfo` → `reviews.bookinfo.svc.cluster.local`); anything with a dot,
// `reviews.bookinfo` included, is taken as already fully qualified. Wildcards (`*`, `*.example.com`)
// match by suffix, as Istio's `host.Name.Matches` does.
import { canonicalIp } from '../../net/ip.js'

export const DNS_DOMAIN = 'cluster.local'

export function serviceHostname(name: string, namespace: string): string {
  return `${name}.${namespace}.svc.${DNS_DOMAIN}`
}

/** Istio's ResolveShortnameToFQDN. */
export function resolveHost(host: string, namespace: string): string {
  if (host === '' || host === '*' || canonicalIp(host) !== undefined) return host
  if (!host.includes('.')) return serviceHostname(host, namespace)
  return host
}

/** Does `pattern` (a resolved host, maybe a wildcard) match the concrete `hostname`? */
export function hostMatches(pattern: string, hostname: string): boolean {
  if (pattern === '*') return true
  if (pattern.startsWith('*.')) return hostname.endsWith(pattern.slice(1))
  return pattern === hostname
}

/**
 * The `name.namespace` mistake: a dotted host that Istio reads as a full name but that is clearly
 * meant as a Service (`<name>.<namespace>` of an existing one). Returns the FQDN it was meant as.
 */
export function meantAsService(host: string, serviceHostnames: ReadonlySet<string>): string | undefined {
  const parts = host.split('.')
  if (parts.length !== 2 && !(parts.length === 3 && parts[2] === 'svc')) return undefined
  const fqdn = serviceHostname(parts[0]!, parts[1]!)
  return serviceHostnames.has(fqdn) ? fqdn : undefined
}

/** Exact hosts first, then longer (more specific) wildcards, as Istio picks among DestinationRules. */
export function hostSpecificity(pattern: string): number {
  if (!pattern.includes('*')) return Number.MAX_SAFE_INTEGER
  return pattern.length
}
