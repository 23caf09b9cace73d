// Multi-document YAML → validated, frozen objects + every problem found, at once.
//
// Rules (the issue's, and kubectl's where it has one):
//  - a document with YAML syntax errors is skipped and reported; the other documents of the file,
//    which the yaml library recovers, still count (`syntaxOk: false` tells the directory source to
//    keep the file's last good objects instead, when it has some);
//  - an object of a kind we do not read is listed (info) and ignored; a known kind with a wrong
//    apiVersion is an error;
//  - an invalid object is reported and skipped, every problem of it reported at once; unknown
//    fields of Istio and Gateway API kinds are warnings (the API server prunes them) and the object
//    still applies;
//  - `metadata.namespace` defaults to `default`, as `kubectl apply` does;
//  - `kind: List` (and `*List`, as `kubectl get -o yaml` dumps) is read item by item.
import { LineCounter, parseAllDocuments } from 'yaml'
import type { Document } from 'yaml'
import { Fields, Issues, type Path, describe, formatPath, isMapping } from './fields.js'
import { freezeObject } from './freeze.js'
import { KIND_INFO, isKnownKind, isOtherGroupsKind } from './kinds.js'
import { ConfigMessageCode, type ConfigMessage } from './messages.js'
import type { ConfigObject, Kind, ObjectMeta } from './model.js'
import { yamlLineOf } from '../../mesh/yaml-line.js'

export interface ParseResult {
  /** Valid objects, in document order. */
  readonly objects: readonly ConfigObject[]
  readonly messages: readonly ConfigMessage[]
  /** False when the file had YAML syntax errors (some documents may be missing from `objects`). */
  readonly syntaxOk: boolean
}

/** DNS-1123 subdomain: what Kubernetes requires of most object names. */
const NAME = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/
const DEFAULT_NAMESPACE = 'default'

export function parseConfigText(text: string, file: string): ParseResult {
  const lineCounter = new LineCounter()
  const docs = parseAllDocuments(text, { lineCounter, prettyErrors: true, uniqueKeys: true })
  const messages: ConfigMessage[] = []
  const objects: ConfigObject[] = []
  if (!Array.isArray(docs)) return { objects, messages, syntaxOk: true } // an empty stream
  let broken = 0
  docs.forEach((doc, docIndex) => {
    if (doc.errors.length > 0) {
      broken++
      for (const e of doc.errors) {
        messages.push(
          message(
            file,
            docIndex,
            undefined,
            ConfigMessageCode.yamlSyntax,
            'error',
            '',
            e.linePos?.[0]?.line,
            e.message.split('\n')[0] ?? e.message,
            'fix the YAML syntax (indentation, quotes, a missing ":")',
          ),
        )
      }
      return
    }
    const reader = new DocumentReader(file, docIndex, doc, lineCounter, messages)
    reader.readTop(doc.toJS({ maxAliasCount: 100 }) as unknown, objects)
  })
  // Nothing recoverable at all: one error for the file, not one per fragment the parser saw.
  if (broken > 0 && broken === docs.length) {
    const first = messages.find((m) => m.code === ConfigMessageCode.yamlSyntax) as ConfigMessage
    return { objects, messages: [{ ...first, docIndex: undefined, reason: `not valid YAML: ${first.reason}` }], syntaxOk: false }
  }
  return { objects, messages, syntaxOk: broken === 0 }
}

class DocumentReader {
  constructor(
    private readonly file: string,
    private readonly docIndex: number,
    private readonly doc: Document,
    private readonly lc: LineCounter,
    private readonly out: ConfigMessage[],
  ) {}

  readTop(value: unknown, objects: ConfigObject[]): void {
    if (value === null || value === undefined) return // a comment-only or empty document
    this.readObject(value, [], objects)
  }

  private readObject(value: unknown, path: Path, objects: ConfigObject[]): void {
    const report = (code: ConfigMessageCode, p: Path, reason: string, hint: string, object?: string): void => {
      this.out.push(
        message(
          this.file,
          this.docIndex,
          object,
          code,
          code === ConfigMessageCode.unknownKind ? 'info' : 'error',
          formatPath(p),
          this.lineOf(p),
          reason,
          hint,
        ),
      )
    }
    if (!isMapping(value)) {
      report(
        ConfigMessageCode.notAnObject,
        path,
        `expected a Kubernetes object, found ${describe(value)}`,
        'each document needs apiVersion, kind and metadata',
      )
      return
    }
    const { apiVersion, kind } = value
    if (typeof apiVersion !== 'string' || typeof kind !== 'string' || apiVersion === '' || kind === '') {
      report(ConfigMessageCode.notAnObject, path, 'apiVersion and kind are required strings', 'add e.g. apiVersion: v1 and kind: Service')
      return
    }
    if (kind === 'List' || (kind.endsWith('List') && Array.isArray(value.items))) {
      const items = Array.isArray(value.items) ? value.items : []
      items.forEach((item, i) => this.readObject(item, [...path, 'items', i], objects))
      return
    }
    const meta = isMapping(value.metadata) ? value.metadata : {}
    const rawName = typeof meta.name === 'string' ? meta.name : undefined
    const rawNs = typeof meta.namespace === 'string' && meta.namespace !== '' ? meta.namespace : DEFAULT_NAMESPACE
    const label = (k: string): string =>
      rawName === undefined ? k : isKnownKind(k) && !KIND_INFO[k].namespaced ? `${k}/${rawName}` : `${k}/${rawNs}/${rawName}`
    if (!isKnownKind(kind) || isOtherGroupsKind(kind, apiVersion)) {
      const near = Object.keys(KIND_INFO).find((k) => k.toLowerCase() === kind.toLowerCase() && k !== kind)
      report(
        ConfigMessageCode.unknownKind,
        [...path, 'kind'],
        `${kind} (${apiVersion}) is not read by istiod; ignored`,
        near === undefined ? 'nothing to do if this is intended' : `did you mean kind: ${near}?`,
        label(kind),
      )
      return
    }
    const info = KIND_INFO[kind]
    if (!info.apiVersions.includes(apiVersion)) {
      report(
        ConfigMessageCode.badApiVersion,
        [...path, 'apiVersion'],
        `${kind} is not served by ${apiVersion}`,
        `use apiVersion: ${info.apiVersions.join(' or ')}`,
        label(kind),
      )
      return
    }
    this.decode(kind, apiVersion, value, path, label(kind), objects)
  }

  private decode(kind: Kind, apiVersion: string, value: Record<string, unknown>, path: Path, key: string, objects: ConfigObject[]): void {
    const info = KIND_INFO[kind]
    const issues = new Issues()
    const top = Fields.open(value, path, issues, info.topLevel) as Fields
    const metadata = decodeMetadata(top, issues, info.namespaced)
    const body = info.decode(top as never, issues) as object | undefined
    for (const i of issues.list) {
      const code =
        i.code === ConfigMessageCode.missingField && i.path.at(-1) === 'name' && i.path.at(-2) === 'metadata'
          ? ConfigMessageCode.missingName
          : i.code
      this.out.push(message(this.file, this.docIndex, key, code, i.severity, formatPath(i.path), this.lineOf(i.path), i.reason, i.hint))
    }
    if (metadata === undefined || body === undefined || issues.failedSince(0)) return
    const source = { file: this.file, docIndex: this.docIndex, line: this.lineOf(path) }
    objects.push(freezeObject({ kind, apiVersion, metadata, ...body, source }) as ConfigObject)
  }

  /** The line of the deepest node on `path` that exists (a map entry's line is its key's). */
  private lineOf(path: Path): number | undefined {
    return yamlLineOf(this.doc, this.lc, path)
  }
}

function decodeMetadata(top: Fields, issues: Issues, namespaced: boolean): ObjectMeta | undefined {
  const mark = issues.mark()
  const m = top.child('metadata', true)
  if (m === undefined) {
    issues.error(ConfigMessageCode.missingName, top.at('metadata'), 'metadata.name is required', 'add metadata: {name: <name>}')
    return undefined
  }
  const name = m.string('name', { required: true })
  if (name !== undefined && (name.length > 253 || !NAME.test(name))) {
    issues.error(
      ConfigMessageCode.schema,
      m.at('name'),
      `"${name}" is not a valid name`,
      'use lower-case letters, digits, "-" and ".", starting and ending with a letter or digit',
    )
  }
  const ns = namespaced ? (m.string('namespace') ?? DEFAULT_NAMESPACE) : ''
  if (namespaced && !/^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/.test(ns)) {
    issues.error(
      ConfigMessageCode.schema,
      m.at('namespace'),
      `"${ns}" is not a valid namespace name`,
      'use lower-case letters, digits and "-", at most 63',
    )
  }
  const labels = m.stringMap('labels')
  const annotations = m.stringMap('annotations')
  if (issues.failedSince(mark) || name === undefined) return undefined
  return { name, namespace: ns, labels, annotations }
}

function message(
  file: string,
  docIndex: number | undefined,
  object: string | undefined,
  code: ConfigMessageCode,
  severity: ConfigMessage['severity'],
  path: string,
  line: number | undefined,
  reason: string,
  hint: string,
): ConfigMessage {
  return Object.freeze({ code, severity, file, docIndex, object, path, line, reason, hint })
}
