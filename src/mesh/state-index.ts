// The two index shapes MeshState is made of. Kept apart from state.ts so the mutator reads as
// "which indexes does a value touch" and the bookkeeping lives here once.

/**
 * Address → owners, newest last. Two owners of one address is a transient state in practice (a
 * pod IP reused while the old pod's removal is still in flight, or two sources disagreeing), so
 * rather than refuse the second we keep both: lookups see the most recently stored owner, and
 * removing it makes the previous one visible again. ztunnel's WorkloadStore also keeps every owner
 * (it ranks Pods over other kinds when choosing; we choose by recency, which is what an IP move
 * means). Local config validation reports duplicates before they get here.
 */
export class AddressIndex {
  readonly #owners = new Map<string, string[]>()

  owner(address: string): string | undefined {
    return this.#owners.get(address)?.at(-1)
  }

  add(address: string, owner: string): void {
    const list = this.#owners.get(address)
    if (list === undefined) {
      this.#owners.set(address, [owner])
      return
    }
    const at = list.indexOf(owner)
    if (at >= 0) list.splice(at, 1)
    list.push(owner)
  }

  delete(address: string, owner: string): void {
    const list = this.#owners.get(address)
    if (list === undefined) return
    const at = list.indexOf(owner)
    if (at >= 0) list.splice(at, 1)
    if (list.length === 0) this.#owners.delete(address)
  }
}

const EMPTY: readonly never[] = Object.freeze([])

/**
 * Group → (key → value), with each group's values cached as one frozen array, so hot reads
 * (endpoints of a Service on every outbound connection, policies on every inbound one) return
 * the same array until that group changes.
 */
export class GroupIndex<V> {
  readonly #groups = new Map<string, Map<string, V>>()
  readonly #lists = new Map<string, readonly V[]>()

  list(group: string): readonly V[] {
    const cached = this.#lists.get(group)
    if (cached !== undefined) return cached
    const members = this.#groups.get(group)
    if (members === undefined) return EMPTY
    const list = Object.freeze([...members.values()])
    this.#lists.set(group, list)
    return list
  }

  set(group: string, key: string, value: V): void {
    let members = this.#groups.get(group)
    if (members === undefined) {
      members = new Map()
      this.#groups.set(group, members)
    }
    members.set(key, value)
    this.#lists.delete(group)
  }

  delete(group: string, key: string): void {
    const members = this.#groups.get(group)
    if (members === undefined || !members.delete(key)) return
    if (members.size === 0) this.#groups.delete(group)
    this.#lists.delete(group)
  }
}
