// KnownVersions: a shared base plus a client's own changes behaves as one plain map would, for
// every sequence of set/delete; the base is never written; own entries past the base's size fold.
import t from 'tap'
import { KnownVersions } from '../../../src/xds/known-versions.js'

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

for (const c of cases) {
  t.test(c.name, async (t) => {
    const known = new KnownVersions(base)
    const plain = new Map(base)
    for (const op of c.ops) {
      if (op[0] === 'set') {
        known.set(op[1], op[2])
        plain.set(op[1], op[2])
      } else t.equal(known.delete(op[1]), plain.delete(op[1]), `delete ${op[1]}`)
      t.equal(known.size, plain.size, 'size')
    }
    t.same([...known.keys()].sort(), [...plain.keys()].sort(), 'keys')
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
