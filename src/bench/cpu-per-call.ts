// CPU microseconds of this process (process.cpuUsage, user + system) per call of a pure function:
// less inflated by a busy, shared machine than wall time. Used by bench:authz's two tables.
import v8 from 'node:v8'
import vm from 'node:vm'

// A full collection before each figure, so the garbage one case leaves (an explain run keeps
// thousands of traces alive) is not collected, and charged, inside the next case's figure.
v8.setFlagsFromString('--expose-gc')
const collectGarbage = vm.runInNewContext('gc') as () => void

/** CPU µs per call of `fn`, over enough calls for ≥ 100 ms of CPU (at most `maxCalls`), after a warm-up (JIT) and a GC. */
export function cpuPerCall(fn: () => unknown, maxCalls: number): number {
  for (let i = 0; i < Math.min(2000, maxCalls); i++) fn()
  collectGarbage()
  const start = process.cpuUsage()
  let calls = 0
  let used = 0
  while (calls < maxCalls && used < 100_000) {
    fn()
    calls++
    if (calls % 16 === 0 || calls === maxCalls) {
      const d = process.cpuUsage(start)
      used = d.user + d.system
    }
  }
  const d = process.cpuUsage(start)
  return (d.user + d.system) / calls
}
