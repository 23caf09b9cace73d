// `ambient compare --quick`: a tiny run of the built CLI (real clusters: istiod, ztunnels, a waypoint,
// pods; and a sidecar cluster, one sidecar per pod) checked for sane numbers and a stable JSON shape.
// No timing target is asserted: the one relation checked (no mesh has the lowest p50) holds by a wide
// margin on any machine. The run takes about half a minute here; the file's budget is set well above
// tap's default so a slow CI machine does not cut it short.
import { existsSync } from 'node:fs'
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import t from 'tap'
import type { CompareResult } from '../../../src/bench/compare.js'
import { COMPARE_SCHEMA_VERSION } from '../../../src/bench/compare-summary.js'
import { cliEntry, runCli } from '../../helpers/run-cli.js'
import { checkXml } from '../../helpers/xml-check.js'

t.setTimeout(240_000)

t.test('ambient compare --quick: a tiny run with sane numbers and a stable JSON shape', async (t) => {
  if (!existsSync(cliEntry)) {
    t.fail(`${cliEntry} is missing: build first`)
    return
  }
  const outDir = await mkdtemp(path.join(os.tmpdir(), 'compare-smoke-'))
  t.teardown(() => rm(outDir, { recursive: true, force: true }))
  const { code, stdout, stderr } = await runCli(['compare', '--quick', '--pods', '1', '--out', outDir], 150_000)
  t.equal(code, 0, `exit code (stderr: ${stderr.slice(-2000)})`)
  t.match(stdout, /node v\d+/, 'names the node version')
  t.match(stdout, /kernel /, 'names the kernel')
  t.match(stdout, /method:/, 'writes the method')
  t.match(stdout, /0\.30 \(Istio 1\.24\)/, "prints Istio's CPU ratio next to ours")
  t.match(stdout, /0\.20 per proxy/, "prints Istio's memory ratio")
  t.match(stdout, /ambient \+8 % \| sidecar \+166 %/, "prints the paper's latency increases")
  const file = (kind: string): string | undefined => new RegExp(`^${kind}: (.+)$`, 'm').exec(stdout)?.[1]
  const jsonFile = file('JSON')
  const mdFile = file('report')
  const svgFile = file('chart')
  if (!jsonFile || !mdFile || !svgFile) {
    t.fail(`missing output lines in: ${stdout.slice(-1500)}`)
    return
  }
  const r = JSON.parse(await readFile(jsonFile, 'utf8')) as CompareResult
  const s = r.summary
  t.equal(s.schemaVersion, COMPARE_SCHEMA_VERSION)
  t.same(Object.keys(r).sort(), ['header', 'runs', 'summary', 'sweep'])
  t.same(Object.keys(s).sort(), ['byModeRate', 'crossover', 'modes', 'rates', 'ratios', 'schemaVersion', 'sweep', 'unavailable'])
  for (const k of ['node', 'kernel', 'cores', 'cpuModel', 'method', 'options', 'date']) t.ok(k in r.header, `header.${k}`)
  t.same(s.modes, ['nomesh', 'ambient-l4', 'ambient-l7', 'sidecar'], 'every mode measured')
  t.same(s.unavailable, [], 'nothing reported as not measured')
  const row = (mode: string): CompareResult['summary']['byModeRate'][number] => s.byModeRate.find((x) => x.mode === mode)!
  for (const x of s.byModeRate) {
    for (const k of [
      'mode',
      'rate',
      'rounds',
      'rejectedRuns',
      'achievedRate',
      'p50Us',
      'p90Us',
      'p99Us',
      'addedP50Us',
      'addedP90Us',
      'addedP99Us',
      'increaseP50Pct',
      'proxies',
      'proxyRoles',
      'cpuTotalCores',
      'cpuPerProxyCores',
      'cpuByRole',
      'rssPerProxyMB',
      'rssTotalMB',
      'rssTotalPeakMB',
      'rssIncreaseMB',
      'rssByRole',
    ]) {
      t.ok(k in x, `byModeRate[${x.mode}].${k}`)
    }
    t.ok(x.p50Us.median > 0 && Number.isFinite(x.p50Us.median), `${x.mode} p50 ${x.p50Us.median} µs`)
    t.ok(x.achievedRate.median > 0, `${x.mode} achieved rate`)
  }
  t.ok(row('nomesh').p50Us.median < row('ambient-l4').p50Us.median, 'no mesh is faster than ambient L4 (p50)')
  t.ok(row('nomesh').p50Us.median < row('ambient-l7').p50Us.median, 'no mesh is faster than ambient L7 (p50)')
  t.equal(row('nomesh').proxies, 0, 'no mesh: no proxy')
  t.same(row('ambient-l4').proxyRoles, { ztunnel: 2 }, 'ambient L4: one ztunnel per node')
  t.same(row('ambient-l7').proxyRoles, { ztunnel: 2, waypoint: 1 }, 'ambient L7: + one waypoint')
  const l4 = row('ambient-l4')
  t.ok(l4.cpuTotalCores.median > 0 && l4.cpuTotalCores.median < 4, `ztunnel CPU ${l4.cpuTotalCores.median}`)
  t.ok(l4.rssPerProxyMB.median > 10 && l4.rssPerProxyMB.median < 1000, `ztunnel RSS ${l4.rssPerProxyMB.median} MB`)
  const sidecar = row('sidecar')
  t.same(sidecar.proxyRoles, { sidecar: 2 }, 'sidecar: one per pod (client + server)')
  t.ok(row('nomesh').p50Us.median < sidecar.p50Us.median, 'no mesh is faster than sidecar (p50)')
  t.ok(sidecar.cpuPerProxyCores.median > 0 && sidecar.cpuPerProxyCores.median < 4, `sidecar CPU ${sidecar.cpuPerProxyCores.median}`)
  t.ok(sidecar.rssPerProxyMB.median > 10 && sidecar.rssPerProxyMB.median < 1000, `sidecar RSS ${sidecar.rssPerProxyMB.median} MB`)
  const sidecarRun = r.runs.find((x) => x.mode === 'sidecar')!
  t.ok(
    sidecarRun.proxies.every((p) => p.role === 'sidecar' && Number.isFinite(p.idleRssMB) && p.idleRssMB > 0),
    'every sidecar sampled, with an idle reading',
  )
  t.same(
    s.sweep.map((w) => `${w.podsPerNode} ${w.mode} ${w.proxies}`),
    ['1 ambient-l4 2', '1 ambient-l7 3', '1 sidecar 3'],
    'sweep: proxy counts per mode (1 server pod per node + the client)',
  )
  for (const w of s.sweep.filter((x) => x.mode === 'sidecar')) t.equal(w.proxies, w.pods, `sweep ${w.podsPerNode}/node: sidecars = pods`)
  for (const w of s.sweep)
    t.ok(
      w.achievedRate !== null && w.achievedRate > 0 && typeof w.rejected === 'boolean',
      `sweep ${w.podsPerNode}/${w.mode}: achieved ${w.achievedRate} RPS`,
    )
  t.equal(s.ratios.length, 5)
  for (const x of s.ratios) for (const k of ['name', 'ours', 'target', 'pass', 'published', 'note', 'unit']) t.ok(k in x, `ratio.${k}`)
  for (const x of s.ratios.slice(0, 3)) {
    t.ok(x.ours !== null && Number.isFinite(x.ours) && x.ours > 0, `${x.name}: ours ${x.ours}`)
    t.equal(typeof x.pass, 'boolean', `${x.name}: PASS or MISS`)
  }
  t.match(stdout, /\b(PASS|MISS)\b/, 'prints PASS/MISS')
  t.same(
    s.crossover.map((c) => c.mode),
    ['ambient-l4', 'ambient-l7'],
    'a crossover per ambient mode',
  )

  const md = await readFile(mdFile, 'utf8')
  t.match(md, /^# ambient compare/m)
  t.match(md, /\| ratio \| ours \| target \|/)
  t.match(md, /0\.30 \(Istio 1\.24\)/)
  t.match(md, /## Method/)
  t.match(md, new RegExp(`\\]\\(${path.basename(svgFile).replace(/\./g, '\\.')}\\)`), 'links the chart')
  const svg = await readFile(svgFile, 'utf8')
  t.equal(checkXml(svg), undefined, 'the SVG is well-formed XML')
  t.match(svg, /^<svg xmlns="http:\/\/www\.w3\.org\/2000\/svg"/)
  t.match(svg, /<polyline|<circle/, 'draws points')
  t.match(svg, /latency vs rate/)
  t.match(svg, /mesh memory vs pods per node/)
})
