// AuthorizationPolicy → what ztunnel enforces (docs/istio-reference.md, "L4 authorization"). The
// conversion itself is src/authz/from-authorization-policy.ts, shared with ztunnel's local config;
// here we add what only istiod knows: which workloads a selector policy selects (their
// `authorizationPolicies` list), which policies belong to waypoints instead (`targetRefs`, see
// ./waypoint-authz.ts), and findings for users, located on the policy.
import {
  AuthzWarningCode,
  fromAuthorizationPolicy,
  selectsWorkload,
  type ConversionWarning,
} from '../../authz/from-authorization-policy.js'
import { policyKey, type Authorization } from '../../authz/policy.js'
import type { AuthorizationPolicy, Labels } from '../resources/model.js'
import { objectKey } from '../resources/model.js'
import type { MessageSink, TranslationMessage } from './messages.js'
import { TranslationCode, cmp } from './messages.js'

export interface ZtunnelPolicies {
  /** Every Authorization for ztunnel, sorted by namespace/name. */
  readonly authorizations: readonly Authorization[]
  /** `namespace/name` of the selector policies selecting a pod (its Workload's list). */
  selectorPoliciesFor(namespace: string, labels: Labels): string[]
  /**
   * The selector policies of one namespace, in order: a pod's list can only change when its
   * namespace's or the root namespace's does (what ./memo.ts checks before rebuilding a Workload).
   */
  selectorsIn(namespace: string): readonly AuthorizationPolicy[]
  /** Each policy's conversion, for the next translation to reuse while the object is the same. */
  readonly conversions: ReadonlyMap<AuthorizationPolicy, PolicyConversion>
}

/** One AuthorizationPolicy as ztunnel gets it, with the findings its conversion made. */
export interface PolicyConversion {
  readonly authorization: Authorization | undefined
  readonly messages: readonly TranslationMessage[]
}

const HINTS: Readonly<Record<string, string>> = {
  [AuthzWarningCode.httpAttributes]:
    'enforce HTTP rules at a waypoint: use targetRefs to the waypoint Gateway or the Service instead of a selector',
  [AuthzWarningCode.unsupportedAction]: 'ztunnel enforces ALLOW and DENY only; AUDIT and CUSTOM need a waypoint (targetRefs)',
  [AuthzWarningCode.invalidPort]: 'write ports as numbers from 0 to 65535',
  [AuthzWarningCode.invalidIpBlock]: 'write an IP address or a CIDR such as 10.0.0.0/8',
  [AuthzWarningCode.spiffePrincipal]: 'write principals without spiffe://, e.g. cluster.local/ns/default/sa/sleep',
}

/**
 * `previous`: the conversions of an earlier call with the same root namespace; a policy object found
 * there is not converted again (objects are immutable, so the same object converts the same).
 */
export function ztunnelPolicies(
  policies: readonly AuthorizationPolicy[],
  rootNamespace: string,
  sink: MessageSink,
  previous?: ReadonlyMap<AuthorizationPolicy, PolicyConversion>,
): ZtunnelPolicies {
  const converted: { ap: AuthorizationPolicy; authorization: Authorization }[] = []
  const conversions = new Map<AuthorizationPolicy, PolicyConversion>()
  for (const ap of policies) {
    const conversion = previous?.get(ap) ?? convert(ap, rootNamespace)
    conversions.set(ap, conversion)
    sink.addAll(conversion.messages)
    if (conversion.authorization !== undefined) converted.push({ ap, authorization: conversion.authorization })
  }
  converted.sort((a, b) => cmp(policyKey(a.authorization), policyKey(b.authorization)))
  // A selector policy selects pods of its own namespace or, from the root namespace, of every one:
  // a pod only looks at those two lists (not at every policy of the mesh), kept in sorted order.
  const selectorsIn = new Map<string, { ap: AuthorizationPolicy; key: string }[]>()
  for (const c of converted) {
    if (c.authorization.scope !== 'WORKLOAD_SELECTOR') continue
    const list = selectorsIn.get(c.ap.metadata.namespace) ?? []
    list.push({ ap: c.ap, key: policyKey(c.authorization) })
    selectorsIn.set(c.ap.metadata.namespace, list)
  }
  return {
    authorizations: Object.freeze(converted.map((c) => c.authorization)),
    conversions,
    selectorsIn: (namespace) => (selectorsIn.get(namespace) ?? []).map((c) => c.ap),
    selectorPoliciesFor(namespace, labels) {
      const own = selectorsIn.get(namespace) ?? []
      const root = namespace === rootNamespace ? [] : (selectorsIn.get(rootNamespace) ?? [])
      // Each list is one namespace's keys, contiguous in the sorted order: the two concatenate in order.
      const candidates = root.length > 0 && own.length > 0 && cmp(root[0]!.key, own[0]!.key) > 0 ? [...own, ...root] : [...root, ...own]
      return candidates.filter((c) => selectsWorkload(c.ap, { namespace, labels }, rootNamespace)).map((c) => c.key)
    },
  }
}

function convert(ap: AuthorizationPolicy, rootNamespace: string): PolicyConversion {
  const messages: TranslationMessage[] = []
  const { authorization, warnings } = fromAuthorizationPolicy(ap, { rootNamespace })
  for (const w of warnings) report(ap, w, messages)
  const hasSelector = ap.spec.selector !== undefined && ap.spec.selector !== null
  if (authorization !== undefined && hasSelector && warnings.some((w) => w.code === AuthzWarningCode.httpAttributes)) {
    // The seed's allow-reviews is exactly this: at ztunnel its only rule is dropped, so the
    // selected pods allow nothing; and no waypoint will ever apply it (Istio: waypoints enforce
    // targetRefs policies only).
    messages.push({
      code: TranslationCode.selectorPolicyHttpAttributes,
      severity: 'warning',
      object: objectKey(ap),
      path: 'spec.selector',
      source: ap.source,
      reason:
        'this policy selects workloads, so only ztunnel enforces it, without its HTTP rules; a waypoint never applies selector policies',
      hint: `replace spec.selector with targetRefs: [{kind: Service, group: "", name: <service>}] (or the waypoint Gateway) to enforce the HTTP rules`,
    })
  }
  return Object.freeze({ authorization, messages: Object.freeze(messages) })
}

function report(ap: AuthorizationPolicy, w: ConversionWarning, messages: TranslationMessage[]): void {
  // targetRefs policies are the waypoint's by design (./waypoint-authz.ts), not a finding.
  if (w.code === AuthzWarningCode.waypointOnly) return
  messages.push({
    code: TranslationCode.authorizationConversion,
    severity: 'warning',
    object: objectKey(ap),
    path: w.path,
    source: ap.source,
    reason: w.message,
    hint: HINTS[w.code] ?? '',
    detailCode: w.code,
  })
}
