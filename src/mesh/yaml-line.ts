// Where in the YAML source a config problem is: the line of a path into a parsed document. Shared by
// the local config (src/mesh/local-config.ts) and istiod's resource parser.
import { isMap, isScalar, isSeq } from 'yaml'
import type { Document, LineCounter } from 'yaml'

/** The line of the deepest node on `path` that exists (a map entry's line is its key's). */
export function yamlLineOf(doc: Document, lc: LineCounter, path: readonly (string | number)[]): number | undefined {
  let node: unknown = doc.contents
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
