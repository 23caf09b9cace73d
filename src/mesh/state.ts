// MeshState: ztunnel's view of the mesh (its `state/` module), indexed for the lookups the data
// path makes on every connection. Invariants:
//  - changed only through apply() (replaceAll() is apply() of a computed diff), atomically: a batch
//    is validated whole before anything changes, and subscribers run after every index agrees;
//  - stored values are deep-frozen copies, and addresses are canonical IP text (src/net/ip.ts);
//  - reads are Map lookups; nothing on the read path allocates except endpoint/list results.
import { AmbientError } from '../errors.js'
import { applicablePolicies } from '../authz/applicable.js'
import { diffSnapshot, isEmptyDelta, keyOf } from './change.js'
import type { KindDelta, MeshChange, MeshDelta, MeshKind, MeshSnapshot } from './change.js'
import { isCanonicalIp } from '../net/ip.js'
import { networkAddressKey } from './ip.js'
import type { Authorization, MeshView, Service, Workload } from './types.js'
import { AddressIndex, GroupIndex } from './state-index.js'
import { freezePolicy, freezeService, freezeWorkload, sameValue } from './values.js'

export const MeshStateErrorCode = {
  invalidChange: 'MESH_INVALID_CHANGE',
} as const

export type MeshListener = (delta: MeshDelta) => void

export interface MeshStateOptions {
  /**
   * Where a throwing subscriber's error goes. Default: rethrown from a microtask, so a bug in a
   * subscriber surfaces (as an EventEmitter listener's would) without leaving the state half-told.
   */
  onSubscriberError?: (err: unknown) => void
}

type Value = Workload | Service | Authorization

export class MeshState implements MeshView {
  readonly #workloads = new Map<string, Workload>()
  readonly #services = new Map<string, Service>()
  readonly #policies = new Map<string, Authorization>()
  readonly #workloadAddresses = new AddressIndex()
  readonly #serviceAddresses = new AddressIndex()
  readonly #servicesByHostname = new GroupIndex<Service>()
  readonly #endpoints = new GroupIndex<Workload>()
  /** GLOBAL policies under '', NAMESPACE ones under their namespace (as ztunnel's PolicyStore). */
  readonly #scopedPolicies = new GroupIndex<Authorization>()
  /**
   * policiesFor's answers, per Workload value (stored values are frozen and replaced on update, so
   * the object is the key); dropped whole on any policy change. Admission then costs a WeakMap
   * lookup plus the evaluation of the policies that apply, whatever the mesh's total.
   */
  #applicable = new WeakMap<Workload, readonly Authorization[]>()
  readonly #listeners = new Set<MeshListener>()
  readonly #onSubscriberError: (err: unknown) => void
  #version = 0

  constructor(options: MeshStateOptions = {}) {
    this.#onSubscriberError =
      options.onSubscriberError ??
      ((err) =>
        queueMicrotask(() => {
          throw err
        }))
  }

  get version(): number {
    return this.#version
  }

  workloadByUid(uid: string): Workload | undefined {
    return this.#workloads.get(uid)
  }

  workloadByAddress(ip: string, network = ''): Workload | undefined {
    const uid = this.#workloadAddresses.owner(networkAddressKey(network, ip))
    return uid === undefined ? undefined : this.#workloads.get(uid)
  }

  serviceByAddress(ip: string, network = ''): Service | undefined {
    const key = this.#serviceAddresses.owner(networkAddressKey(network, ip))
    return key === undefined ? undefined : this.#services.get(key)
  }

  serviceByKey(key: string): Service | undefined {
    return this.#services.get(key)
  }

  servicesByHostname(hostname: string): readonly Service[] {
    return this.#servicesByHostname.list(hostname)
  }

  endpointsOf(key: string): readonly Workload[] {
    return this.#endpoints.list(key)
  }

  /**
   * The NAMESPACE policies of the workload's namespace, every GLOBAL policy (mesh-wide whatever its
   * namespace, as ztunnel's PolicyStore files them; that GLOBAL ones live in the root namespace is
   * checked where policies enter: local config, istiod), and the policies it names that exist.
   * The indexes narrow the candidates; src/authz's applicablePolicies keeps the rule (and order)
   * in one place.
   */
  policiesFor(workload: Workload): readonly Authorization[] {
    const cached = this.#applicable.get(workload)
    if (cached !== undefined) return cached
    const candidates = [...this.#scopedPolicies.list(workload.namespace), ...this.#scopedPolicies.list('')]
    for (const key of workload.authorizationPolicies) {
      const p = this.#policies.get(key)
      if (p !== undefined) candidates.push(p)
    }
    const list = Object.freeze(applicablePolicies(workload, candidates))
    this.#applicable.set(workload, list)
    return list
  }

  policyByKey(key: string): Authorization | undefined {
    return this.#policies.get(key)
  }

  workloads(): readonly Workload[] {
    return [...this.#workloads.values()]
  }

  services(): readonly Service[] {
    return [...this.#services.values()]
  }

  policies(): readonly Authorization[] {
    return [...this.#policies.values()]
  }

  snapshot(): MeshSnapshot {
    return { workloads: this.workloads(), services: this.services(), policies: this.policies() }
  }

  /** Calls `listener` after every mutation that changed something. Returns the unsubscribe. */
  subscribe(listener: MeshListener): () => void {
    this.#listeners.add(listener)
    return () => {
      this.#listeners.delete(listener)
    }
  }

  /** Makes the state equal `snapshot`, touching (and reporting) only what differs. */
  replaceAll(snapshot: MeshSnapshot): MeshDelta {
    return this.apply(diffSnapshot(this, snapshot))
  }

  /**
   * The one mutator. Changes apply in order (a later change to the same key wins); the returned
   * and emitted delta compares each touched key's value before and after the whole batch, so an
   * add-then-remove or an identical upsert reports nothing. Throws MESH_INVALID_CHANGE, changing
   * nothing, if any change breaks the model's invariants: sources must validate first.
   */
  apply(changes: readonly MeshChange[]): MeshDelta {
    const frozen = changes.map(validateAndFreeze)
    // Per kind, each touched key's value before the batch, in first-touch order.
    const before: Record<MeshKind, Map<string, Value | undefined>> = { workload: new Map(), service: new Map(), policy: new Map() }
    for (const change of frozen) {
      const key = keyOf(change)
      const touched = before[change.kind]
      const now = this.#get(change.kind, key)
      if (!touched.has(key)) touched.set(key, now)
      if (change.op === 'remove') this.#remove(change.kind, key)
      // An identical re-push is skipped outright: re-indexing would reorder shared-address owners.
      else if (!sameValue(now, change.value)) this.#upsert(change, key)
    }
    const delta = this.#deltaOf(before)
    if (isEmptyDelta(delta)) return delta
    this.#version = delta.version
    for (const listener of [...this.#listeners]) {
      try {
        listener(delta)
      } catch (err) {
        this.#onSubscriberError(err)
      }
    }
    return delta
  }

  #get(kind: MeshKind, key: string): Value | undefined {
    switch (kind) {
      case 'workload':
        return this.#workloads.get(key)
      case 'service':
        return this.#services.get(key)
      case 'policy':
        return this.#policies.get(key)
    }
  }

  #upsert(change: Extract<MeshChange, { op: 'upsert' }>, key: string): void {
    this.#remove(change.kind, key)
    switch (change.kind) {
      case 'workload': {
        const w = change.value
        this.#workloads.set(w.uid, w)
        for (const ip of w.addresses) this.#workloadAddresses.add(networkAddressKey(w.network, ip), w.uid)
        for (const svc of w.services.keys()) this.#endpoints.set(svc, w.uid, w)
        return
      }
      case 'service': {
        const s = change.value
        this.#services.set(key, s)
        for (const ip of s.addresses) this.#serviceAddresses.add(networkAddressKey(s.network ?? '', ip), key)
        this.#servicesByHostname.set(s.hostname, key, s)
        return
      }
      case 'policy': {
        const p = change.value
        this.#policies.set(key, p)
        this.#applicable = new WeakMap()
        const group = scopeGroup(p)
        if (group !== undefined) this.#scopedPolicies.set(group, key, p)
        return
      }
    }
  }

  #remove(kind: MeshKind, key: string): void {
    switch (kind) {
      case 'workload': {
        const w = this.#workloads.get(key)
        if (w === undefined) return
        this.#workloads.delete(key)
        for (const ip of w.addresses) this.#workloadAddresses.delete(networkAddressKey(w.network, ip), key)
        for (const svc of w.services.keys()) this.#endpoints.delete(svc, key)
        return
      }
      case 'service': {
        const s = this.#services.get(key)
        if (s === undefined) return
        this.#services.delete(key)
        for (const ip of s.addresses) this.#serviceAddresses.delete(networkAddressKey(s.network ?? '', ip), key)
        this.#servicesByHostname.delete(s.hostname, key)
        return
      }
      case 'policy': {
        const p = this.#policies.get(key)
        if (p === undefined) return
        this.#policies.delete(key)
        this.#applicable = new WeakMap()
        const group = scopeGroup(p)
        if (group !== undefined) this.#scopedPolicies.delete(group, key)
        return
      }
    }
  }

  #deltaOf(before: Record<MeshKind, Map<string, Value | undefined>>): MeshDelta {
    const kinds: Record<MeshKind, { added: string[]; updated: string[]; removed: string[] }> = {
      workload: { added: [], updated: [], removed: [] },
      service: { added: [], updated: [], removed: [] },
      policy: { added: [], updated: [], removed: [] },
    }
    for (const kind of MESH_KINDS) {
      const out = kinds[kind]
      for (const [key, old] of before[kind]) {
        const now = this.#get(kind, key)
        if (old === undefined && now !== undefined) out.added.push(key)
        else if (old !== undefined && now === undefined) out.removed.push(key)
        else if (old !== undefined && !sameValue(old, now)) out.updated.push(key)
      }
    }
    const freezeKind = (k: KindDelta): KindDelta =>
      Object.freeze({
        added: Object.freeze(k.added),
        updated: Object.freeze(k.updated),
        removed: Object.freeze(k.removed),
      })
    const changed = !isEmptyDelta({ workloads: kinds.workload, services: kinds.service, policies: kinds.policy })
    return Object.freeze({
      version: changed ? this.#version + 1 : this.#version,
      workloads: freezeKind(kinds.workload),
      services: freezeKind(kinds.service),
      policies: freezeKind(kinds.policy),
    })
  }
}

const MESH_KINDS: readonly MeshKind[] = ['workload', 'service', 'policy']

function scopeGroup(p: Authorization): string | undefined {
  if (p.scope === 'GLOBAL') return ''
  if (p.scope === 'NAMESPACE') return p.namespace
  return undefined
}

/** The invariants the indexes rely on; anything richer is the sources' validation. */
function validateAndFreeze(change: MeshChange): MeshChange {
  const bad = (reason: string): AmbientError =>
    new AmbientError(MeshStateErrorCode.invalidChange, `invalid mesh change (${change.kind} ${keyOf(change)}): ${reason}`, {
      side: 'internal',
      details: { kind: change.kind, op: change.op },
    })
  if (change.op === 'remove') {
    if (typeof change.key !== 'string' || change.key === '') throw bad('empty key')
    return change
  }
  switch (change.kind) {
    case 'workload': {
      const w = change.value
      if (!w.uid) throw bad('empty uid')
      if (!w.namespace) throw bad('empty namespace')
      for (const ip of w.addresses) if (!isCanonicalIp(ip)) throw bad(`address "${ip}" is not canonical IP text`)
      if (w.podLocalAddress !== undefined && !isCanonicalIp(w.podLocalAddress))
        throw bad(`podLocalAddress "${w.podLocalAddress}" is not canonical IP text`)
      const value = freezeWorkload(w)
      return value === w ? change : { ...change, value }
    }
    case 'service': {
      const s = change.value
      if (!s.namespace || !s.hostname) throw bad('empty namespace or hostname')
      for (const ip of s.addresses) if (!isCanonicalIp(ip)) throw bad(`VIP "${ip}" is not canonical IP text`)
      const value = freezeService(s)
      return value === s ? change : { ...change, value }
    }
    case 'policy': {
      const p = change.value
      if (!p.namespace || !p.name) throw bad('empty namespace or name')
      const value = freezePolicy(p)
      return value === p ? change : { ...change, value }
    }
  }
}
