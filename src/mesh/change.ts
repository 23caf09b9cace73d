// What can happen to mesh state, and what did. Every source (ztunnel's local config file, istiod's
// Delta xDS later) speaks MeshChange: the Delta xDS shape of "resource upserted / resource name
// removed", keyed by the same resource names Istio uses (workload uid, `namespace/hostname`,
// `namespace/name`). MeshDelta is what subscribers receive: the keys that really changed.
import { policyKey } from '../authz/policy.js'
import { serviceKey } from './types.js'
import type { Authorization, MeshView, Service, Workload } from './types.js'
import { sameValue } from './values.js'

export type MeshKind = 'workload' | 'service' | 'policy'

/** The value each kind holds. */
interface MeshValue {
  readonly workload: Workload
  readonly service: Service
  readonly policy: Authorization
}

export type MeshChange =
  | { readonly op: 'upsert'; readonly kind: 'workload'; readonly value: Workload }
  | { readonly op: 'upsert'; readonly kind: 'service'; readonly value: Service }
  | { readonly op: 'upsert'; readonly kind: 'policy'; readonly value: Authorization }
  /** key: workload uid, service `namespace/hostname`, policy `namespace/name`. */
  | { readonly op: 'remove'; readonly kind: MeshKind; readonly key: string }

/** A complete desired state, as a full reload (local config file, xDS SotW) delivers it. */
export interface MeshSnapshot {
  readonly workloads: readonly Workload[]
  readonly services: readonly Service[]
  readonly policies: readonly Authorization[]
}

export interface KindDelta {
  readonly added: readonly string[]
  readonly updated: readonly string[]
  readonly removed: readonly string[]
}

/** The keys that changed in one mutation. Upserts of an identical value do not appear. */
export interface MeshDelta {
  /** MeshState's version after the mutation (it counts non-empty mutations). */
  readonly version: number
  readonly workloads: KindDelta
  readonly services: KindDelta
  readonly policies: KindDelta
}

/** The resource name of a value, as its `remove` change would carry it. */
export function keyOf(change: MeshChange): string {
  if (change.op === 'remove') return change.key
  switch (change.kind) {
    case 'workload':
      return change.value.uid
    case 'service':
      return serviceKey(change.value)
    case 'policy':
      return policyKey(change.value)
  }
}

export function isEmptyDelta(d: Pick<MeshDelta, 'workloads' | 'services' | 'policies'>): boolean {
  return [d.workloads, d.services, d.policies].every((k) => k.added.length + k.updated.length + k.removed.length === 0)
}

/**
 * True if the delta may change an authorization decision for a live flow: any policy changed, or
 * a workload changed (its selector policy list, namespace or identity may differ) or went away.
 * ztunnel's PolicyWatcher re-checks on these; coarse on purpose, since a re-check is cheap and a
 * missed one leaves a denied flow open.
 */
export function affectsAuthorization(d: MeshDelta): boolean {
  const p = d.policies
  return p.added.length + p.updated.length + p.removed.length + d.workloads.updated.length + d.workloads.removed.length > 0
}

/**
 * The changes that turn `current` into `snapshot`: removes for keys the snapshot lacks, upserts
 * for new or different values (unchanged values are left out, so no event fires for them).
 * A snapshot listing a key twice keeps the last value, as applying it in order would.
 */
const workloadUid = (w: Workload): string => w.uid

export function diffSnapshot(current: MeshView, snapshot: MeshSnapshot): MeshChange[] {
  const removes: MeshChange[] = []
  const upserts: MeshChange[] = []
  const plan = <K extends MeshKind>(
    kind: K,
    existing: readonly MeshValue[K][],
    wanted: readonly MeshValue[K][],
    key: (v: MeshValue[K]) => string,
    lookup: (k: string) => MeshValue[K] | undefined,
  ): void => {
    const want = new Map(wanted.map((v) => [key(v), v]))
    for (const v of existing) {
      const k = key(v)
      if (!want.has(k)) removes.push({ op: 'remove', kind, key: k })
    }
    for (const [k, value] of want) {
      // The cast pairs kind K with its value type, which TypeScript cannot follow through the union.
      if (!sameValue(lookup(k), value)) upserts.push({ op: 'upsert', kind, value } as MeshChange)
    }
  }
  plan('workload', current.workloads(), snapshot.workloads, workloadUid, (k) => current.workloadByUid(k))
  plan('service', current.services(), snapshot.services, serviceKey, (k) => current.serviceByKey(k))
  plan('policy', current.policies(), snapshot.policies, policyKey, (k) => current.policyByKey(k))
  // Removes first: an address that moves from a removed workload to a new one is never shared.
  return [...removes, ...upserts]
}
