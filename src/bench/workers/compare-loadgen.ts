// The load generator of `ambient compare`: workers/http-loadgen.ts's protocol (driven by the Loadgen
// class of ztunnel-procs.ts), with the HTTP path taken from the task (`/1k`, bookinfo's `/productpage`).
import type { LatencyTask } from './http-loadgen-protocol.js'
import { latency, serveLoadgen } from './loadgen-worker.js'

/** A latency task with the path to request (extra field; the base protocol ignores it). */
export type CompareLatencyTask = LatencyTask & { path?: string }

serveLoadgen('compare-loadgen', (task) => (task.type === 'latency' ? latency(task, (task as CompareLatencyTask).path ?? '/1k') : undefined))
