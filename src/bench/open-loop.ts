// Load generators for latency: a fixed-rate open loop and a closed-loop ping-pong.
//
// Open loop (benchmarking.md, fortio `-uniform -nocatchup`): request i is due at t0 + i/rate whatever
// happened to request i-1, and its latency is measured from that *intended* time, so a stall in the
// system under test (or in this generator) shows up as latency instead of silently lowering the rate
// (coordinated omission). Node's timers have 1 ms granularity, so a request may leave up to ~1 ms after
// its intended time; that lateness is part of the intended-time figure for every mode alike, and the
// service time (from the actual send) is recorded beside it so a reader can tell the two apart.
//
// Every loop here is bounded in count and in time.
import * as hdr from 'hdr-histogram-js'
import type { Histogram } from 'hdr-histogram-js'

/** Latency percentiles in microseconds (HdrHistogram, 1 µs resolution, 3 significant digits). */
export interface LatencySummary {
  count: number
  p50Us: number
  p90Us: number
  p99Us: number
  maxUs: number
  meanUs: number
}

/** A histogram of microsecond values with 1 µs resolution and up to 60 s. */
export function createLatencyHistogram(): Histogram {
  return hdr.build({ lowestDiscernibleValue: 1, highestTrackableValue: 60_000_000, numberOfSignificantValueDigits: 3 })
}

export function summarize(h: Histogram): LatencySummary {
  return {
    count: h.totalCount,
    p50Us: h.getValueAtPercentile(50),
    p90Us: h.getValueAtPercentile(90),
    p99Us: h.getValueAtPercentile(99),
    maxUs: h.maxValue,
    meanUs: Math.round(h.mean * 10) / 10,
  }
}

/** Monotonic clock in microseconds (fractional). */
export type MicrosClock = () => number
export const hrtimeMicros: MicrosClock = () => Number(process.hrtime.bigint()) / 1000

function recordMicros(h: Histogram, us: number): void {
  // A value below the resolution is still a sample: count it as 1 µs rather than dropping it.
  h.recordValue(Math.max(1, Math.round(us)))
}

const PRECISE_WINDOW_US = 2000
const SPIN_US = 100
const sleepCell = new Int32Array(new SharedArrayBuffer(4))

/** Blocks until `dueUs`: a futex sleep (no CPU) for all but the last SPIN_US, which are spun. */
function preciseSleepUntil(dueUs: number, clock: MicrosClock): void {
  const sleepUs = dueUs - clock() - SPIN_US
  if (sleepUs > 0) Atomics.wait(sleepCell, 0, 0, sleepUs / 1000)
  while (clock() < dueUs) {
    // spin: bounded by SPIN_US plus the futex's early wake-up, if any
  }
}

export interface OpenLoopOptions {
  /** Target rate in requests per second. */
  ratePerSec: number
  /** Requests to schedule (the run ends earlier if `maxDurationMs` passes). */
  count: number
  /** Hard bound on the whole run, including waiting for the last responses. */
  maxDurationMs: number
  /** Bound on outstanding requests; a due request that finds the bound reached is dropped and counted. */
  maxInFlight?: number
  /** Below this fraction of the target rate the run is flagged rejected (benchmarking.md: 99 %). */
  minRateFraction?: number
  send: () => Promise<void>
  /**
   * Sub-millisecond send times (default true). When nothing is outstanding and the next request is
   * due within 2 ms, the thread sleeps on a futex (Atomics.wait) and spins the last ~100 µs instead of
   * waiting for a 1 ms timer. That blocks this process's event loop, which is harmless exactly then:
   * every response has arrived, so no socket of this run has work pending. Leave it off when the
   * process serves other traffic at the same time.
   */
  preciseWait?: boolean
  clock?: MicrosClock
}

export interface OpenLoopResult {
  targetRatePerSec: number
  achievedRatePerSec: number
  scheduled: number
  completed: number
  errors: number
  /** Due requests not sent because `maxInFlight` were outstanding. */
  dropped: number
  durationMs: number
  /** Latency from the intended send time (the figure to report). */
  latency: LatencySummary
  /** Latency from the actual send time (service time; for diagnosing generator lateness). */
  serviceTime: LatencySummary
  /** Send lateness: actual − intended send time. */
  sendLag: LatencySummary
  rejected: boolean
  rejectReasons: string[]
}

/**
 * Runs `send()` at a fixed rate. Resolves when every sent request has settled or the duration bound
 * passes (requests still outstanding then count as errors).
 */
export async function runOpenLoop(opts: OpenLoopOptions): Promise<OpenLoopResult> {
  if (!(opts.ratePerSec > 0) || !Number.isFinite(opts.ratePerSec)) throw new RangeError('ratePerSec must be a positive number')
  if (!Number.isInteger(opts.count) || opts.count < 1) throw new RangeError('count must be a positive integer')
  const clock = opts.clock ?? hrtimeMicros
  const precise = opts.preciseWait ?? true
  const maxInFlight = opts.maxInFlight ?? 1000
  const minFraction = opts.minRateFraction ?? 0.99
  const intervalUs = 1e6 / opts.ratePerSec
  const latency = createLatencyHistogram()
  const service = createLatencyHistogram()
  const lag = createLatencyHistogram()

  const t0 = clock() + 1000 // first request 1 ms from now, so setup work does not count as lag
  const deadline = t0 + opts.maxDurationMs * 1000
  let next = 0
  let inFlight = 0
  let completed = 0
  let errors = 0
  let dropped = 0
  let lastSendUs = t0
  let timedOut = false

  await new Promise<void>((resolve) => {
    let timer: NodeJS.Timeout | undefined
    let finished = false
    let waitingForIdle = false
    const finish = (): void => {
      if (finished) return
      finished = true
      if (timer) clearTimeout(timer)
      resolve()
    }
    const maybeFinish = (): void => {
      if (next >= opts.count && inFlight === 0) finish()
    }
    const fire = (intendedUs: number): void => {
      const sentUs = clock()
      lastSendUs = sentUs
      recordMicros(lag, sentUs - intendedUs)
      inFlight++
      let p: Promise<void>
      try {
        p = opts.send()
      } catch (err) {
        p = Promise.reject(err)
      }
      void p
        .then(
          () => {
            if (finished) return
            const now = clock()
            recordMicros(latency, now - intendedUs)
            recordMicros(service, now - sentUs)
            completed++
          },
          () => {
            if (!finished) errors++
          },
        )
        .finally(() => {
          inFlight--
          maybeFinish()
          // The next send is close and was waiting only for this response: take the precise path now.
          if (waitingForIdle && inFlight === 0 && !finished) {
            clearTimeout(timer)
            tick()
          }
        })
    }
    const tick = (): void => {
      timer = undefined
      waitingForIdle = false
      if (finished) return
      for (;;) {
        const now = clock()
        if (now >= deadline) {
          timedOut = true
          errors += inFlight
          finish()
          return
        }
        // Send everything that is due: with 1 ms timers several requests can fall in one tick.
        while (next < opts.count) {
          const intended = t0 + next * intervalUs
          if (intended > now) break
          if (inFlight >= maxInFlight) dropped++
          else fire(intended)
          next++
        }
        if (next >= opts.count) {
          // Only the deadline is left to watch.
          if (inFlight > 0) timer = setTimeout(tick, Math.max(1, Math.ceil((deadline - now) / 1000)))
          maybeFinish()
          return
        }
        const dueUs = t0 + next * intervalUs
        const waitUs = dueUs - clock()
        if (precise && inFlight === 0 && waitUs <= PRECISE_WINDOW_US) {
          preciseSleepUntil(dueUs, clock)
          continue
        }
        // Timers fire late, never early: aim early enough for the precise path to take over.
        timer = setTimeout(tick, Math.max(0, Math.floor((waitUs - (precise ? PRECISE_WINDOW_US / 2 : 0)) / 1000)))
        waitingForIdle = precise && waitUs <= PRECISE_WINDOW_US
        return
      }
    }
    timer = setTimeout(tick, 1)
  })

  const endUs = clock()
  // Rate over the dispatch span: for a perfect run, count / ((count-1)/rate + 1/rate) = rate.
  const spanUs = Math.max(lastSendUs - t0 + intervalUs, intervalUs)
  const achieved = (completed * 1e6) / spanUs
  const reasons: string[] = []
  if (achieved < minFraction * opts.ratePerSec)
    reasons.push(`achieved ${achieved.toFixed(1)}/s < ${(minFraction * 100).toFixed(0)} % of ${opts.ratePerSec}/s`)
  if (errors > 0) reasons.push(`${errors} errors`)
  if (dropped > 0) reasons.push(`${dropped} dropped at maxInFlight ${maxInFlight}`)
  if (timedOut) reasons.push(`duration bound ${opts.maxDurationMs} ms reached`)
  if (next < opts.count) reasons.push(`${opts.count - next} never scheduled`)
  return {
    targetRatePerSec: opts.ratePerSec,
    achievedRatePerSec: Math.round(achieved * 10) / 10,
    scheduled: next,
    completed,
    errors,
    dropped,
    durationMs: Math.round((endUs - t0) / 100) / 10,
    latency: summarize(latency),
    serviceTime: summarize(service),
    sendLag: summarize(lag),
    rejected: reasons.length > 0,
    rejectReasons: reasons,
  }
}

export interface ClosedLoopOptions {
  /** Round trips to measure (after `warmup` unmeasured ones). */
  count: number
  warmup?: number
  maxDurationMs: number
  /** One request/response over an existing connection. */
  roundTrip: () => Promise<void>
  clock?: MicrosClock
}

export interface ClosedLoopResult {
  latency: LatencySummary
  completed: number
  durationMs: number
  /** True when the duration bound cut the run short. */
  truncated: boolean
}

/**
 * Ping-pong: one request outstanding at a time, each measured from its own send. This is the
 * "request over an existing connection" figure of ztunnel PR #502; it has no coordinated-omission
 * problem because there is no schedule to fall behind.
 */
export async function runClosedLoop(opts: ClosedLoopOptions): Promise<ClosedLoopResult> {
  const clock = opts.clock ?? hrtimeMicros
  const h = createLatencyHistogram()
  const start = clock()
  const deadline = start + opts.maxDurationMs * 1000
  // One timer bounds the whole run, including a round trip that never completes.
  let timer: NodeJS.Timeout | undefined
  const expired = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new Error(`closed loop: duration bound ${opts.maxDurationMs} ms reached mid round trip`)),
      opts.maxDurationMs,
    )
  })
  expired.catch(() => undefined)
  let truncated = false
  let completed = 0
  try {
    for (let i = 0; i < (opts.warmup ?? 0); i++) {
      if (clock() >= deadline) break
      await Promise.race([opts.roundTrip(), expired])
    }
    for (let i = 0; i < opts.count; i++) {
      const t = clock()
      if (t >= deadline) {
        truncated = true
        break
      }
      await Promise.race([opts.roundTrip(), expired])
      recordMicros(h, clock() - t)
      completed++
    }
  } finally {
    clearTimeout(timer)
  }
  return { latency: summarize(h), completed, durationMs: Math.round((clock() - start) / 100) / 10, truncated }
}
