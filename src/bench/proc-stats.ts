// CPU and memory of a process from /proc (benchmarking.md): CPU = Δ(utime + stime) ÷ clock ticks ÷
// wall seconds over a window; memory = mean VmRSS while sampling, plus the peak VmHWM.
import { readFileSync } from 'node:fs'

/** USER_HZ on Linux: `getconf CLK_TCK` is 100 on every kernel Node supports. */
export const CLOCK_TICKS_PER_SEC = 100

export interface CpuTimes {
  utimeTicks: number
  stimeTicks: number
}

/**
 * Parses /proc/<pid>/stat. The second field (comm) is in parentheses and may contain spaces and
 * parentheses, so fields are counted from the last ')'.
 */
export function parseProcStat(text: string): CpuTimes {
  const close = text.lastIndexOf(')')
  if (close < 0) throw new Error('malformed /proc stat: no comm field')
  // After ')' come field 3 (state) onwards; utime is field 14 and stime field 15 (proc(5)).
  const fields = text
    .slice(close + 2)
    .trim()
    .split(/\s+/)
  const utime = Number(fields[11])
  const stime = Number(fields[12])
  if (!Number.isFinite(utime) || !Number.isFinite(stime)) throw new Error('malformed /proc stat: utime/stime')
  return { utimeTicks: utime, stimeTicks: stime }
}

export interface MemoryKiB {
  vmRssKiB: number
  vmHwmKiB: number
}

/** Parses VmRSS and VmHWM (both in kB) out of /proc/<pid>/status. */
export function parseProcStatus(text: string): MemoryKiB {
  const field = (name: string): number => {
    const m = new RegExp(`^${name}:\\s+(\\d+)\\s+kB`, 'm').exec(text)
    if (!m?.[1]) throw new Error(`malformed /proc status: no ${name}`)
    return Number(m[1])
  }
  return { vmRssKiB: field('VmRSS'), vmHwmKiB: field('VmHWM') }
}

export function readCpuTimes(pid: number): CpuTimes {
  return parseProcStat(readFileSync(`/proc/${pid}/stat`, 'utf8'))
}

export function readMemory(pid: number): MemoryKiB {
  return parseProcStatus(readFileSync(`/proc/${pid}/status`, 'utf8'))
}

export interface ProcWindow {
  pid: number
  wallMs: number
  /** CPU cores used over the window (1.0 = one core busy all the time). */
  cpuCores: number
  /** The kernel's share of cpuCores (stime: syscalls, and the softirq network work run on the process's behalf). */
  sysCores: number
  /** Memory in MB (10^6 bytes), the unit the targets are written in. */
  rssMeanMB: number
  rssMaxMB: number
  /** VmHWM at the end of the window: the process's peak since it started. */
  hwmMB: number
  samples: number
}

/** /proc's "kB" are KiB. */
export const kibToMB = (kib: number): number => (kib * 1024) / 1e6

/**
 * Samples one process over a window: CPU from the difference of two /proc stat readings, RSS every
 * `intervalMs` (and once at each end, so even a short window has two samples).
 */
export class ProcSampler {
  private readonly pid: number
  private readonly intervalMs: number
  private startCpu: CpuTimes | undefined
  private startWallMs = 0
  private rss: number[] = []
  private timer: NodeJS.Timeout | undefined

  constructor(pid: number, intervalMs = 100) {
    this.pid = pid
    this.intervalMs = intervalMs
  }

  start(): void {
    if (this.timer) throw new Error('sampler already running')
    this.rss = []
    this.startCpu = readCpuTimes(this.pid)
    this.startWallMs = performance.now()
    this.sampleRss()
    this.timer = setInterval(() => this.sampleRss(), this.intervalMs)
    this.timer.unref()
  }

  stop(): ProcWindow {
    if (!this.timer || !this.startCpu) throw new Error('sampler not running')
    clearInterval(this.timer)
    this.timer = undefined
    const end = readCpuTimes(this.pid)
    const wallMs = performance.now() - this.startWallMs
    this.sampleRss()
    const mem = readMemory(this.pid)
    const sysTicks = end.stimeTicks - this.startCpu.stimeTicks
    const ticks = end.utimeTicks - this.startCpu.utimeTicks + sysTicks
    const cores = (t: number): number => (wallMs > 0 ? t / CLOCK_TICKS_PER_SEC / (wallMs / 1000) : 0)
    const mean = this.rss.reduce((a, b) => a + b, 0) / this.rss.length
    return {
      pid: this.pid,
      wallMs: Math.round(wallMs),
      cpuCores: cores(ticks),
      sysCores: cores(sysTicks),
      rssMeanMB: kibToMB(mean),
      rssMaxMB: kibToMB(Math.max(...this.rss)),
      hwmMB: kibToMB(mem.vmHwmKiB),
      samples: this.rss.length,
    }
  }

  private sampleRss(): void {
    try {
      this.rss.push(readMemory(this.pid).vmRssKiB)
    } catch {
      // The process may have exited; stop() reports what was sampled before.
    }
  }
}

/** Samples several processes over the same window. */
export async function sampleDuring<T>(
  pids: readonly number[],
  work: () => Promise<T>,
  intervalMs = 100,
): Promise<{ result: T; windows: ProcWindow[] }> {
  const samplers = pids.map((pid) => new ProcSampler(pid, intervalMs))
  for (const s of samplers) s.start()
  try {
    const result = await work()
    return { result, windows: samplers.map((s) => s.stop()) }
  } catch (err) {
    for (const s of samplers) {
      try {
        s.stop()
      } catch {
        // already stopped
      }
    }
    throw err
  }
}
