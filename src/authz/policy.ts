// Authorization policies in the shape istiod sends to ztunnel (`istio.security.Authorization`,
// see ARCHITECTURE.md and the reference). These are trusted domain values: built by src/mesh (from
// ztunnel's local config) or src/istiod (translation), frozen, and evaluated by ./rbac.ts.

export type PolicyScope = 'GLOBAL' | 'NAMESPACE' | 'WORKLOAD_SELECTOR'
export type PolicyAction = 'ALLOW' | 'DENY'

/** Istio's StringMatch: exactly one form. `*` = presence, `*x` = suffix, `x*` = prefix, else exact. */
export type StringMatch =
  { readonly exact: string } | { readonly prefix: string } | { readonly suffix: string } | { readonly presence: true }

/** A CIDR: canonical IP text and prefix length (a bare IP is /32 or /128). */
export interface CidrMatch {
  readonly address: string
  readonly length: number
}

export interface ServiceAccountMatch {
  readonly namespace: string
  readonly serviceAccount: string
}

/** Every non-empty field must pass; a match with every field empty never matches. */
export interface Match {
  readonly namespaces: readonly StringMatch[]
  readonly notNamespaces: readonly StringMatch[]
  readonly principals: readonly StringMatch[]
  readonly notPrincipals: readonly StringMatch[]
  readonly sourceIps: readonly CidrMatch[]
  readonly notSourceIps: readonly CidrMatch[]
  readonly destinationIps: readonly CidrMatch[]
  readonly notDestinationIps: readonly CidrMatch[]
  readonly destinationPorts: readonly number[]
  readonly notDestinationPorts: readonly number[]
  readonly serviceAccounts: readonly ServiceAccountMatch[]
  readonly notServiceAccounts: readonly ServiceAccountMatch[]
}

/** A clause matches if any of its matches matches. */
export interface Clause {
  readonly matches: readonly Match[]
}

/** A rule matches if all its clauses match; a rule with no clauses matches everything. */
export interface Rule {
  readonly clauses: readonly Clause[]
}

export interface Authorization {
  readonly name: string
  readonly namespace: string
  readonly scope: PolicyScope
  readonly action: PolicyAction
  /** A policy matches if any rule matches; a policy with no rules never matches. */
  readonly rules: readonly Rule[]
  readonly dryRun: boolean
}

/** `namespace/name`, the resource name Istio uses for an Authorization. */
export function policyKey(p: Pick<Authorization, 'namespace' | 'name'>): string {
  return `${p.namespace}/${p.name}`
}

export const EMPTY_MATCH: Match = Object.freeze({
  namespaces: [],
  notNamespaces: [],
  principals: [],
  notPrincipals: [],
  sourceIps: [],
  notSourceIps: [],
  destinationIps: [],
  notDestinationIps: [],
  destinationPorts: [],
  notDestinationPorts: [],
  serviceAccounts: [],
  notServiceAccounts: [],
})

/** Builds a Match from the fields given; the rest are empty. */
export function match(fields: Partial<Match>): Match {
  return Object.freeze({ ...EMPTY_MATCH, ...fields })
}
