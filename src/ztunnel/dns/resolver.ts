// What ztunnel's DNS proxy answers itself, decided from mesh state: pure, no sockets.
// The proxy (proxy.ts) executes the decision: it encodes the answer, or forwards the query upstream.
//
// The behaviour is ztunnel's (docs/istio-reference.md, DNS proxy; istio/ztunnel src/dns/server.rs):
// A/AAAA only, Service hostnames as written, expanded to the client namespace's Kubernetes FQDN, or
// with a search domain stripped (then a CNAME to the stripped name); wildcards; the client's
// namespace first, else the lowest namespace name (deterministic; ztunnel also has a configurable
// preferred namespace); VIPs on the client's network, headless Services' endpoint IPs; NODATA for a
// missing family; unknown client → SERVFAIL; everything else forwarded.
// Differences: no per-pod hostnames of headless Services (ztunnel has them partly), and the order of
// addresses is the state's, not shuffled.
import type { MeshView, Service, Workload } from '../../mesh/types.js'
import { DnsClass, DnsType, type DnsQuestion, type DnsRecord } from './message.js'

/** ztunnel's DEFAULT_TTL_SECONDS. */
export const DNS_TTL_SECONDS = 30

export type DnsDecision =
  | {
      readonly kind: 'answer'
      readonly service: Service
      /** The hostname (or wildcard host) that matched. */
      readonly host: string
      /** CNAME (when found by stripping a search domain) then A/AAAA; may be empty (NODATA). */
      readonly records: readonly DnsRecord[]
      readonly reason: string
    }
  | {
      readonly kind: 'forward'
      readonly reason: 'unsupported-type' | 'not-found'
      /** For an unsupported type: the Service the name belongs to, when it is one of ours. */
      readonly service: Service | undefined
    }
  | { readonly kind: 'servfail'; readonly reason: 'unknown-source' }

export interface DnsResolveInput {
  readonly question: DnsQuestion
  /** The pod that asked; undefined when its workload is not (or no longer) in mesh state. */
  readonly client: Workload | undefined
  readonly mesh: MeshView
  readonly clusterDomain: string
}

export function resolveDnsQuestion(input: DnsResolveInput): DnsDecision {
  const { question, client, mesh } = input
  if (client === undefined) return { kind: 'servfail', reason: 'unknown-source' }
  const asked = question.name
  const name = normalize(asked)
  const domain = normalize(input.clusterDomain)
  const match = findService(mesh, client, name, domain)
  const ipType = question.class === DnsClass.IN && (question.type === DnsType.A || question.type === DnsType.AAAA)
  if (!ipType) return { kind: 'forward', reason: 'unsupported-type', service: match?.service }
  if (match === undefined) return { kind: 'forward', reason: 'not-found', service: undefined }

  const family = question.type === DnsType.A ? 'a' : 'aaaa'
  const addresses = addressesOf(mesh, match.service, client, family)
  const records: DnsRecord[] = []
  let owner = asked
  if (match.stripped !== undefined && !match.host.startsWith('*.')) {
    records.push({
      name: asked,
      type: DnsType.CNAME,
      class: DnsClass.IN,
      ttl: DNS_TTL_SECONDS,
      data: { kind: 'cname', target: match.stripped },
    })
    owner = match.stripped
  }
  for (const address of addresses) {
    records.push({
      name: owner,
      type: question.type,
      class: DnsClass.IN,
      ttl: DNS_TTL_SECONDS,
      data: { kind: family, address },
    })
  }
  const reason = addresses.length === 0 ? `no ${family === 'a' ? 'IPv4' : 'IPv6'} address on the client's network` : 'success'
  // No address of the family: the name exists, so NOERROR with nothing (not even the CNAME), as ztunnel.
  return { kind: 'answer', service: match.service, host: match.host, records: addresses.length === 0 ? [] : records, reason }
}

interface Candidate {
  readonly name: string
  /** The asked name with a search domain removed, when this candidate came from it. */
  readonly stripped: string | undefined
}

interface Match {
  readonly service: Service
  readonly host: string
  readonly stripped: string | undefined
}

/** The names to try for `name`, in ztunnel's order, without duplicates. */
export function dnsCandidates(name: string, namespace: string, clusterDomain: string): readonly Candidate[] {
  const out: Candidate[] = []
  const seen = new Set<string>()
  const add = (c: Candidate): void => {
    if (c.name === '' || seen.has(c.name)) return
    seen.add(c.name)
    out.push(c)
  }
  add({ name, stripped: undefined })
  for (const fqdn of kubeFqdns(name, namespace, clusterDomain)) add({ name: fqdn, stripped: undefined })
  for (const searchDomain of [`${namespace}.svc.${clusterDomain}`, `svc.${clusterDomain}`, clusterDomain]) {
    if (!name.endsWith(`.${searchDomain}`)) continue
    const stripped = name.slice(0, -searchDomain.length - 1)
    add({ name: stripped, stripped })
    for (const fqdn of kubeFqdns(stripped, namespace, clusterDomain)) add({ name: fqdn, stripped })
  }
  return out
}

/** The Kubernetes Service FQDN a partial name stands for (ztunnel's service forms only). */
function kubeFqdns(name: string, namespace: string, clusterDomain: string): string[] {
  const labels = name.split('.')
  switch (labels.length) {
    case 1:
      return [`${name}.${namespace}.svc.${clusterDomain}`]
    case 2:
      return [`${name}.svc.${clusterDomain}`]
    case 3:
      return labels[2] === 'svc' ? [`${name}.${clusterDomain}`] : []
    default:
      return []
  }
}

/** `a.b.c` → `a.b.c`, `*.b.c`, `*.c`. */
export function wildcards(name: string): readonly string[] {
  const out = [name]
  const labels = name.split('.')
  for (let i = 1; i < labels.length; i++) out.push(`*.${labels.slice(i).join('.')}`)
  return out
}

function findService(mesh: MeshView, client: Workload, name: string, clusterDomain: string): Match | undefined {
  if (name === '') return undefined
  const headlessSuffix = `.svc.${clusterDomain}`
  for (const candidate of dnsCandidates(name, client.namespace, clusterDomain)) {
    for (const host of wildcards(candidate.name)) {
      const services = mesh.servicesByHostname(host).filter((s) => s.addresses.length > 0 || s.hostname.endsWith(headlessSuffix))
      const service = pickService(services, client.namespace)
      if (service !== undefined) return { service, host, stripped: candidate.stripped }
    }
  }
  return undefined
}

function pickService(services: readonly Service[], namespace: string): Service | undefined {
  if (services.length === 0) return undefined
  return (
    services.find((s) => s.namespace === namespace) ??
    [...services].sort((a, b) => (a.namespace < b.namespace ? -1 : a.namespace > b.namespace ? 1 : 0))[0]
  )
}

function addressesOf(mesh: MeshView, service: Service, client: Workload, family: 'a' | 'aaaa'): string[] {
  const ofFamily = (ip: string): boolean => (family === 'a' ? !ip.includes(':') : ip.includes(':'))
  if (service.addresses.length === 0) {
    // Headless: one address of the family per healthy endpoint (Kubernetes DNS publishes ready
    // endpoints; health is our model's readiness).
    const out: string[] = []
    for (const w of mesh.endpointsOf(`${service.namespace}/${service.hostname}`)) {
      if (w.status !== 'HEALTHY') continue
      const ip = w.addresses.find(ofFamily)
      if (ip !== undefined) out.push(ip)
    }
    return out
  }
  if ((service.network ?? '') !== client.network) return []
  return service.addresses.filter(ofFamily)
}

function normalize(name: string): string {
  const lower = name.toLowerCase()
  return lower.endsWith('.') ? lower.slice(0, -1) : lower
}
