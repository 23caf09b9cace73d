// Messages between `bench:ztunnel` and its load generator process (over Node's IPC channel). The
// generator runs one task at a time; a latency task reports 'steady' when its warm-up is over and the
// measured open loop starts, so the parent samples the proxies over the steady window only.
import type { OpenLoopResult } from '../open-loop.js'
import type { BulkResult, Route } from '../ztunnel-http.js'

export interface LatencyTask {
  type: 'latency'
  id: number
  route: Route
  connections: number
  ratePerSec: number
  /** Unmeasured requests at the same rate on the same connections before the measured ones. */
  warmupCount: number
  count: number
  maxDurationMs: number
}

export interface BulkTask {
  type: 'bulk'
  id: number
  route: Route
  bytes: number
  maxDurationMs: number
}

export type LoadgenTask = LatencyTask | BulkTask

export type LoadgenMessage =
  | { type: 'ready'; id: 0 }
  | { type: 'steady'; id: number }
  | { type: 'latency-result'; id: number; result: OpenLoopResult }
  | { type: 'bulk-result'; id: number; result: BulkResult }
  | { type: 'error'; id: number; message: string }
