// KnownVersions: a shared base (the server's map, or a client's response arrays) plus the holder's own
// changes behaves as one plain map would, for every sequence of set/delete; the base is never
// written; own entries past the base's size fold; a set never looks the base up.
import t from 'tap'
import { KnownVersions, SentVersions } from '../../../src/xds/known-versions.js'
import type { VersionBase } from '../../../src/xds/known-versions.js'

type Op = readonly ['set', string, string] | readonly ['delete', string]

const base = new Map([
  ['a', '1'],
  ['b', '1'],
  ['c', '1'],
])

const cases: readonly { name: string; ops: readonly Op[] }[] = [
  { name: 'nothing changed', ops: [] },
  { name: 'a new version of a base entry', ops: [['set', 'b', '2']] },
  { name: 'a name the base does not have', ops: [['set', 'd', '1']] },
  { name: 'a base entry removed', ops: [['delete', 'a']] },
  {
    name: 'removed, then set again',
    ops: [
      ['delete', 'a'],
      ['set', 'a', '3'],
    ],
  },
  {
    name: 'an own entry removed',
    ops: [
      ['set', 'd', '1'],
      ['delete', 'd'],
    ],
  },
  {
    name: 'removing what is not there',
    ops: [
      ['delete', 'zz'],
      ['delete', 'a'],
      ['delete', 'a'],
    ],
  },
  {
    name: 'own entries outgrow the base: folded',
    ops: [
      ['set', 'd', '1'],
      ['set', 'e', '1'],
      ['delete', 'a'],
      ['set', 'f', '1'],
      ['set', 'b', '9'],
      ['delete', 'e'],
    ],
  },
]

const bases: readonly [string, () => VersionBase][] = [
  ['a shared map', () => base],
  ['response arrays', () => new SentVersions([...base.keys()], [...base.values()])],
]

for (const c of cases)
  for (const [kind, makeBase] of bases) {
    t.test(`${c.name} (base: ${kind})`, async (t) => {
      const known = new KnownVersions(makeBase())
      const plain = new Map(base)
      for (const op of c.ops) {
        if (op[0] === 'set') {
          known.set(op[1], op[2])
          plain.set(op[1], op[2])
        } else t.equal(known.delete(op[1]), plain.delete(op[1]), `delete ${op[1]}`)
        t.equal(known.size, plain.size, 'size')
      }
      t.same([...known.keys()].sort(), [...plain.keys()].sort(), 'keys')
      t.same(new Map(known.entries()), plain, 'entries')
      t.equal(known.isEmpty, false)
      for (const name of ['a', 'b', 'c', 'd', 'e', 'f', 'zz']) {
        t.equal(known.get(name), plain.get(name), `get ${name}`)
        t.equal(known.has(name), plain.has(name), `has ${name}`)
      }
      t.same(
        [...base],
        [
          ['a', '1'],
          ['b', '1'],
          ['c', '1'],
        ],
        'the shared base is untouched',
      )
    })
  }

t.test('of(): from initial_resource_versions, no base', async (t) => {
  const known = KnownVersions.of([
    ['x', 'v1'],
    ['y', 'v2'],
  ])
  t.equal(known.size, 2)
  t.equal(known.get('y'), 'v2')
  t.equal(new KnownVersions().size, 0)
})

t.test("a client's sets and size changes never look its response arrays up (no index is built)", async (t) => {
  let lookups = 0
  const spy: VersionBase = {
    size: 3,
    get: (name) => (lookups++, base.get(name)),
    has: (name) => (lookups++, base.has(name)),
    keys: () => base.keys(),
  }
  const known = new KnownVersions(spy)
  t.equal(known.size, 3)
  for (let i = 0; i < 2; i++) known.set('b', `v${i}`)
  known.set('new', '1')
  t.equal(known.get('b'), 'v1', 'an own entry is found without the base')
  t.equal(known.isEmpty, false)
  t.equal(lookups, 0)
  t.equal(known.size, 4, 'counted when asked')
})

t.test('isEmpty: cheap and exact for a fresh or emptied holder', async (t) => {
  const fresh = new KnownVersions()
  t.equal(fresh.isEmpty, true)
  fresh.set('a', '1')
  t.equal(fresh.isEmpty, false)
  fresh.delete('a')
  t.equal(fresh.isEmpty, true)
  const shared = new KnownVersions(new SentVersions(['x'], ['1']))
  t.equal(shared.isEmpty, false)
  shared.delete('x')
  t.equal(shared.isEmpty, true, 'the last base entry removed: the base is dropped')
  t.same([...shared.keys()], [])
})
