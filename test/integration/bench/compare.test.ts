// `ambient compare`: a tiny --quick run of the built CLI (real clusters: istiod, ztunnels, a waypoint,
// pods; and a sidecar cluster, one sidecar per pod) checked for sane numbers and a stable JSON shape,
// and the summary/report on synthetic runs that include sidecar figures (ratios, crossover, markdown,
// SVG), and the idle-RSS settle rule. No timing target is asserted: the
// one relation checked (no mesh has the lowest p50) holds by a wide margin on any machine.
import { spawn } from 'node:child_process'
import { existsSync } from 'node:fs'
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import t from 'tap'
import type { CompareResult } from '../../../src/bench/compare.js'
import { COMPARE_SCHEMA_VERSION, formatSummary, summarize } from '../../../src/bench/compare-summary.js'
import type { LatencyRun, SweepRun } from '../../../src/bench/compare-summary.js'
import { renderMarkdown, renderSvg } from '../../../src/bench/compare-report.js'
import { isSettled } from '../../../src/bench/compare-sweep.js'
import { collectHeader } from '../../../src/bench/report.js'
import type { OpenLoopResult } from '../../../src/bench/open-loop.js'

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..')
const entry = path.join(root, 'dist/cli/main.js')

function run(args: string[], timeoutMs: number): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--enable-source-maps', entry, ...args], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'], timeout: timeoutMs, killSignal: 'SIGINT' })
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (c: Buffer) => { stdout += c.toString() })
    child.stderr.on('data', (c: Buffer) => { stderr += c.toString() })
    child.once('error', reject)
    child.once('close', (code) => resolve({ code, stdout, stderr }))
  })
}

/** Tag balance of an SVG (XML): every opened element closed in order, one root <svg>. */
function checkXml(text: string): string | undefined {
  const stack: string[] = []
  let roots = 0
  for (const m of text.replace(/<\?xml[^>]*\?>/, '').matchAll(/<(\/?)([a-zA-Z][\w:-]*)((?:"[^"]*"|'[^']*'|[^'">])*)>/g)) {
    const [, close, name, rest] = m
    if (close) {
      if (stack.pop() !== name) return `</${name}> closes ${stack.at(-1) ?? 'nothing'}`
    } else if (!rest!.endsWith('/')) {
      if (stack.length === 0) roots++
      stack.push(name!)
    } else if (stack.length === 0) roots++
  }
  if (stack.length > 0) return `unclosed ${stack.join(', ')}`
  if (roots !== 1) return `${roots} root elements`
  if (/&(?!amp;|lt;|gt;|quot;|apos;|#\d+;)/.test(text)) return 'an unescaped &'
  return undefined
}

t.test('ambient compare --quick: a tiny run with sane numbers and a stable JSON shape', async (t) => {
  if (!existsSync(entry)) {
    t.fail(`${entry} is missing: build first`)
    return
  }
  const outDir = await mkdtemp(path.join(os.tmpdir(), 'compare-smoke-'))
  t.teardown(() => rm(outDir, { recursive: true, force: true }))
  const started = Date.now()
  const { code, stdout, stderr } = await run(['compare', '--quick', '--pods', '1', '--out', outDir], 60_000)
  t.equal(code, 0, `exit code (stderr: ${stderr.slice(-2000)})`)
  t.ok(Date.now() - started < 60_000, 'the quick run stays under 60 s')
  t.match(stdout, /node v\d+/, 'names the node version')
  t.match(stdout, /kernel /, 'names the kernel')
  t.match(stdout, /method:/, 'writes the method')
  t.match(stdout, /0\.30 \(Istio 1\.24\)/, 'prints Istio\'s CPU ratio next to ours')
  t.match(stdout, /0\.20 per proxy/, 'prints Istio\'s memory ratio')
  t.match(stdout, /ambient \+8 % \| sidecar \+166 %/, 'prints the paper\'s latency increases')
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
    for (const k of ['mode', 'rate', 'rounds', 'rejectedRuns', 'achievedRate', 'p50Us', 'p90Us', 'p99Us', 'addedP50Us', 'addedP90Us', 'addedP99Us', 'increaseP50Pct', 'proxies', 'proxyRoles', 'cpuTotalCores', 'cpuPerProxyCores', 'cpuByRole', 'rssPerProxyMB', 'rssTotalMB', 'rssTotalPeakMB', 'rssIncreaseMB', 'rssByRole']) {
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
  t.ok(sidecarRun.proxies.every((p) => p.role === 'sidecar' && Number.isFinite(p.idleRssMB) && p.idleRssMB > 0), 'every sidecar sampled, with an idle reading')
  t.same(s.sweep.map((w) => `${w.podsPerNode} ${w.mode} ${w.proxies}`), ['1 ambient-l4 2', '1 ambient-l7 3', '1 sidecar 3'], 'sweep: proxy counts per mode (1 server pod per node + the client)')
  for (const w of s.sweep.filter((x) => x.mode === 'sidecar')) t.equal(w.proxies, w.pods, `sweep ${w.podsPerNode}/node: sidecars = pods`)
  for (const w of s.sweep) t.ok(w.achievedRate !== null && w.achievedRate > 0 && typeof w.rejected === 'boolean', `sweep ${w.podsPerNode}/${w.mode}: achieved ${w.achievedRate} RPS`)
  t.equal(s.ratios.length, 5)
  for (const x of s.ratios) for (const k of ['name', 'ours', 'target', 'pass', 'published', 'note', 'unit']) t.ok(k in x, `ratio.${k}`)
  for (const x of s.ratios.slice(0, 3)) {
    t.ok(x.ours !== null && Number.isFinite(x.ours) && x.ours > 0, `${x.name}: ours ${x.ours}`)
    t.equal(typeof x.pass, 'boolean', `${x.name}: PASS or MISS`)
  }
  t.match(stdout, /\b(PASS|MISS)\b/, 'prints PASS/MISS')
  t.same(s.crossover.map((c) => c.mode), ['ambient-l4', 'ambient-l7'], 'a crossover per ambient mode')

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

const fakeResult = (p50: number): OpenLoopResult => {
  const lat = { count: 1000, p50Us: p50, p90Us: p50 * 2, p99Us: p50 * 4, maxUs: p50 * 8, meanUs: p50 }
  return { targetRatePerSec: 1000, achievedRatePerSec: 999.5, scheduled: 1000, completed: 1000, errors: 0, dropped: 0, durationMs: 1000, latency: lat, serviceTime: lat, sendLag: lat, rejected: false, rejectReasons: [] }
}
const proxy = (role: 'ztunnel' | 'waypoint' | 'sidecar', name: string, cpu: number, rss: number): LatencyRun['proxies'][number] => ({ role, name, cpuCores: cpu, rssMeanMB: rss, rssMaxMB: rss, hwmMB: rss + 5, idleRssMB: rss - 10 })

t.test('ambient compare --scenario bookinfo: ambient L4 and sidecar clusters of the bookinfo fixture carry the load', async (t) => {
  const outDir = await mkdtemp(path.join(os.tmpdir(), 'compare-bookinfo-'))
  t.teardown(() => rm(outDir, { recursive: true, force: true }))
  const { code, stdout, stderr } = await run(['compare', '--scenario', 'bookinfo', '--quick', '--modes', 'ambient-l4,sidecar', '--rates', '50', '--out', outDir], 90_000)
  t.equal(code, 0, `exit code (stderr: ${stderr.slice(-2000)})`)
  const jsonFile = /^JSON: (.+)$/m.exec(stdout)?.[1]
  if (!jsonFile) {
    t.fail(`no JSON line in: ${stdout.slice(-1500)}`)
    return
  }
  const s = (JSON.parse(await readFile(jsonFile, 'utf8')) as CompareResult).summary
  const row = (mode: string): CompareResult['summary']['byModeRate'][number] => s.byModeRate.find((x) => x.mode === mode)!
  t.same(row('ambient-l4').proxyRoles, { ztunnel: 2 })
  t.same(row('sidecar').proxyRoles, { sidecar: 7 }, 'one sidecar per bookinfo pod')
  for (const m of ['ambient-l4', 'sidecar']) t.equal(row(m).rejectedRuns, 0, `${m}: every request of the run answered 200`)
  t.same(s.sweep, [], 'no memory sweep for bookinfo')
  t.match(s.ratios[1]!.name, /under load/, 'memory from the load runs')
  t.ok(s.ratios[1]!.ours !== null && s.ratios[1]!.ours > 0 && s.ratios[1]!.ours < 1, `2 ztunnels use less memory than 7 sidecars: ${s.ratios[1]!.ours}`)
})

t.test('summary with sidecar figures: ratios, crossover; markdown and SVG render', async (t) => {
  const runs: LatencyRun[] = []
  for (const round of [1, 2, 3]) {
    runs.push({ round, rate: 1000, mode: 'nomesh', result: fakeResult(300), proxies: [] })
    runs.push({ round, rate: 1000, mode: 'ambient-l4', result: fakeResult(400), proxies: [proxy('ztunnel', 'ztunnel/node-1', 0.03, 50), proxy('ztunnel', 'ztunnel/node-2', 0.03, 50)] })
    runs.push({ round, rate: 1000, mode: 'sidecar', result: fakeResult(800), proxies: [proxy('sidecar', 'sidecar/client', 0.12, 60), proxy('sidecar', 'sidecar/server', 0.12, 60)] })
  }
  const sweep: SweepRun[] = []
  for (const n of [1, 2, 4, 8]) {
    sweep.push({ podsPerNode: n, mode: 'ambient-l4', pods: 2 * n + 1, proxies: [proxy('ztunnel', 'a', 0, 50 + n), proxy('ztunnel', 'b', 0, 50 + n)] })
    sweep.push({ podsPerNode: n, mode: 'sidecar', pods: 2 * n + 1, proxies: Array.from({ length: 2 * n + 1 }, (_, i) => proxy('sidecar', `s${i}`, 0, 60)) })
  }
  const s = summarize(['nomesh', 'ambient-l4', 'sidecar'], [], [1000], runs, sweep)
  const l4 = s.byModeRate.find((r) => r.mode === 'ambient-l4')!
  t.equal(l4.addedP50Us.median, 100)
  t.equal(l4.proxies, 2)
  t.equal(s.ratios[0]!.ours, 0.25, 'CPU per proxy ztunnel ÷ sidecar')
  t.equal(s.ratios[0]!.pass, true)
  t.equal(s.ratios[1]!.ours, 116 / (17 * 60), 'memory at 8 pods/node: 2 ztunnels ÷ 17 sidecars')
  t.equal(s.ratios[2]!.ours, 0.2, 'added p50 100 µs ÷ 500 µs')
  t.same(s.crossover, [{ mode: 'ambient-l4', podsPerNode: 1, note: 'ambient memory below the summed sidecars from 1 pod(s) per node' }])
  const text = formatSummary(s)
  t.match(text, /0\.25\s+≤ 0\.30\s+PASS\s+0\.30 \(Istio 1\.24\)/)
  t.match(text, /crossover \(ambient L4\): 1 pods per node/)
  const md = renderMarkdown(collectHeader('ambient compare', ['m'], {}), s, 'c.svg')
  t.match(md, /\| sidecar \|/)
  t.match(md, /crossover, ambient L4: 1 pods per node/)
  t.match(md, /\| RPS achieved \|/, 'the sweep table has the achieved rate')
  const svg = renderSvg(s)
  t.equal(checkXml(svg), undefined, 'well-formed')
  t.match(svg, /sidecar p50/)
  const worse = summarize(['nomesh', 'ambient-l4', 'sidecar'], [], [1000], runs.map((r) => (r.mode === 'ambient-l4' ? { ...r, result: fakeResult(700) } : r)), sweep)
  t.equal(worse.ratios[2]!.pass, false)
  t.match(formatSummary(worse), /≤ 0\.4\s+MISS/, 'a missed target reads MISS')
})

t.test('summary without a sweep or a no-mesh baseline (bookinfo): memory and whole-request p50 from the load runs, no verdict', async (t) => {
  const runs: LatencyRun[] = [
    { round: 1, rate: 100, mode: 'ambient-l4', result: fakeResult(4000), proxies: [proxy('ztunnel', 'ztunnel/node-1', 0.05, 80), proxy('ztunnel', 'ztunnel/node-2', 0.05, 80)] },
    { round: 1, rate: 100, mode: 'sidecar', result: fakeResult(8000), proxies: Array.from({ length: 7 }, (_, i) => proxy('sidecar', `sidecar/p${i}`, 0.1, 80)) },
  ]
  const s = summarize(['ambient-l4', 'sidecar'], [], [100], runs, [])
  t.equal(s.ratios[1]!.ours, 160 / 560, 'memory: 2 ztunnels ÷ 7 sidecars under load')
  t.equal(s.ratios[1]!.pass, null, 'no 8-pods-per-node verdict without the sweep')
  t.match(s.ratios[1]!.name, /under load at 100 RPS/)
  t.equal(s.ratios[2]!.ours, 0.5, 'whole-request p50 4 ms ÷ 8 ms')
  t.equal(s.ratios[2]!.pass, null)
  t.match(s.ratios[2]!.name, /whole-request p50 \(no no-mesh baseline\)/)
})

t.test('idle RSS settles: every series within max(tolerance, 1 %) over the window', async (t) => {
  t.equal(isSettled([[50, 60, 70]], 3, 0.5), false, 'still growing')
  t.equal(isSettled([[50, 60, 70, 70.2, 70.1]], 3, 0.5), true, 'held within 0.5 MB')
  t.equal(isSettled([[70, 70.1]], 3, 0.5), false, 'too few readings')
  t.equal(isSettled([[70, 70, 70], [100, 130, 131]], 3, 0.5), false, 'one proxy still moving')
  t.equal(isSettled([[500, 503, 504]], 3, 0.5), true, '1 % of a large RSS')
})
