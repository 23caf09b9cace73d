// Many files' objects → one ConfigSnapshot. Files are taken in path order so that the outcome of a
// clash does not depend on the order the file system lists them: the first object with a given
// Kind/namespace/name wins, later ones are reported (ISTIOD_DUPLICATE_OBJECT) and skipped, as a
// second `kubectl create` of the same object would fail.
import { ConfigMessageCode, type ConfigMessage } from './messages.js'
import { KINDS, type ConfigObject, type ConfigSnapshot, type Kind, objectKey } from './model.js'
import { parseConfigText } from './parse.js'

export interface FileObjects {
  readonly file: string
  readonly objects: readonly ConfigObject[]
}

export interface SnapshotResult {
  readonly snapshot: ConfigSnapshot
  /** Only the duplicate-object errors; each file's own messages stay with the file. */
  readonly messages: readonly ConfigMessage[]
}

export function buildSnapshot(files: readonly FileObjects[]): SnapshotResult {
  const byKind = new Map<Kind, ConfigObject[]>(KINDS.map((k) => [k, []]))
  const seen = new Map<string, ConfigObject>()
  const messages: ConfigMessage[] = []
  const ordered = [...files].sort((a, b) => (a.file < b.file ? -1 : a.file > b.file ? 1 : 0))
  for (const { objects } of ordered) {
    for (const obj of objects) {
      const key = objectKey(obj)
      const first = seen.get(key)
      if (first !== undefined) {
        const at = `${first.source.file}${first.source.line === undefined ? '' : `:${first.source.line}`}`
        messages.push(
          Object.freeze({
            code: ConfigMessageCode.duplicateObject,
            severity: 'error',
            file: obj.source.file,
            docIndex: obj.source.docIndex,
            object: key,
            path: 'metadata.name',
            line: obj.source.line,
            reason: `${key} is already defined at ${at}; this one is ignored`,
            hint: 'rename one of them, or delete the copy',
          } as const),
        )
        continue
      }
      seen.set(key, obj)
      byKind.get(obj.kind)?.push(obj)
    }
  }
  const snapshot = {} as Record<Kind, readonly ConfigObject[]>
  for (const [kind, list] of byKind) {
    list.sort((a, b) => compare(a.metadata.namespace, b.metadata.namespace) || compare(a.metadata.name, b.metadata.name))
    snapshot[kind] = Object.freeze(list)
  }
  return { snapshot: Object.freeze(snapshot) as ConfigSnapshot, messages }
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0
}

/** Parses texts as if they were the files of a directory: the snapshot and every message. */
export function parseConfigFiles(files: readonly { readonly file: string; readonly text: string }[]): SnapshotResult {
  const results = files.map(({ file, text }) => ({ file, ...parseConfigText(text, file) }))
  const built = buildSnapshot(results)
  return { snapshot: built.snapshot, messages: [...results.flatMap((r) => r.messages), ...built.messages] }
}
