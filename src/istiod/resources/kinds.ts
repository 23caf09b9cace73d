// The kinds istiod reads: which apiVersions serve each (the ones Istio and Kubernetes still serve,
// so manifests written for older releases apply), whether it is namespaced, and its decoder.
import { type Fields, type Issues, type Known, isMapping } from './fields.js'
import { ConfigMessageCode } from './messages.js'
import type { JsonValue, Kind, ObjectBody } from './model.js'
import { decodeDeployment, decodeNamespaced, decodePod, decodeService } from './parse-core.js'
import { decodeDestinationRule } from './parse-destination-rule.js'
import { decodeGateway, decodeHttpRoute } from './parse-gateway.js'
import { decodeAuthorizationPolicy, decodePeerAuthentication } from './parse-security.js'
import { decodeVirtualService } from './parse-virtual-service.js'

export interface KindInfo<K extends Kind> {
  /** Accepted apiVersions; the first is the one hints recommend. */
  readonly apiVersions: readonly string[]
  readonly namespaced: boolean
  /** Top-level fields; `true` for Kubernetes kinds, whose many other fields we ignore. */
  readonly topLevel: Known
  readonly decode: (top: Fields, issues: Issues) => ObjectBody<K> | undefined
}

const CRD_TOP = ['apiVersion', 'kind', 'metadata', 'spec', 'status']

/** A namespaced custom resource of API group `group`, served at `versions` (the first is recommended). */
function crd<K extends Kind>(group: string, versions: readonly string[], decode: KindInfo<K>['decode']): KindInfo<K> {
  return { apiVersions: versions.map((v) => `${group}/${v}`), namespaced: true, topLevel: CRD_TOP, decode }
}

export const KIND_INFO: { readonly [K in Kind]: KindInfo<K> } = {
  Namespace: { apiVersions: ['v1'], namespaced: false, topLevel: true, decode: decodeNamespaced },
  ServiceAccount: { apiVersions: ['v1'], namespaced: true, topLevel: true, decode: decodeNamespaced },
  Pod: { apiVersions: ['v1'], namespaced: true, topLevel: true, decode: decodePod },
  Deployment: { apiVersions: ['apps/v1'], namespaced: true, topLevel: true, decode: decodeDeployment },
  Service: { apiVersions: ['v1'], namespaced: true, topLevel: true, decode: decodeService },
  AuthorizationPolicy: crd('security.istio.io', ['v1', 'v1beta1'], decodeAuthorizationPolicy),
  PeerAuthentication: crd('security.istio.io', ['v1', 'v1beta1'], decodePeerAuthentication),
  VirtualService: crd('networking.istio.io', ['v1', 'v1beta1', 'v1alpha3'], decodeVirtualService),
  DestinationRule: crd('networking.istio.io', ['v1', 'v1beta1', 'v1alpha3'], decodeDestinationRule),
  Gateway: crd('gateway.networking.k8s.io', ['v1', 'v1beta1'], decodeGateway),
  HTTPRoute: crd('gateway.networking.k8s.io', ['v1', 'v1beta1'], decodeHttpRoute),
  Telemetry: crd('telemetry.istio.io', ['v1', 'v1alpha1'], decodeTelemetry),
}

export function isKnownKind(kind: string): kind is Kind {
  return Object.hasOwn(KIND_INFO, kind)
}

/**
 * Kinds that share a name with one of ours but belong to another API group, which we do not read
 * (Istio's ingress `Gateway`): listed as unknown, not as a wrong apiVersion.
 */
export function isOtherGroupsKind(kind: string, apiVersion: string): boolean {
  const group = apiVersion.includes('/') ? apiVersion.slice(0, apiVersion.lastIndexOf('/')) : ''
  return kind === 'Gateway' && group === 'networking.istio.io'
}

/** Telemetry is loosely typed: a mapping whose content the waypoint reads as it supports it. */
function decodeTelemetry(top: Fields, issues: Issues): ObjectBody<'Telemetry'> | undefined {
  const spec = top.raw('spec') ?? {}
  if (!isMapping(spec)) {
    issues.error(ConfigMessageCode.schema, top.at('spec'), 'spec must be a mapping', 'write spec: with accessLogging, metrics or tracing')
    return undefined
  }
  return { spec: spec as { readonly [k: string]: JsonValue } }
}
