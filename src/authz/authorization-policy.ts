// The security.istio.io/v1 AuthorizationPolicy resource, as a validated plain object (the shape of
// Istio's CRD; src/mesh and src/istiod parse and validate YAML into it). Only what the ztunnel
// conversion and workload selection read is typed; other fields may be present and are ignored.
// Reference: https://istio.io/latest/docs/reference/config/security/authorization-policy/

export type AuthorizationPolicyAction = 'ALLOW' | 'DENY' | 'AUDIT' | 'CUSTOM'

export interface AuthorizationPolicyResource {
  readonly apiVersion?: string
  readonly kind?: string
  readonly metadata: {
    readonly name: string
    readonly namespace: string
    readonly annotations?: Readonly<Record<string, string>>
  }
  readonly spec: AuthorizationPolicySpec
}

export interface AuthorizationPolicySpec {
  /** Present (even `{}`) = a WORKLOAD_SELECTOR policy; absent or null = namespace-wide. */
  readonly selector?: WorkloadSelector | null
  readonly targetRef?: PolicyTargetReference | null
  readonly targetRefs?: readonly PolicyTargetReference[] | null
  /** Defaults to ALLOW. */
  readonly action?: AuthorizationPolicyAction
  readonly provider?: { readonly name?: string }
  readonly rules?: readonly AuthorizationRule[] | null
}

export interface WorkloadSelector {
  readonly matchLabels?: Readonly<Record<string, string>>
}

export interface PolicyTargetReference {
  readonly group?: string
  readonly kind: string
  readonly name: string
  readonly namespace?: string
}

export interface AuthorizationRule {
  readonly from?: readonly { readonly source?: Source }[] | null
  readonly to?: readonly { readonly operation?: Operation }[] | null
  readonly when?: readonly Condition[] | null
}

type Strings = readonly string[] | null

export interface Source {
  readonly principals?: Strings
  readonly notPrincipals?: Strings
  readonly requestPrincipals?: Strings
  readonly notRequestPrincipals?: Strings
  readonly namespaces?: Strings
  readonly notNamespaces?: Strings
  readonly ipBlocks?: Strings
  readonly notIpBlocks?: Strings
  readonly remoteIpBlocks?: Strings
  readonly notRemoteIpBlocks?: Strings
  readonly serviceAccounts?: Strings
  readonly notServiceAccounts?: Strings
}

export interface Operation {
  readonly hosts?: Strings
  readonly notHosts?: Strings
  /** Strings in the CRD; numbers from hand-written YAML are accepted and read as text. */
  readonly ports?: readonly (string | number)[] | null
  readonly notPorts?: readonly (string | number)[] | null
  readonly methods?: Strings
  readonly notMethods?: Strings
  readonly paths?: Strings
  readonly notPaths?: Strings
}

export interface Condition {
  readonly key: string
  readonly values?: readonly (string | number)[] | null
  readonly notValues?: readonly (string | number)[] | null
}

/**
 * Kubernetes `matchLabels` semantics: every selector label is present on the pod with the same
 * value. An empty or absent `matchLabels` selects every pod of the namespace (Istio's
 * `labels.Instance.SubsetOf`: the empty set is a subset of anything).
 */
export function matchLabels(selector: Readonly<Record<string, string>> | undefined, podLabels: Readonly<Record<string, string>>): boolean {
  if (selector === undefined) return true
  return Object.entries(selector).every(([k, v]) => Object.hasOwn(podLabels, k) && podLabels[k] === v)
}

/** Istio's default root namespace (`meshConfig.rootNamespace`). */
export const DEFAULT_ROOT_NAMESPACE = 'istio-system'

/**
 * Does this policy select a pod? Only WORKLOAD_SELECTOR policies (a `selector` is present) select:
 * one in the pod's namespace, or one in the root namespace (which selects across the mesh, as
 * Istio's docs for root-namespace policies say), whose `matchLabels` match the pod. istiod uses this
 * to fill a workload's `authorizationPolicies` list.
 */
export function selectsWorkload(
  policy: Pick<AuthorizationPolicyResource, 'metadata' | 'spec'>,
  pod: { readonly namespace: string; readonly labels: Readonly<Record<string, string>> },
  rootNamespace: string = DEFAULT_ROOT_NAMESPACE,
): boolean {
  const selector = policy.spec.selector
  if (selector === undefined || selector === null) return false
  const ns = policy.metadata.namespace
  return (ns === pod.namespace || ns === rootNamespace) && matchLabels(selector.matchLabels, pod.labels)
}
