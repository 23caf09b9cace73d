// What the Delta ADS server believes one client holds of one type: resource name → version. Every
// fresh client of a sync is sent the same full set, so they share one map of it (the base, never
// written) and each keeps only what changed for it since (its own entries, a removal marked GONE).
// 100 clients × 12,000 resources is then 12,000 map entries plus each client's changes, not 1.2
// million entries set one by one. Once a client's own entries outgrow the base, they are folded
// into a map of its own (the base is dropped), so a long-lived stream costs at most what a plain
// map would, twice.

const GONE = Symbol('gone')
const EMPTY: ReadonlyMap<string, string> = new Map()

export class KnownVersions {
  #base: ReadonlyMap<string, string>
  #own = new Map<string, string | typeof GONE>()
  #size: number

  /** `base` is shared, never written: the caller must not change it either. */
  constructor(base: ReadonlyMap<string, string> = EMPTY) {
    this.#base = base
    this.#size = base.size
  }

  static of(entries: Iterable<readonly [string, string]>): KnownVersions {
    const k = new KnownVersions()
    for (const [name, version] of entries) k.set(name, version)
    return k
  }

  get size(): number {
    return this.#size
  }

  get(name: string): string | undefined {
    const own = this.#own.get(name)
    if (own === GONE) return undefined
    return own ?? this.#base.get(name)
  }

  has(name: string): boolean {
    return this.get(name) !== undefined
  }

  set(name: string, version: string): void {
    if (!this.has(name)) this.#size++
    this.#own.set(name, version)
    if (this.#base.size > 0 && this.#own.size > this.#base.size) this.#fold()
  }

  delete(name: string): boolean {
    if (!this.has(name)) return false
    this.#size--
    if (this.#base.has(name)) this.#own.set(name, GONE)
    else this.#own.delete(name)
    return true
  }

  *keys(): IterableIterator<string> {
    for (const name of this.#base.keys()) if (this.#own.get(name) !== GONE) yield name
    for (const [name, v] of this.#own) if (v !== GONE && !this.#base.has(name)) yield name
  }

  /** Everything in one map of its own: no shared base any more. */
  #fold(): void {
    const own = new Map<string, string | typeof GONE>()
    for (const name of this.keys()) own.set(name, this.get(name)!)
    this.#own = own
    this.#base = EMPTY
  }
}
