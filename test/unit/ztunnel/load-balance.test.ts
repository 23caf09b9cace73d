// Edge cases of the weighted pick and the target-port rule (docs/istio-reference.md, "Load balancing").
import t from 'tap'
import { pickWeighted, targetPortFor } from '../../../src/ztunnel/load-balance.js'
import { service, workload } from '../../helpers/mesh-view.js'

const weight = (x: { w: number }) => x.w
const items = [
  { id: 'a', w: 1 },
  { id: 'b', w: 0 },
  { id: 'c', w: 3 },
]

const pickRows: Array<{ name: string; items: Array<{ id: string; w: number }>; r: number; want: string | undefined }> = [
  { name: 'empty list → undefined', items: [], r: 0.5, want: undefined },
  { name: 'r = 0 → the first item with weight', items, r: 0, want: 'a' },
  { name: 'weight 0 is never picked (r just past a)', items, r: 0.25, want: 'c' },
  { name: 'r = 1 (out of range) is clamped to the last item with weight', items, r: 1, want: 'c' },
  { name: 'NaN from random counts as 0', items, r: Number.NaN, want: 'a' },
  {
    name: 'all weights 0 → uniform choice (r 0.5 of 3 → second)',
    items: [
      { id: 'x', w: 0 },
      { id: 'y', w: 0 },
      { id: 'z', w: 0 },
    ],
    r: 0.5,
    want: 'y',
  },
  {
    name: 'negative and non-finite weights count as 0',
    items: [
      { id: 'x', w: -5 },
      { id: 'y', w: Infinity },
      { id: 'z', w: 2 },
    ],
    r: 0.1,
    want: 'z',
  },
]
for (const row of pickRows) {
  t.test(`pickWeighted: ${row.name}`, async (t) => {
    t.equal(pickWeighted(row.items, weight, () => row.r)?.id, row.want)
  })
}

const svc = service({
  name: 'reviews',
  addresses: ['10.96.0.10'],
  ports: [
    [80, 8080],
    [81, 0],
  ],
})
const key = 'default/reviews.default.svc.cluster.local'
const portRows: Array<{ name: string; map: Array<[number, number]>; port: number; want: { port: number; from: string } }> = [
  { name: 'endpoint port map wins', map: [[80, 9090]], port: 80, want: { port: 9090, from: 'endpoint' } },
  { name: 'endpoint target 0 → Service target port', map: [[80, 0]], port: 80, want: { port: 8080, from: 'service' } },
  { name: 'no endpoint mapping → Service target port', map: [], port: 80, want: { port: 8080, from: 'service' } },
  { name: 'Service target 0 → same port', map: [], port: 81, want: { port: 81, from: 'service-port' } },
  { name: 'port unknown to both → same port', map: [], port: 82, want: { port: 82, from: 'service-port' } },
]
for (const row of portRows) {
  t.test(`targetPortFor: ${row.name}`, async (t) => {
    const ep = workload({ name: 'ep', addresses: ['10.0.0.9'], services: { [key]: row.map } })
    t.strictSame(targetPortFor(ep, svc, row.port), row.want)
  })
}
