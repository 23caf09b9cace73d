// compare's anchors: our absolute per-proxy cost next to the real proxies', scaled per 1000 RPS.
import t from 'tap'
import { ANCHORS, anchorRows, anchorTableRows } from '../../../src/bench/compare-anchors.js'
import { spread } from '../../../src/bench/report.js'

const s3 = (...v: number[]) => spread(v)

t.test('every anchor has a value and a source', async (t) => {
  for (const a of ANCHORS) t.ok(a.value > 0 && a.source.length > 0 && a.what.length > 0, `${a.proxy} ${a.metric}`)
  t.same([...new Set(ANCHORS.map((a) => a.proxy))].sort(), ['sidecar', 'waypoint', 'ztunnel'])
})

t.test('ours per 1000 RPS, with min-max, against the first anchor of each figure', async (t) => {
  const none = s3()
  const rows = anchorRows({
    rates: [500],
    byModeRate: [
      {
        mode: 'ambient-l4',
        rate: 500,
        addedP90Us: s3(300),
        cpuByRole: { ztunnel: s3(0.04, 0.05, 0.06) },
        rssByRole: { ztunnel: s3(80, 81, 90) },
      },
      {
        mode: 'ambient-l7',
        rate: 500,
        addedP90Us: s3(900),
        cpuByRole: { ztunnel: s3(0.05), waypoint: s3(0.2, 0.25, 0.3) },
        rssByRole: { waypoint: s3(100) },
      },
      { mode: 'sidecar', rate: 500, addedP90Us: s3(2000, 4000, 46000), cpuByRole: { sidecar: none }, rssByRole: {} },
    ],
  })
  const by = (proxy: string, metric: string) => rows.find((r) => r.proxy === proxy && r.metric === metric)!
  t.same(by('ztunnel', 'coresPer1000Rps').ours, { median: 0.1, min: 0.08, max: 0.12, n: 3 }, 'scaled from 500 RPS to 1000')
  t.equal(by('ztunnel', 'coresPer1000Rps').anchors.length, 2, 'Rust ztunnel and haproxy')
  t.ok(Math.abs(by('waypoint', 'coresPer1000Rps').times! - 2) < 1e-9, '0.5 ÷ 0.25')
  t.equal(by('waypoint', 'rssMB').ours.median, 100, 'RSS is not scaled')
  t.same(by('sidecar', 'addedP90Ms').ours, { median: 4, min: 2, max: 46, n: 3 }, 'ms, with the swing visible')
  t.equal(by('sidecar', 'coresPer1000Rps').times, null, 'no figure: n/a')
  const table = anchorTableRows(rows)
  t.equal(table.length, rows.length)
  t.match(
    table.find((r) => r[0] === 'sidecar' && r[1]!.startsWith('added'))!,
    ['sidecar', /added p90/, '4.00 (2.00-46.00)', /0\.23/, '17.4×', /sidecar at 500 RPS/],
  )
})

t.test('a run without a mode has n/a rows', async (t) => {
  const rows = anchorRows({ rates: [1000], byModeRate: [] })
  t.ok(rows.every((r) => r.times === null && r.ours.n === 0))
})
