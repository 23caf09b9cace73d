// What istiod says about its config input, located the way `istioctl analyze` locates its IST0xxx
// messages: file, document, object, path, line; plus a one-line fix hint. The shape follows ztunnel's
// local-config `ConfigError {code, file, path, line, reason}` (src/mesh/local-config.ts) and adds the
// document, the object and a severity. Codes are stable: tests and tools match on them.

export const ConfigMessageCode = {
  /** The file could not be read (permissions, vanished mid-read). */
  unreadable: 'ISTIOD_UNREADABLE',
  /** YAML syntax error; the documents the yaml library could recover are still used. */
  yamlSyntax: 'ISTIOD_YAML_SYNTAX',
  /** A field of the wrong type, an unknown enum value, a bad duration or port. */
  schema: 'ISTIOD_SCHEMA',
  /** A field this kind does not have (warning: ignored, as the API server prunes it). */
  unknownField: 'ISTIOD_UNKNOWN_FIELD',
  /** A required field is absent. */
  missingField: 'ISTIOD_MISSING_FIELD',
  /** A document without `metadata.name`. */
  missingName: 'ISTIOD_MISSING_NAME',
  /** A document without `kind` or `apiVersion`, or one that is not a mapping. */
  notAnObject: 'ISTIOD_NOT_AN_OBJECT',
  /** Info: a kind istiod does not read (ConfigMap, Secret...); listed and ignored. */
  unknownKind: 'ISTIOD_UNKNOWN_KIND',
  /** A known kind with an apiVersion that does not serve it. */
  badApiVersion: 'ISTIOD_BAD_API_VERSION',
  /** A second object with the same Kind/namespace/name; the first one read wins. */
  duplicateObject: 'ISTIOD_DUPLICATE_OBJECT',
  /** Warning: a file that does not parse (or read) any more; its last good objects stay applied. */
  keptLastGood: 'ISTIOD_KEPT_LAST_GOOD',
} as const

export type ConfigMessageCode = (typeof ConfigMessageCode)[keyof typeof ConfigMessageCode]

export type Severity = 'error' | 'warning' | 'info'

export interface ConfigMessage {
  readonly code: ConfigMessageCode
  readonly severity: Severity
  readonly file: string
  /** 0-based index of the YAML document in the file; undefined for whole-file problems. */
  readonly docIndex: number | undefined
  /** `Kind/namespace/name` when known (as far as the document says). */
  readonly object: string | undefined
  /** `spec.http[0].route[1].weight`; '' for the whole document or file. */
  readonly path: string
  /** 1-based line of the deepest node on the path that exists. */
  readonly line: number | undefined
  readonly reason: string
  /** One line telling the user what to write instead. */
  readonly hint: string
}

/** `file:line: [CODE] Kind/ns/name path: reason (hint)`, for logs and the CLI. */
export function formatMessage(m: ConfigMessage): string {
  const where = m.line === undefined ? m.file : `${m.file}:${m.line}`
  const what = [m.object, m.path].filter((s) => s !== undefined && s !== '').join(' ')
  return `${where}: ${m.severity} [${m.code}]${what === '' ? '' : ` ${what}`}: ${m.reason}${m.hint === '' ? '' : ` (${m.hint})`}`
}

export function hasErrors(messages: readonly ConfigMessage[]): boolean {
  return messages.some((m) => m.severity === 'error')
}
