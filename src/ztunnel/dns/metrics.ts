// ztunnel's DNS metrics (istio/ztunnel src/dns/metrics.rs; `istio_` prefix as ztunnel registers
// them): requests, forwarded requests, forwarding failures and the forwarding duration, each
// labelled with the query type, the protocol and the client's canonical service and revision.
// Registered on the ztunnel's own registry (src/observability/metrics.ts), once per registry.
import { Counter, Histogram, type Registry } from '../../observability/prom.js'
import type { Workload } from '../../mesh/types.js'

export const DNS_LABEL_NAMES = ['request_query_type', 'request_protocol', 'source_canonical_service', 'source_canonical_revision'] as const
export type DnsLabelName = (typeof DNS_LABEL_NAMES)[number]
export type DnsLabels = Record<DnsLabelName, string>

// ztunnel's buckets (0.001 s to 5 s); it lists 0.005 before 0.001, prom-client needs them sorted.
export const DNS_UPSTREAM_DURATION_BUCKETS_S = [0.001, 0.005, 0.01, 0.1, 1, 5]

export interface DnsMetrics {
  readonly requests: Counter<DnsLabelName>
  readonly upstreamRequests: Counter<DnsLabelName>
  readonly upstreamFailures: Counter<DnsLabelName>
  readonly upstreamDurationSeconds: Histogram<DnsLabelName>
}

export function dnsMetrics(registry: Registry): DnsMetrics {
  const counter = (name: string, help: string): Counter<DnsLabelName> =>
    (registry.getSingleMetric(name) as Counter<DnsLabelName> | undefined) ??
    new Counter({ name, help, labelNames: DNS_LABEL_NAMES, registers: [registry] })
  const durationName = 'istio_dns_upstream_request_duration_seconds'
  return {
    requests: counter('istio_dns_requests_total', 'Total number of DNS requests'),
    upstreamRequests: counter('istio_dns_upstream_requests_total', 'Total number of DNS requests forwarded to upstream'),
    upstreamFailures: counter('istio_dns_upstream_failures_total', 'Total number of DNS requests that failed to forward upstream'),
    upstreamDurationSeconds:
      (registry.getSingleMetric(durationName) as Histogram<DnsLabelName> | undefined) ??
      new Histogram({
        name: durationName,
        help: 'Total time in seconds to get a DNS response from upstream',
        labelNames: DNS_LABEL_NAMES,
        buckets: DNS_UPSTREAM_DURATION_BUCKETS_S,
        registers: [registry],
      }),
  }
}

/** Unknown values are `unknown`, as in every Istio metric label. */
export function dnsLabels(queryType: string, protocol: 'udp' | 'tcp', client: Workload | undefined): DnsLabels {
  return {
    request_query_type: queryType,
    request_protocol: protocol,
    source_canonical_service: client?.canonicalName || 'unknown',
    source_canonical_revision: client?.canonicalRevision || 'unknown',
  }
}
