// Reading one untrusted YAML object field by field, collecting every problem instead of stopping at
// the first (style: report every config error at once). The same idea as src/mesh's local-config
// Fields, with istiod's codes, severities and fix hints; paths are absolute from the document root
// so parse.ts can find the line of each problem in the YAML node tree.
import { formatPath, isMapping, describe, MappingFields } from '../../mesh/local-config-fields.js'
import { DURATION_HINT, parseDurationMs } from '../../duration.js'
import { ConfigMessageCode, type Severity } from './messages.js'

export { formatPath, isMapping, describe }

export type Path = readonly (string | number)[]

export interface Issue {
  readonly code: ConfigMessageCode
  readonly severity: Severity
  readonly path: Path
  readonly reason: string
  readonly hint: string
}

export class Issues {
  readonly list: Issue[] = []

  error(code: ConfigMessageCode, path: Path, reason: string, hint: string): void {
    this.list.push({ code, severity: 'error', path, reason, hint })
  }

  warn(code: ConfigMessageCode, path: Path, reason: string, hint: string): void {
    this.list.push({ code, severity: 'warning', path, reason, hint })
  }

  mark(): number {
    return this.list.length
  }

  /** Did an error (not a warning) arrive since `mark`? Errors make the object invalid. */
  failedSince(mark: number): boolean {
    return this.list.slice(mark).some((i) => i.severity === 'error')
  }
}

/** `true` means any field is allowed (Kubernetes kinds: we read a few of their many fields). */
export type Known = readonly string[] | true

export interface Entry {
  readonly value: unknown
  readonly path: Path
}

const schema = ConfigMessageCode.schema

/** Accessors over one mapping. A null/absent field counts as absent (YAML `key:` with no value). */
export class Fields extends MappingFields<Issues> {
  /**
   * Opens `value` as a mapping; undefined (and an error) if it is not one. Fields outside `known`
   * are warnings: the API server would prune them, so the object still applies without them.
   */
  static open(value: unknown, path: Path, issues: Issues, known: Known): Fields | undefined {
    if (!isMapping(value)) {
      issues.error(schema, path, `expected a mapping, found ${describe(value)}`, 'write `key: value` lines under this field')
      return undefined
    }
    if (known !== true) {
      for (const key of Object.keys(value)) {
        if (!known.includes(key)) {
          issues.warn(
            ConfigMessageCode.unknownField,
            [...path, key],
            `unknown field "${key}" (ignored)`,
            `check the spelling; known fields here: ${known.join(', ')}`,
          )
        }
      }
    }
    return new Fields(value, path, issues)
  }

  private missing(key: string, what: string): void {
    this.issues.error(ConfigMessageCode.missingField, this.at(key), `"${key}" is required`, `add ${key}: <${what}>`)
  }

  string(key: string, opts: { required?: boolean } = {}): string | undefined {
    if (!this.has(key)) {
      if (opts.required) this.missing(key, 'string')
      return undefined
    }
    const v = this.obj[key]
    if (typeof v === 'string' && v !== '') return v
    if (v === '') {
      if (opts.required) this.missing(key, 'string')
      return undefined
    }
    this.issues.error(schema, this.at(key), `"${key}" must be a string, found ${describe(v)}`, `quote the value: ${key}: "${String(v)}"`)
    return undefined
  }

  /** An integer in [min, max]. */
  int(key: string, min: number, max: number, opts: { required?: boolean } = {}): number | undefined {
    if (!this.has(key)) {
      if (opts.required) this.missing(key, 'integer')
      return undefined
    }
    return readInt(this.obj[key], this.at(key), this.issues, min, max)
  }

  /** A number (fractions allowed) in [min, max]. */
  number(key: string, min: number, max: number): number | undefined {
    if (!this.has(key)) return undefined
    const v = this.obj[key]
    if (typeof v !== 'number' || !Number.isFinite(v)) {
      this.issues.error(schema, this.at(key), `"${key}" must be a number, found ${describe(v)}`, `write a number between ${min} and ${max}`)
      return undefined
    }
    if (v < min || v > max) {
      this.issues.error(schema, this.at(key), `"${key}" is ${v}, out of range ${min}-${max}`, `write a number between ${min} and ${max}`)
      return undefined
    }
    return v
  }

  bool(key: string): boolean | undefined {
    if (!this.has(key)) return undefined
    const v = this.obj[key]
    if (typeof v === 'boolean') return v
    this.issues.error(schema, this.at(key), `"${key}" must be true or false, found ${describe(v)}`, `write ${key}: true or ${key}: false`)
    return undefined
  }

  /** A closed set of values, exact spelling (as the API server requires); `aliases` map old spellings. */
  enumOf<T extends string>(
    key: string,
    values: readonly T[],
    opts: { required?: boolean; aliases?: Readonly<Record<string, T>> } = {},
  ): T | undefined {
    if (!this.has(key)) {
      if (opts.required) this.missing(key, values.join('|'))
      return undefined
    }
    const v = this.obj[key]
    if (typeof v === 'string') {
      if ((values as readonly string[]).includes(v)) return v as T
      const alias = opts.aliases?.[v]
      if (alias !== undefined) return alias
    }
    const near = typeof v === 'string' ? values.find((x) => x.toLowerCase() === v.toLowerCase()) : undefined
    this.issues.error(
      schema,
      this.at(key),
      `"${key}" must be one of ${values.join(', ')}, found ${describe(v)}`,
      near === undefined ? `use one of ${values.join(', ')}` : `write ${key}: ${near} (values are case-sensitive)`,
    )
    return undefined
  }

  durationMs(key: string, opts: { required?: boolean } = {}): number | undefined {
    if (!this.has(key)) {
      if (opts.required) this.missing(key, 'duration')
      return undefined
    }
    const v = this.obj[key]
    const ms = typeof v === 'string' ? parseDurationMs(v) : undefined
    if (ms === undefined) this.issues.error(schema, this.at(key), `"${key}" is not a duration: ${describe(v)}`, DURATION_HINT)
    return ms
  }

  protected notAList(key: string, found: unknown): void {
    this.issues.error(
      schema,
      this.at(key),
      `"${key}" must be a list, found ${describe(found)}`,
      `write each item on its own "- " line under ${key}:`,
    )
  }

  protected notAString(path: Path, found: unknown): void {
    this.issues.error(schema, path, `expected a non-empty string, found ${describe(found)}`, 'quote the value')
  }

  /** A nested mapping; undefined when absent or not a mapping (then with an error). */
  child(key: string, known: Known): Fields | undefined {
    if (!this.has(key)) return undefined
    return Fields.open(this.obj[key], this.at(key), this.issues, known)
  }

  /** A nested mapping that must be there: when absent (or not a mapping) undefined, with a missing-field error whose hint is `hint`. */
  requiredChild(key: string, known: Known, hint: string): Fields | undefined {
    const child = this.child(key, known)
    if (child === undefined) this.issues.error(ConfigMessageCode.missingField, this.at(key), `"${key}" is required`, hint)
    return child
  }

  /** A string → string mapping (labels, annotations, header values). */
  stringMap(key: string): Record<string, string> {
    const out: Record<string, string> = {}
    if (!this.has(key)) return out
    const v = this.obj[key]
    if (!isMapping(v)) {
      this.issues.error(
        schema,
        this.at(key),
        `"${key}" must be a mapping of strings, found ${describe(v)}`,
        'write `name: value` lines under this field',
      )
      return out
    }
    for (const [k, val] of Object.entries(v)) {
      if (typeof val === 'string') out[k] = val
      else
        this.issues.error(
          schema,
          [...this.at(key), k],
          `"${k}" must be a string, found ${describe(val)}`,
          `quote the value: ${k}: "${String(val)}"`,
        )
    }
    return out
  }

  /** The mapping's entries, for maps keyed by user data (header names, ports). */
  entries(key: string): Entry[] {
    if (!this.has(key)) return []
    const v = this.obj[key]
    if (!isMapping(v)) {
      this.issues.error(
        schema,
        this.at(key),
        `"${key}" must be a mapping, found ${describe(v)}`,
        'write `name: value` lines under this field',
      )
      return []
    }
    return Object.entries(v).map(([k, value]) => ({ value, path: [...this.at(key), k] }))
  }
}

/** An integer in [min, max]; YAML map keys arrive as strings ("80"), so decimal strings count. */
export function readInt(v: unknown, path: Path, issues: Issues, min: number, max: number): number | undefined {
  const n = typeof v === 'string' && /^\d+$/.test(v) ? Number(v) : v
  if (typeof n !== 'number' || !Number.isInteger(n)) {
    issues.error(schema, path, `expected an integer, found ${describe(v)}`, `write a whole number between ${min} and ${max}`)
    return undefined
  }
  if (n < min || n > max) {
    issues.error(schema, path, `${n} is out of range ${min}-${max}`, `write a whole number between ${min} and ${max}`)
    return undefined
  }
  return n
}
