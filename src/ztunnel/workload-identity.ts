// The identities an HBONE client expects the server to present (docs/istio-reference.md, "HBONE"):
// the destination workload's SPIFFE ID, plus the Service's subject_alt_names when service-addressed;
// the waypoint's identity when going to a waypoint.
import type { Workload } from '../mesh/types.js'
import { SpiffeId } from '../identity/spiffe-id.js'

/**
 * `spiffe://<trust domain>/ns/<namespace>/sa/<service account>`, empty fields taking Istio's
 * defaults. Undefined when the fields cannot form a SPIFFE ID: the planner then fails closed
 * rather than dialling a peer it could not verify.
 */
export function workloadIdentity(w: Workload): SpiffeId | undefined {
  try {
    return SpiffeId.of({
      namespace: w.namespace,
      ...(w.trustDomain === '' ? {} : { trustDomain: w.trustDomain }),
      ...(w.serviceAccount === '' ? {} : { serviceAccount: w.serviceAccount }),
    })
  } catch {
    return undefined
  }
}

/**
 * The SPIFFE IDs among a Service's subject_alt_names. An entry that is not a SPIFFE ID could never
 * equal a workload certificate's URI SAN, so it is dropped: the expected set only ever shrinks.
 */
export function spiffeSubjectAltNames(sans: readonly string[]): SpiffeId[] {
  const ids: SpiffeId[] = []
  for (const san of sans) {
    try {
      ids.push(SpiffeId.parse(san))
    } catch {
      // not a SPIFFE ID; see above
    }
  }
  return ids
}

/** Identities in first-seen order, duplicates removed. */
export function uniqueIdentities(ids: readonly SpiffeId[]): SpiffeId[] {
  const seen = new Set<string>()
  return ids.filter((id) => {
    const key = id.toString()
    if (seen.has(key)) return false
    seen.add(key)
    return true
  })
}
