// Reading untrusted YAML data field by field, collecting every problem instead of stopping at the
// first (style: report every config error at once). Decoders get a Fields over one mapping; each
// accessor returns a usable fallback when the field is bad and records an Issue with the exact
// path, so one decode pass finds all the problems of an entry. Line numbers are attached later,
// by local-config.ts, which holds the YAML document.

export const LocalConfigErrorCode = {
  /** The file could not be read (missing, permissions). */
  unreadable: 'MESH_CONFIG_UNREADABLE',
  /** Not YAML, or YAML with syntax errors: nothing in the file is used. */
  yaml: 'MESH_CONFIG_YAML',
  /** A value of the wrong type (a list where a mapping belongs, a number for a name...). */
  shape: 'MESH_CONFIG_SHAPE',
  /** A field this format does not have (typos must not silently fall back to defaults). */
  unknownField: 'MESH_CONFIG_UNKNOWN_FIELD',
  missingField: 'MESH_CONFIG_MISSING_FIELD',
  /** A bad enum value, name, identity or reference. */
  invalidValue: 'MESH_CONFIG_INVALID_VALUE',
  /** Not an IP address or CIDR. */
  invalidAddress: 'MESH_CONFIG_INVALID_ADDRESS',
  invalidPort: 'MESH_CONFIG_INVALID_PORT',
  /** Two spellings of one field given together (`addresses` and ztunnel's `workloadIps`). */
  conflictingFields: 'MESH_CONFIG_CONFLICTING_FIELDS',
  duplicateUid: 'MESH_CONFIG_DUPLICATE_UID',
  /** An address already claimed by an earlier entry (pod IP, pod-local address or VIP). */
  duplicateAddress: 'MESH_CONFIG_DUPLICATE_ADDRESS',
  /** A second Service `namespace/hostname` or policy `namespace/name`. */
  duplicateKey: 'MESH_CONFIG_DUPLICATE_KEY',
  /** A GLOBAL policy outside the root namespace (istiod only makes GLOBAL ones there). */
  globalOutsideRoot: 'MESH_CONFIG_GLOBAL_OUTSIDE_ROOT',
} as const

export type LocalConfigErrorCode = (typeof LocalConfigErrorCode)[keyof typeof LocalConfigErrorCode]

export type PathSegment = string | number
export type Path = readonly PathSegment[]

export interface Issue {
  readonly code: LocalConfigErrorCode
  readonly path: Path
  readonly reason: string
}

/** `workloads[2].services["default/web.default.svc.cluster.local"]`, as users would write it. */
export function formatPath(path: Path): string {
  let out = ''
  for (const seg of path) {
    if (typeof seg === 'number') out += `[${seg}]`
    else if (/^[A-Za-z_$][\w$]*$/.test(seg)) out += out === '' ? seg : `.${seg}`
    else out += `[${JSON.stringify(seg)}]`
  }
  return out
}

export function isMapping(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v)
}

export function describe(v: unknown): string {
  if (v === null || v === undefined) return 'nothing'
  if (Array.isArray(v)) return 'a list'
  return typeof v === 'object' ? 'a mapping' : `${typeof v} ${JSON.stringify(v)}`
}

/** Collects issues; `mark()`/`since()` tell a decoder whether its entry picked up any. */
export class Issues {
  readonly list: Issue[] = []

  add(code: LocalConfigErrorCode, path: Path, reason: string): void {
    this.list.push({ code, path, reason })
  }

  mark(): number {
    return this.list.length
  }

  since(mark: number): boolean {
    return this.list.length > mark
  }
}

/** Accessors over one mapping. A null/absent field counts as absent (YAML `key:` with no value). */
/** A mapping being read at `path`, its problems reported to `issues`: what both config readers share. */
export abstract class MappingFields<I> {
  protected constructor(
    protected readonly obj: Record<string, unknown>,
    readonly path: Path,
    readonly issues: I,
  ) {}

  at(key: PathSegment): Path {
    return [...this.path, key]
  }

  has(key: string): boolean {
    const v = this.obj[key]
    return v !== undefined && v !== null
  }

  raw(key: string): unknown {
    return this.has(key) ? this.obj[key] : undefined
  }

  /** A list field ([] when absent); each item is handed back with its path. */
  list(key: string): Array<{ value: unknown; path: Path }> {
    if (!this.has(key)) return []
    const v = this.obj[key]
    if (!Array.isArray(v)) {
      this.notAList(key, v)
      return []
    }
    return v.map((value, i) => ({ value, path: this.at(key).concat(i) }))
  }

  /** A list of non-empty strings; other items are reported and left out. */
  strings(key: string): string[] {
    const out: string[] = []
    for (const { value, path } of this.list(key)) {
      if (typeof value === 'string' && value !== '') out.push(value)
      else this.notAString(path, value)
    }
    return out
  }

  /** Reports field `key` holding `found` where a list belongs. */
  protected abstract notAList(key: string, found: unknown): void
  /** Reports a list item at `path` holding `found` where a non-empty string belongs. */
  protected abstract notAString(path: Path, found: unknown): void
}

export class Fields extends MappingFields<Issues> {
  /** Opens `value` as a mapping with exactly the `known` fields; undefined (and an issue) if it is not one. */
  static open(value: unknown, path: Path, issues: Issues, known: readonly string[]): Fields | undefined {
    if (!isMapping(value)) {
      issues.add(LocalConfigErrorCode.shape, path, `expected a mapping, found ${describe(value)}`)
      return undefined
    }
    for (const key of Object.keys(value)) {
      if (!known.includes(key))
        issues.add(LocalConfigErrorCode.unknownField, [...path, key], `unknown field "${key}" (known: ${known.join(', ')})`)
    }
    return new Fields(value, path, issues)
  }

  /**
   * Opens an entry named by its required `name` and `namespace` (workload, Service, policy), with
   * the issues mark taken before it: `issues.since(mark)` tells whether the entry decoded cleanly.
   */
  static openNamed(
    value: unknown,
    path: Path,
    issues: Issues,
    known: readonly string[],
  ): { readonly f: Fields; readonly mark: number; readonly name: string; readonly namespace: string } | undefined {
    const mark = issues.mark()
    const f = Fields.open(value, path, issues, known)
    if (f === undefined) return undefined
    return { f, mark, name: f.string('name', { required: true }), namespace: f.string('namespace', { required: true }) }
  }

  /** A string field; `fallback` when absent, and a missing-field issue when required. */
  string(key: string, opts: { required?: boolean; fallback?: string } = {}): string {
    const fallback = opts.fallback ?? ''
    if (!this.has(key)) {
      if (opts.required) this.issues.add(LocalConfigErrorCode.missingField, this.at(key), `"${key}" is required`)
      return fallback
    }
    const v = this.obj[key]
    if (typeof v !== 'string') {
      this.issues.add(LocalConfigErrorCode.shape, this.at(key), `"${key}" must be a string, found ${describe(v)}`)
      return fallback
    }
    if (v === '' && opts.required) this.issues.add(LocalConfigErrorCode.missingField, this.at(key), `"${key}" must not be empty`)
    return v === '' ? fallback : v
  }

  integer(key: string, opts: { min: number; max: number; fallback: number; code?: LocalConfigErrorCode }): number {
    if (!this.has(key)) return opts.fallback
    const n = readInteger(this.obj[key], this.at(key), this.issues, opts.min, opts.max, opts.code)
    return n ?? opts.fallback
  }

  boolean(key: string, fallback: boolean): boolean {
    if (!this.has(key)) return fallback
    const v = this.obj[key]
    if (typeof v === 'boolean') return v
    this.issues.add(LocalConfigErrorCode.shape, this.at(key), `"${key}" must be true or false, found ${describe(v)}`)
    return fallback
  }

  /**
   * An enum, matched ignoring case and underscores, so both the protobuf JSON spelling
   * (`WORKLOAD_SELECTOR`) and ztunnel's serde spelling (`WorkloadSelector`) are accepted.
   */
  enumeration<T extends string>(
    key: string,
    values: readonly T[],
    opts: { fallback?: T; aliases?: Record<string, T> } = {},
  ): T | undefined {
    if (!this.has(key)) {
      if (opts.fallback === undefined)
        this.issues.add(LocalConfigErrorCode.missingField, this.at(key), `"${key}" is required (one of ${values.join(', ')})`)
      return opts.fallback
    }
    const v = this.obj[key]
    const norm = (s: string): string => s.replace(/_/g, '').toLowerCase()
    if (typeof v === 'string') {
      const hit = values.find((x) => norm(x) === norm(v)) ?? Object.entries(opts.aliases ?? {}).find(([a]) => norm(a) === norm(v))?.[1]
      if (hit !== undefined) return hit
    }
    this.issues.add(LocalConfigErrorCode.invalidValue, this.at(key), `"${key}" must be one of ${values.join(', ')}, found ${describe(v)}`)
    return opts.fallback
  }

  protected notAList(key: string, found: unknown): void {
    this.issues.add(LocalConfigErrorCode.shape, this.at(key), `"${key}" must be a list, found ${describe(found)}`)
  }

  protected notAString(path: Path, found: unknown): void {
    this.issues.add(LocalConfigErrorCode.shape, path, `expected a non-empty string, found ${describe(found)}`)
  }
}

/** An integer in [min, max]; YAML map keys arrive as strings ("80"), so decimal strings count. */
export function readInteger(
  v: unknown,
  path: Path,
  issues: Issues,
  min: number,
  max: number,
  code: LocalConfigErrorCode = LocalConfigErrorCode.invalidValue,
): number | undefined {
  const n = typeof v === 'string' && /^\d+$/.test(v) ? Number(v) : v
  if (typeof n !== 'number' || !Number.isInteger(n)) {
    issues.add(LocalConfigErrorCode.shape, path, `expected an integer, found ${describe(v)}`)
    return undefined
  }
  if (n < min || n > max) {
    issues.add(code, path, `${n} is out of range ${min}-${max}`)
    return undefined
  }
  return n
}
