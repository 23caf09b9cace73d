// The benchmark's building blocks on their own: the /proc parsers, the open-loop scheduler's
// accounting and rejection, the closed loop's bound, and the report helpers. No timing is asserted
// beyond what holds on any machine (latency from the intended time is never below the service time).
import t from 'tap'
import { runClosedLoop, runOpenLoop } from '../../../src/bench/open-loop.js'
import { ProcSampler, parseProcStat, parseProcStatus } from '../../../src/bench/proc-stats.js'
import { formatSpread, formatTable, spread } from '../../../src/bench/report.js'

t.test('parseProcStat counts fields after the last ")" of comm', async (t) => {
  // comm may hold spaces and parentheses; utime and stime are fields 14 and 15.
  const line = '4242 (node (x) y) S 1 4242 4242 0 -1 4194560 100 0 0 0 1234 567 0 0 20 0 11 0 100 0 0'
  t.same(parseProcStat(line), { utimeTicks: 1234, stimeTicks: 567 })
  t.throws(() => parseProcStat('garbage'))
})

t.test('parseProcStatus reads VmRSS and VmHWM in kB', async (t) => {
  const text = 'Name:\tnode\nVmHWM:\t  90112 kB\nVmRSS:\t  81920 kB\nThreads:\t11\n'
  t.same(parseProcStatus(text), { vmRssKiB: 81920, vmHwmKiB: 90112 })
  t.throws(() => parseProcStatus('Name:\tnode\n'))
})

t.test('ProcSampler measures this process', async (t) => {
  const s = new ProcSampler(process.pid, 10)
  s.start()
  const until = performance.now() + 60
  while (performance.now() < until) {
    // burn CPU so that utime moves
  }
  const w = s.stop()
  t.ok(w.cpuCores >= 0 && w.cpuCores < 4, `cores ${w.cpuCores}`)
  t.ok(w.rssMeanMB > 10 && w.hwmMB >= w.rssMaxMB * 0.99, `rss ${w.rssMeanMB} MB, hwm ${w.hwmMB} MB`)
  t.ok(w.samples >= 2)
})

t.test('open loop: schedules every request, measures from the intended time', async (t) => {
  // A 3 ms timer: Node may fire a timer up to ~1 ms early against performance.now() (libuv's loop
  // time is cached), so the bound below is 2 ms, not 3.
  const r = await runOpenLoop({
    ratePerSec: 500,
    count: 50,
    maxDurationMs: 5000,
    send: () => new Promise((resolve) => setTimeout(resolve, 3)),
  })
  t.equal(r.scheduled, 50)
  t.equal(r.completed, 50)
  t.equal(r.errors, 0)
  t.equal(r.latency.count, 50)
  t.ok(r.latency.p50Us >= 2000, `p50 ${r.latency.p50Us} µs includes the ≥ 2 ms service time`)
  t.ok(r.latency.p50Us >= r.serviceTime.p50Us, 'intended-time latency ≥ service time')
  t.ok(r.achievedRatePerSec > 0)
})

t.test('open loop: errors and dropped requests reject the run', async (t) => {
  let i = 0
  const failing = await runOpenLoop({
    ratePerSec: 1000,
    count: 20,
    maxDurationMs: 5000,
    send: () => (i++ % 2 ? Promise.resolve() : Promise.reject(new Error('x'))),
  })
  t.equal(failing.errors, 10)
  t.equal(failing.rejected, true)
  t.match(failing.rejectReasons.join(';'), /10 errors/)

  const stuck = await runOpenLoop({
    ratePerSec: 1000,
    count: 20,
    maxDurationMs: 200,
    maxInFlight: 5,
    send: () => new Promise<void>(() => undefined),
  })
  t.equal(stuck.rejected, true)
  t.equal(stuck.dropped, 15, 'requests beyond maxInFlight are dropped, not queued')
  t.match(stuck.rejectReasons.join(';'), /duration bound/)
})

t.test('open loop: rejects bad arguments', async (t) => {
  await t.rejects(runOpenLoop({ ratePerSec: 0, count: 1, maxDurationMs: 10, send: async () => undefined }))
  await t.rejects(runOpenLoop({ ratePerSec: 10, count: 0, maxDurationMs: 10, send: async () => undefined }))
})

t.test('closed loop: measures each round trip and stops at its bound', async (t) => {
  const ok = await runClosedLoop({ count: 20, warmup: 5, maxDurationMs: 5000, roundTrip: () => new Promise((r) => setImmediate(r)) })
  t.equal(ok.completed, 20)
  t.equal(ok.latency.count, 20)
  t.equal(ok.truncated, false)
  await t.rejects(runClosedLoop({ count: 5, maxDurationMs: 50, roundTrip: () => new Promise<void>(() => undefined) }), /duration bound/)
})

t.test('report helpers', async (t) => {
  t.same(spread([3, 1, 2]), { median: 2, min: 1, max: 3, n: 3 })
  t.same(spread([4, 1, 2, 3]), { median: 2.5, min: 1, max: 4, n: 4 })
  t.equal(spread([]).n, 0)
  t.equal(formatSpread(spread([1.234, 2, 3]), 1), '2.0 (1.2-3.0)')
  t.equal(formatSpread(spread([5]), 0), '5')
  t.equal(formatSpread(spread([]), 0), 'n/a')
  t.equal(formatTable(['a', 'bb'], [['xxx', '1']], ['left', 'right']), 'a    bb\n---  --\nxxx   1')
})
