// documentJson (src/xds/shared-json.ts): the same text as JSON.stringify, whatever the document
// holds around its frozen lists, and a shared list serialized once per list object.
import t from 'tap'
import { documentJson } from '../../../src/xds/shared-json.js'

const shared = Object.freeze([{ a: 1, b: 'x\u0000y' }, Object.freeze({ c: [1, 2], d: undefined })])
const cases: { name: string; doc: unknown }[] = [
  { name: 'no frozen list', doc: { a: [1, 2], b: 'c' } },
  {
    name: 'frozen lists between other keys',
    doc: { name: 'p', services: shared, workloads: [{ n: 'w' }], clusters: shared, tail: { z: null } },
  },
  { name: 'an empty frozen list', doc: { a: Object.freeze([]), b: 1 } },
  { name: 'undefined values dropped', doc: { a: undefined, l: shared, b: undefined } },
  { name: 'integer-like keys first, as JSON.stringify orders them', doc: { b: shared, 2: 'two', 1: shared } },
  { name: 'a string that looks like JSON of a marker', doc: { s: '"\u0000:0"', l: shared } },
  { name: 'a frozen list at the top', doc: shared },
  {
    name: 'a class instance',
    doc: new (class {
      l = shared
    })(),
  },
  { name: 'toJSON', doc: { toJSON: () => ({ x: 1 }), l: shared } },
  { name: 'not an object', doc: 'text' },
]

for (const c of cases) {
  t.test(c.name, async (t) => {
    t.equal(documentJson(c.doc), JSON.stringify(c.doc))
  })
}

t.test('the same list in two documents', async (t) => {
  const a = { name: 'a', l: shared }
  const b = { name: 'b', l: shared }
  t.equal(documentJson(a), JSON.stringify(a))
  t.equal(documentJson(b), JSON.stringify(b))
})
