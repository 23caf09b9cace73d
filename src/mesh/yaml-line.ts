// Where in the YAML source a config problem is: the line of a path into a parsed document. Shared by
// the local config (src/mesh/local-config.ts), istiod's resource parser and its analysis messages.
import { isMap, isScalar, isSeq } from 'yaml'
import type { Document, LineCounter } from 'yaml'

/** The line of the deepest node on `path` that exists (a map entry's line is its key's). */
export function yamlLineOf(doc: Document, lc: LineCounter, path: readonly (string | number)[]): number | undefined {
  return yamlNodeLine(doc.contents, lc, path)
}

/** The same walk from any node of a parsed document (`path` [] gives the node's own line). */
export function yamlNodeLine(root: unknown, lc: LineCounter, path: readonly (string | number)[]): number | undefined {
  let node: unknown = root
  let offset = rangeStart(node)
  for (const seg of path) {
    if (isMap(node)) {
      const pair = node.items.find((p) => isScalar(p.key) && String(p.key.value) === String(seg))
      if (pair === undefined) break
      offset = rangeStart(pair.key) ?? offset
      node = pair.value
    } else if (isSeq(node) && typeof seg === 'number' && seg < node.items.length) {
      node = node.items[seg]
      offset = rangeStart(node) ?? offset
    } else {
      break
    }
  }
  return offset === undefined ? undefined : lc.linePos(offset).line
}

function rangeStart(node: unknown): number | undefined {
  return (node as { range?: readonly number[] } | null | undefined)?.range?.[0]
}
