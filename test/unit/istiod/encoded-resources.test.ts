// The per-type resource cache of istiod's providers (src/istiod/encoded-resources.ts): which values
// count as unchanged (order-sensitive structural equality), and what a generation reports and keeps.
import t from 'tap'
import { EncodedResources, sameValue } from '../../../src/istiod/encoded-resources.js'

class Opaque {
  #secret: number
  constructor(secret: number) {
    this.#secret = secret
  }
  get secret(): number {
    return this.#secret
  }
}

t.test('sameValue: structural, order-sensitive, and conservative about what it does not know', async (t) => {
  const same = new Opaque(1)
  const rows: { name: string; a: unknown; b: unknown; want: boolean }[] = [
    { name: 'equal primitives', a: 'x', b: 'x', want: true },
    { name: 'NaN', a: Number.NaN, b: Number.NaN, want: true },
    { name: '0 and -0 (encoders may differ)', a: 0, b: -0, want: false },
    { name: 'undefined and null', a: undefined, b: null, want: false },
    { name: 'nested plain objects', a: { a: 1, b: { c: [1, 2] } }, b: { a: 1, b: { c: [1, 2] } }, want: true },
    { name: 'a nested difference', a: { a: 1, b: { c: [1, 2] } }, b: { a: 1, b: { c: [1, 3] } }, want: false },
    { name: 'key order (JSON differs)', a: { a: 1, b: 2 }, b: { b: 2, a: 1 }, want: false },
    { name: 'a key holding undefined vs no key', a: { a: 1, b: undefined }, b: { a: 1 }, want: false },
    { name: 'array length', a: [1, 2], b: [1, 2, 3], want: false },
    { name: 'array vs object with index keys', a: [1], b: { 0: 1 }, want: false },
    { name: 'equal Maps', a: new Map([['k', [{ p: 1 }]]]), b: new Map([['k', [{ p: 1 }]]]), want: true },
    {
      name: 'Map entry order (protobuf map order differs)',
      a: new Map([
        ['a', 1],
        ['b', 2],
      ]),
      b: new Map([
        ['b', 2],
        ['a', 1],
      ]),
      want: false,
    },
    { name: 'Map value', a: new Map([['k', 1]]), b: new Map([['k', 2]]), want: false },
    { name: 'equal Sets', a: new Set(['a', 'b']), b: new Set(['a', 'b']), want: true },
    { name: 'Set order', a: new Set(['a', 'b']), b: new Set(['b', 'a']), want: false },
    { name: 'byte arrays', a: Uint8Array.of(1, 2), b: Uint8Array.of(1, 2), want: true },
    { name: 'byte arrays differ', a: Uint8Array.of(1, 2), b: Uint8Array.of(1, 3), want: false },
    { name: 'Buffer vs Uint8Array', a: Buffer.from([1]), b: Uint8Array.of(1), want: false },
    { name: 'class instances with private state', a: new Opaque(1), b: new Opaque(2), want: false },
    { name: 'class instances, even equal-looking ones', a: new Opaque(1), b: new Opaque(1), want: false },
    { name: 'the same instance', a: same, b: same, want: true },
    { name: 'frozen vs not frozen', a: Object.freeze({ a: [1] }), b: { a: [1] }, want: true },
  ]
  for (const r of rows) t.equal(sameValue(r.a, r.b), r.want, r.name)
})

t.test('a generation re-encodes changed values only, and nothing is served before commit', async (t) => {
  const set = new EncodedResources()
  const encodes: string[] = []
  const encode = (v: { text: string }) => {
    encodes.push(v.text)
    return Buffer.from(v.text.toUpperCase())
  }
  const first = set.next(
    [
      ['a', { text: 'a' }],
      ['b', { text: 'b' }],
    ],
    encode,
  )
  t.same(first.changes, { changed: ['a', 'b'], removed: [] })
  t.equal(set.served.size, 0, 'not served before commit')
  first.commit()
  const a = set.served.get('a')!
  const map = set.served

  // 'b' changes into the same bytes (the encoder ignores case): encoded, but nothing to send.
  const second = set.next(
    [
      ['a', { text: 'a' }],
      ['b', { text: 'B' }],
      ['c', { text: 'c' }],
    ],
    encode,
  )
  t.same(second.changes, { changed: ['c'], removed: [] })
  second.commit()
  t.same(encodes, ['a', 'b', 'B', 'c'])
  t.equal(set.encoded, 4)
  t.equal(set.served.get('a'), a, 'unchanged: the same resource')
  t.not(set.served, map, 'a change serves a new map')

  const third = set.next([['a', { text: 'a' }]], encode)
  t.same(third.changes, { changed: [], removed: ['b', 'c'] })
  third.commit()
  t.same([...set.served.keys()], ['a'])

  const fourth = set.next(
    [
      ['a', { text: 'x' }],
      ['a', { text: 'a' }],
    ],
    encode,
  )
  t.same(fourth.changes, { changed: [], removed: [] }, 'a name given twice keeps its last value')
  const before = set.served
  fourth.commit()
  t.equal(set.served, before, 'no change: the same map')
})
