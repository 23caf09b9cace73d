// Istio's standard metric labels, built from plain peer descriptions. Observability does not know
// src/mesh: callers map their Workload and Service to a FlowPeer. Every label is always present and
// an unknown value is the string "unknown", as Istio reports it, so series from different paths line
// up in one query.
import type { SpiffeId } from '../identity/spiffe-id.js'

export type Reporter = 'source' | 'destination' | 'waypoint'
export type ConnectionSecurityPolicy = 'mutual_tls' | 'unknown'
/** ztunnel's (L4) values of the `response_flags` label. */
export const RESPONSE_FLAGS = ['-', 'DENY', 'CONNECT', 'TLS_FAILURE', 'NETWORK_POLICY', 'IDENTITY_ERROR'] as const
export type L4ResponseFlag = (typeof RESPONSE_FLAGS)[number]
/**
 * Envoy's HTTP response flags as a waypoint reports them, in Envoy's print order (the order they
 * appear in when several are joined with `,`). ztunnel never produces these.
 *   UH no healthy upstream · UF upstream connect failure · UO overflow (circuit breaker, retry budget)
 *   NR no route · URX retry limit exceeded · UC upstream connection termination · DC downstream
 *   connection termination · DPE downstream protocol error (a malformed request) · UT upstream
 *   request timeout · RL rate limited · DI fault delay ·
 *   FI fault abort · RBAC denied by L7 authorization.
 */
export const HTTP_RESPONSE_FLAGS = ['UH', 'UF', 'UO', 'NR', 'URX', 'UC', 'DC', 'DPE', 'UT', 'RL', 'DI', 'FI', 'RBAC'] as const
export type HttpResponseFlag = (typeof HTTP_RESPONSE_FLAGS)[number]
export type ResponseFlag = L4ResponseFlag | HttpResponseFlag

export const UNKNOWN = 'unknown'

/** One end of a flow, as far as it is known. Everything but the address may be missing. */
export interface FlowPeer {
  /** `ip:port`, IPv6 bracketed. */
  addr: string
  workload?: string
  namespace?: string
  identity?: SpiffeId
  canonicalService?: string
  canonicalRevision?: string
  app?: string
  version?: string
  cluster?: string
  service?: { name: string; namespace: string; hostname: string }
}

export const TCP_LABEL_NAMES = [
  'reporter',
  'source_workload',
  'source_canonical_service',
  'source_canonical_revision',
  'source_workload_namespace',
  'source_principal',
  'source_app',
  'source_version',
  'source_cluster',
  'destination_service',
  'destination_service_namespace',
  'destination_service_name',
  'destination_workload',
  'destination_canonical_service',
  'destination_canonical_revision',
  'destination_workload_namespace',
  'destination_principal',
  'destination_app',
  'destination_version',
  'destination_cluster',
  'request_protocol',
  'response_flags',
  'connection_security_policy',
] as const
export type TcpLabelName = (typeof TCP_LABEL_NAMES)[number]
export type TcpLabels = Record<TcpLabelName, string>

export const HTTP_LABEL_NAMES = [...TCP_LABEL_NAMES, 'response_code', 'grpc_response_status'] as const
export type HttpLabelName = (typeof HTTP_LABEL_NAMES)[number]
export type HttpLabels = Record<HttpLabelName, string>

export interface TrafficLabelInput {
  reporter: Reporter
  src: FlowPeer
  dst: FlowPeer
  securityPolicy: ConnectionSecurityPolicy
  /** One flag, or several (HTTP) joined with `,` in the given order; none or `[]` is `-`. */
  responseFlags?: ResponseFlag | readonly ResponseFlag[]
  /** `tcp` for L4 flows; `http`, `grpc` for requests a waypoint handles. */
  requestProtocol?: string
}

export function tcpLabels(input: TrafficLabelInput): TcpLabels {
  const { src, dst } = input
  return {
    reporter: input.reporter,
    source_workload: known(src.workload),
    source_canonical_service: known(src.canonicalService),
    source_canonical_revision: known(src.canonicalRevision),
    source_workload_namespace: known(src.namespace),
    // Istio reports the full URI (spiffe://...), unlike authorization which compares without it.
    source_principal: known(src.identity?.toString()),
    source_app: known(src.app),
    source_version: known(src.version),
    source_cluster: known(src.cluster),
    destination_service: known(dst.service?.hostname),
    destination_service_namespace: known(dst.service?.namespace),
    destination_service_name: known(dst.service?.name),
    destination_workload: known(dst.workload),
    destination_canonical_service: known(dst.canonicalService),
    destination_canonical_revision: known(dst.canonicalRevision),
    destination_workload_namespace: known(dst.namespace),
    destination_principal: known(dst.identity?.toString()),
    destination_app: known(dst.app),
    destination_version: known(dst.version),
    destination_cluster: known(dst.cluster),
    request_protocol: input.requestProtocol ?? 'tcp',
    response_flags: formatResponseFlags(input.responseFlags),
    connection_security_policy: input.securityPolicy,
  }
}

export interface HttpLabelInput extends TrafficLabelInput {
  requestProtocol: string
  responseCode: number
  /** gRPC status code, when the request was gRPC. */
  grpcResponseStatus?: number | undefined
}

export function httpLabels(input: HttpLabelInput): HttpLabels {
  // The TCP labels object grown by two keys (same order as a spread into a new object, one object less).
  const labels = tcpLabels(input) as HttpLabels
  labels.response_code = String(input.responseCode)
  labels.grpc_response_status = input.grpcResponseStatus === undefined ? UNKNOWN : String(input.grpcResponseStatus)
  return labels
}

/** The flags in Envoy's print order (HTTP_RESPONSE_FLAGS; ztunnel's L4 flags keep their order), `-` dropped. */
export function orderedResponseFlags<F extends ResponseFlag>(flags: Iterable<F>): Exclude<F, '-'>[] {
  const rank = (f: ResponseFlag): number => (HTTP_RESPONSE_FLAGS as readonly string[]).indexOf(f)
  return [...flags].filter((f): f is Exclude<F, '-'> => f !== '-').sort((a, b) => rank(a) - rank(b))
}

/** `-` for none, else the flags in Envoy's print order joined with `,` (Envoy's %RESPONSE_FLAGS% form). */
export function formatResponseFlags(flags: ResponseFlag | Iterable<ResponseFlag> | undefined): string {
  if (flags === undefined) return '-'
  if (typeof flags === 'string') return flags
  // No flags, most requests' case: no copy, no sort.
  if (Array.isArray(flags) ? flags.length === 0 : flags instanceof Set && flags.size === 0) return '-'
  const ordered = orderedResponseFlags(flags)
  return ordered.length === 0 ? '-' : ordered.join(',')
}

function known(v: string | undefined): string {
  return v === undefined || v === '' ? UNKNOWN : v
}
