// A synthetic open-loop result for the bench summaries' table tests: one latency summary for all
// three distributions, the run complete at its target rate unless told.
import type { OpenLoopResult } from '../../src/bench/open-loop.js'

export function fakeOpenLoopResult(latency: { p50Us: number; p90Us: number; p99Us: number; maxUs: number }): OpenLoopResult {
  const lat = { count: 1000, meanUs: latency.p50Us, ...latency }
  return {
    targetRatePerSec: 1000,
    achievedRatePerSec: 999.5,
    scheduled: 1000,
    completed: 1000,
    errors: 0,
    dropped: 0,
    durationMs: 1000,
    latency: lat,
    serviceTime: lat,
    sendLag: lat,
    rejected: false,
    rejectReasons: [],
  }
}
