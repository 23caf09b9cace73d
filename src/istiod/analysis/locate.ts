// The line of a field inside an object, for messages: analyzers name a field by path
// (`spec.http[0].route[1].destination.host`) and the model keeps only each object's own line, so
// this reads the YAML again (once per file, lazily) and walks the path. A path segment that does
// not exist stops the walk: the line is that of the deepest field found, as the parser does.
import { LineCounter, isMap, isScalar, isSeq, parseAllDocuments, type Document } from 'yaml'
import { yamlNodeLine } from '../../mesh/yaml-line.js'
import type { ObjectSource } from '../resources/model.js'

export type LineLocator = (source: ObjectSource, path: string) => number | undefined

interface ParsedFile {
  readonly docs: readonly Document[]
  readonly lines: LineCounter
}

export function createLineLocator(files: readonly { readonly file: string; readonly text: string }[]): LineLocator {
  const texts = new Map(files.map((f) => [f.file, f.text]))
  const parsed = new Map<string, ParsedFile | undefined>()
  const load = (file: string): ParsedFile | undefined => {
    if (!parsed.has(file)) {
      const text = texts.get(file)
      const lines = new LineCounter()
      const docs = text === undefined ? undefined : parseAllDocuments(text, { lineCounter: lines })
      parsed.set(file, Array.isArray(docs) ? { docs, lines } : undefined)
    }
    return parsed.get(file)
  }
  return (source, path) => {
    const f = load(source.file)
    const doc = f?.docs[source.docIndex]
    if (f === undefined || doc === undefined) return source.line
    const lineOf = (node: unknown): number | undefined => yamlNodeLine(node, f.lines, [])
    return yamlNodeLine(objectNode(doc.contents, source.line, lineOf), f.lines, parsePath(path)) ?? source.line
  }
}

/** The object's node: the document, or the `items` entry of a `kind: List` that starts on its line. */
function objectNode(root: unknown, line: number | undefined, lineOf: (n: unknown) => number | undefined): unknown {
  if (line === undefined || lineOf(root) === line || !isMap(root)) return root
  const items = root.items.find((p) => isScalar(p.key) && p.key.value === 'items')?.value
  return isSeq(items) ? (items.items.find((i) => lineOf(i) === line) ?? root) : root
}

/** `a.b[0]['x.y'].c` → ['a', 'b', 0, 'x.y', 'c']. */
export function parsePath(path: string): (string | number)[] {
  const out: (string | number)[] = []
  for (const m of path.matchAll(/\['([^']*)'\]|\[(\d+)\]|([^.[\]]+)/g)) {
    if (m[1] !== undefined) out.push(m[1])
    else if (m[2] !== undefined) out.push(Number(m[2]))
    else if (m[3] !== undefined) out.push(m[3])
  }
  return out
}
