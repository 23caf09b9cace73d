// What one side of a Delta ADS stream holds of one type: resource name → version. Every fresh
// client of a sync is sent the same full set, so the server's subscriptions share one map of it and
// a client keeps the arrays the response was read into: that is the base, never written. Each holder
// keeps only what changed since (its own entries, a removal marked GONE). 100 clients × 12,000
// resources is then one base plus each client's changes, not 1.2 million map entries set one by one
// (on the client: not 12,000 per sync). Once the own entries outgrow the base they are folded into a
// map of their own (the base is dropped), so a long-lived stream costs at most what a plain map
// would, twice.

/** What a base must answer (a ReadonlyMap does). */
export interface VersionBase {
  readonly size: number
  get(name: string): string | undefined
  has(name: string): boolean
  keys(): IterableIterator<string>
}

/**
 * The names and versions of one response as read (parallel arrays, each name once, as xDS sends
 * them), indexed by name only when first looked up: a client that is only ever sent changes
 * afterwards never builds the index.
 */
export class SentVersions implements VersionBase {
  #index: Map<string, string> | undefined

  constructor(
    private readonly names: readonly string[],
    private readonly versions: readonly string[],
  ) {}

  get size(): number {
    return this.names.length
  }

  get(name: string): string | undefined {
    this.#index ??= new Map(this.names.map((n, i) => [n, this.versions[i]!]))
    return this.#index.get(name)
  }

  has(name: string): boolean {
    return this.get(name) !== undefined
  }

  keys(): IterableIterator<string> {
    return this.names.values()
  }
}

const GONE = Symbol('gone')
const EMPTY: VersionBase = new Map<string, string>()

export class KnownVersions {
  #base: VersionBase
  #own = new Map<string, string | typeof GONE>()
  /** Undefined while unknown: a set of a name not among the own entries may or may not add one to the base. */
  #size: number | undefined

  /** `base` is shared, never written: the caller must not change it either. */
  constructor(base: VersionBase = EMPTY) {
    this.#base = base
    this.#size = base.size
  }

  static of(entries: Iterable<readonly [string, string]>): KnownVersions {
    const k = new KnownVersions()
    for (const [name, version] of entries) k.set(name, version)
    return k
  }

  get size(): number {
    if (this.#size === undefined) {
      let n = 0
      for (const _ of this.keys()) n++
      this.#size = n
    }
    return this.#size
  }

  /** True when it certainly holds nothing, without counting (false may also mean: not known cheaply). */
  get isEmpty(): boolean {
    return this.#base.size === 0 && this.#size === 0
  }

  get(name: string): string | undefined {
    const own = this.#own.get(name)
    if (own === GONE) return undefined
    return own ?? this.#base.get(name)
  }

  has(name: string): boolean {
    return this.get(name) !== undefined
  }

  /** Does not look the name up in the base (which may build its index): the size is counted when next asked. */
  set(name: string, version: string): void {
    const own = this.#own.get(name)
    if (own === GONE) {
      if (this.#size !== undefined) this.#size++
    } else if (own === undefined) {
      this.#size = this.#base.size === 0 ? (this.#size ?? 0) + 1 : undefined
    }
    this.#own.set(name, version)
    if (this.#base.size > 0 && this.#own.size > this.#base.size) this.#fold()
  }

  delete(name: string): boolean {
    if (!this.has(name)) return false
    if (this.#size !== undefined) this.#size--
    if (this.#base.has(name)) this.#own.set(name, GONE)
    else this.#own.delete(name)
    if (this.#size === 0) {
      this.#base = EMPTY
      this.#own.clear()
    }
    return true
  }

  *keys(): IterableIterator<string> {
    for (const name of this.#base.keys()) if (this.#own.get(name) !== GONE) yield name
    for (const [name, v] of this.#own) if (v !== GONE && !this.#base.has(name)) yield name
  }

  *entries(): IterableIterator<[string, string]> {
    for (const name of this.keys()) yield [name, this.get(name)!]
  }

  /** Everything in one map of its own: no shared base any more. */
  #fold(): void {
    const own = new Map<string, string | typeof GONE>(this.entries())
    this.#own = own
    this.#base = EMPTY
    this.#size = own.size
  }
}
