// Table tests for weighted destination choice (src/l7/engines/weighted-pick.ts).
import t from 'tap'
import { pickDestination as pickWeighted } from '../../../src/l7/engines/weighted-pick.js'
import { destination, scripted, seeded } from '../../helpers/waypoint-config.js'

const v1 = destination('outbound|9080|v1|reviews.default.svc.cluster.local', 90, { subset: 'v1' })
const v2 = destination('outbound|9080|v2|reviews.default.svc.cluster.local', 10, { subset: 'v2' })

const rows = [
  { name: 'draw 0 → first', dests: [v1, v2], draw: 0, want: 0 },
  { name: 'draw just under 0.9 → first', dests: [v1, v2], draw: 0.899, want: 0 },
  { name: 'draw 0.9 → second', dests: [v1, v2], draw: 0.9, want: 1 },
  { name: 'draw near 1 → last', dests: [v1, v2], draw: 0.999999, want: 1 },
  { name: 'weight 0 never picked', dests: [destination('a', 0), destination('b', 100)], draw: 0, want: 1 },
  { name: 'single destination', dests: [destination('a', 100)], draw: 0.5, want: 0 },
  { name: 'HTTPRoute weights need not sum to 100', dests: [destination('a', 1), destination('b', 3)], draw: 0.3, want: 1 },
]

for (const r of rows) {
  t.test(r.name, async (t) => {
    const p = pickWeighted(r.dests, scripted(r.draw))
    t.equal(p.kind, 'picked')
    if (p.kind === 'picked') t.equal(p.index, r.want)
  })
}

t.test('no positive weight → none', async (t) => {
  t.equal(pickWeighted([], Math.random).kind, 'none')
  t.equal(pickWeighted([destination('a', 0)], Math.random).kind, 'none')
})

t.test('seed canary 90/10 splits within ±2 % over 10 000 picks', async (t) => {
  const random = seeded(20240601)
  let toV1 = 0
  const n = 10_000
  for (let i = 0; i < n; i++) {
    const p = pickWeighted([v1, v2], random)
    if (p.kind === 'picked' && p.destination.subset === 'v1') toV1++
  }
  const share = toV1 / n
  t.ok(share >= 0.88 && share <= 0.92, `v1 share ${share}`)
})
