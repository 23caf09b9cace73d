// Table tests for mirroring (src/l7/engines/mirror.ts), with the seed's httpbin mirror (§2.4).
import t from 'tap'
import { decideMirrors, shadowAuthority } from '../../../src/l7/engines/mirror.js'
import type { Mirror } from '../../../src/mesh/waypoint-config.js'
import { scripted } from '../../helpers/waypoint-config.js'

const mirror = (percentage: number, subset = 'v2'): Mirror => ({
  cluster: `outbound|8000|${subset}|httpbin.default.svc.cluster.local`,
  hostname: 'httpbin.default.svc.cluster.local',
  port: 8000,
  subset,
  percentage,
})

const authorityRows: [string, string][] = [
  ['httpbin', 'httpbin-shadow'],
  ['httpbin:8000', 'httpbin-shadow:8000'],
  ['httpbin.default.svc.cluster.local:8000', 'httpbin.default.svc.cluster.local-shadow:8000'],
  ['10.96.0.10:8000', '10.96.0.10-shadow:8000'],
  ['[fd00::1]:80', '[fd00::1]-shadow:80'],
  ['[fd00::1]', '[fd00::1]-shadow'],
  ['fd00::1', 'fd00::1-shadow'],
]
for (const [input, want] of authorityRows) t.test(`shadowAuthority ${input}`, async (t) => t.equal(shadowAuthority(input), want))

const rows: { name: string; mirrors: Mirror[]; draws: number[]; want: string[] }[] = [
  { name: 'seed: 100 % always mirrors', mirrors: [mirror(100)], draws: [0.999999], want: ['v2'] },
  { name: '0 % never', mirrors: [mirror(0)], draws: [0], want: [] },
  { name: '50 %: draw below fires', mirrors: [mirror(50)], draws: [0.49], want: ['v2'] },
  { name: '50 %: draw at boundary does not', mirrors: [mirror(50)], draws: [0.5], want: [] },
  { name: 'each mirror draws on its own', mirrors: [mirror(50, 'v2'), mirror(50, 'v3')], draws: [0.9, 0.1], want: ['v3'] },
  { name: 'no mirrors', mirrors: [], draws: [0], want: [] },
]
for (const r of rows) {
  t.test(r.name, async (t) => {
    const d = decideMirrors(r.mirrors, 'httpbin:8000', scripted(...r.draws))
    t.same(
      d.map((m) => m.mirror.subset),
      r.want,
    )
    for (const m of d) t.equal(m.authority, 'httpbin-shadow:8000')
  })
}
