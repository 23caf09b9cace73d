// deepFreeze shares a value that is deep-frozen plain data and copies anything else; a value its
// builder marked (builtDeepFrozen: the xDS readers) is shared without the walk.
import t from 'tap'
import { builtDeepFrozen, deepFreeze, frozenMap, walksDeepFrozen } from '../../../src/mesh/values.js'

t.test('what deepFreeze shares and what it copies', async (t) => {
  const cases: [string, () => object, boolean][] = [
    ['frozen plain data', () => Object.freeze({ a: 1, list: Object.freeze(['x']), m: frozenMap([['k', Object.freeze([1])]]) }), true],
    ['an unfrozen part', () => Object.freeze({ a: 1, list: ['x'] }), false],
    ['an undefined property', () => Object.freeze({ a: 1, waypoint: undefined }), false],
    ['a plain Map', () => Object.freeze({ m: new Map([['k', 1]]) }), false],
    ['a class instance', () => Object.freeze(new (class {})()), false],
  ]
  for (const [name, make, shared] of cases) {
    const v = make()
    t.equal(walksDeepFrozen(v), shared, `${name}: walk`)
    t.equal(deepFreeze(v) === v, shared, `${name}: ${shared ? 'shared' : 'copied'}`)
    if (!shared) t.ok(walksDeepFrozen(deepFreeze(v)), `${name}: the copy is deep-frozen`)
  }
  const copied = deepFreeze(Object.freeze({ a: 1, waypoint: undefined }))
  t.notOk('waypoint' in copied, 'the copy drops an undefined property')
})

t.test('a value marked as built deep-frozen is shared without the walk', async (t) => {
  const built = builtDeepFrozen(Object.freeze({ uid: 'u', addresses: Object.freeze(['10.0.0.1']) }))
  t.equal(deepFreeze(built), built)
  t.ok(walksDeepFrozen(built), 'and it is what the walk would have shared')
  // The mark is the builder's word: deepFreeze does not look again (the readers' tests check their values with the walk).
  const liar = builtDeepFrozen({ list: [1] })
  t.equal(deepFreeze(liar), liar, 'a marked value is trusted as it is')
  t.notOk(walksDeepFrozen(liar), 'walksDeepFrozen ignores the mark')
  t.not(deepFreeze({ list: [1] }), liar, 'an unmarked value is still walked and copied')
})
