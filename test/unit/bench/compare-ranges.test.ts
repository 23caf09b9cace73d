// compare keeps its ambient and sidecar clusters up side by side: each cluster's 127.X ranges must
// be its own, or an app cannot bind its pod address (compare-quick failed so once).
import t from 'tap'
import { pickRanges } from '../../../src/bench/compare-modes.js'

t.test('the ranges of successive clusters never share an octet, and avoid the defaults', async (t) => {
  const seen = new Set<number>()
  let shared = 0
  for (let i = 0; i < 50; i++) {
    for (const x of Object.values(pickRanges())) {
      if (seen.has(x)) shared++
      seen.add(x)
      t.ok(x >= 20 && x < 240 && x !== 96, `octet ${x} in range and not a default`)
    }
  }
  t.equal(shared, 0, '50 clusters, 200 distinct octets')
  // Past what is left, picking starts over rather than failing.
  for (let i = 0; i < 10; i++) t.equal(new Set(Object.values(pickRanges())).size, 4, 'still four distinct octets')
})
