// A debug-only probe for what a proxy allocates, loaded into it with `--import=/abs/path/scripts/alloc-probe.mjs`
// (scripts/waypoint-ab.mjs with WP_ALLOC=1 loads it and signals it). On SIGUSR2 it starts V8's sampling heap
// profiler, keeping the samples of objects the GC already collected (so the profile is what was
// allocated, not what is still alive), and notes each GC from then on (kind, pause). When the process
// exits it writes $ALLOC_PROBE_DIR/alloc-PID.json: the profile's samples summed by function
// (`bytes`, self), the GCs (`gcs`: count and pause milliseconds by kind, and every pause) and the
// event loop's delay (`delay`: p50/p99/max/mean ms of a 1 ms timer's lateness). Nothing
// else changes in the process; sampling every 4 KiB costs a few per cent of its CPU.
import { Session } from 'node:inspector'
import { writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import process from 'node:process'
import { PerformanceObserver, constants, monitorEventLoopDelay } from 'node:perf_hooks'

const file = join(process.env.ALLOC_PROBE_DIR ?? tmpdir(), `alloc-${process.pid}.json`)
const session = new Session()
session.connect()
const pauses = []
const gcKinds = {
  [constants.NODE_PERFORMANCE_GC_MINOR]: 'scavenge',
  [constants.NODE_PERFORMANCE_GC_MAJOR]: 'mark-compact',
  [constants.NODE_PERFORMANCE_GC_INCREMENTAL]: 'incremental',
  [constants.NODE_PERFORMANCE_GC_WEAKCB]: 'weak-callbacks',
}
const observer = new PerformanceObserver((list) => {
  for (const e of list.getEntries())
    pauses.push({ at: e.startTime, ms: e.duration, kind: gcKinds[e.detail?.kind] ?? String(e.detail?.kind) })
})
// How late the event loop ran a 1 ms timer: a long task (a GC pause, a long callback, or the process
// waiting for a CPU) shows here as it shows in a request's latency.
const loopDelay = monitorEventLoopDelay({ resolution: 1 })
let started = false
process.on('SIGUSR2', () => {
  if (started) return
  started = true
  session.post('HeapProfiler.enable')
  session.post('HeapProfiler.startSampling', {
    samplingInterval: 4096,
    includeObjectsCollectedByMajorGC: true,
    includeObjectsCollectedByMinorGC: true,
  })
  observer.observe({ entryTypes: ['gc'] })
  loopDelay.enable()
})
process.on('exit', () => {
  if (!started) return
  // An in-process session answers synchronously: the callback runs before post returns.
  session.post('HeapProfiler.stopSampling', (err, result) => {
    if (err) return
    const bytes = {}
    // A builtin (no script: Set, Map, split…) is named with the function that called it.
    const walk = (node, caller) => {
      const f = node.callFrame
      const own = f.url === '' ? null : `${f.functionName || '(anonymous)'} ${f.url.split('/').slice(-2).join('/')}:${f.lineNumber + 1}`
      const name = own ?? `${f.functionName || '(anonymous)'} in ${caller}`
      if (node.selfSize > 0) bytes[name] = (bytes[name] ?? 0) + node.selfSize
      for (const c of node.children) walk(c, own ?? caller)
    }
    walk(result.profile.head, '(root)')
    const gcs = {}
    for (const p of pauses) {
      const g = (gcs[p.kind] ??= { count: 0, ms: 0 })
      g.count++
      g.ms += p.ms
    }
    loopDelay.disable()
    const ms = (ns) => ns / 1e6
    const delay = { p50: ms(loopDelay.percentile(50)), p99: ms(loopDelay.percentile(99)), max: ms(loopDelay.max), mean: ms(loopDelay.mean) }
    writeFileSync(file, JSON.stringify({ bytes, gcs, pauses, delay }))
  })
})
