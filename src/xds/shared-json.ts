// The JSON of a WaypointConfig document (./convert.ts encodeWaypointConfig), with the frozen lists
// that many documents share serialized once. Sidecar configs (src/istiod/translate/sidecar-config.ts)
// share their namespace's frozen `services` and `clusters`: the whole mesh, hundreds of KB, in every
// pod's config. Each such list's JSON is kept per list object and spliced into the document's JSON at
// its key's place; the text is the same as JSON.stringify(document)'s. A frozen list is taken as
// immutable all the way down, as every translated value is.
import { randomUUID } from 'node:crypto'

const cache = new WeakMap<object, string>()
/** A string no document holds: the NUL and a per-process nonce. */
const MARK = `\u0000${randomUUID()}:`

function listJson(list: readonly unknown[]): string {
  let text = cache.get(list)
  if (text === undefined) {
    text = JSON.stringify(list)
    cache.set(list, text)
  }
  return text
}

/** JSON.stringify(document), with its frozen top-level lists serialized once per list object. */
export function documentJson(document: unknown): string {
  if (document === null || typeof document !== 'object' || Object.getPrototypeOf(document) !== Object.prototype || 'toJSON' in document) {
    return JSON.stringify(document)
  }
  const parts: string[] = []
  const copy: Record<string, unknown> = {}
  for (const [key, value] of Object.entries(document)) {
    if (Array.isArray(value) && value.length > 0 && Object.isFrozen(value)) {
      copy[key] = `${MARK}${parts.length}`
      parts.push(listJson(value))
    } else copy[key] = value
  }
  if (parts.length === 0) return JSON.stringify(document)
  const text = JSON.stringify(copy)
  let out = ''
  let at = 0
  parts.forEach((part, i) => {
    const mark = JSON.stringify(`${MARK}${i}`)
    const j = text.indexOf(mark, at)
    out += text.slice(at, j) + part
    at = j + mark.length
  })
  return out + text.slice(at)
}
