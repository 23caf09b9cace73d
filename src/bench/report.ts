// Reporting for benchmarks: medians with min-max over rounds, a fixed-width table, a JSON file
// under bench-results/ (git-ignored) and a header that records where and how the figures were taken.
import { mkdir, writeFile } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'

export interface Spread {
  median: number
  min: number
  max: number
  /** Rounds that produced a value. */
  n: number
}

/** Median (mean of the middle two for an even count), min and max. Empty input gives NaN. */
export function spread(values: readonly number[]): Spread {
  const v = values.filter((x) => Number.isFinite(x)).sort((a, b) => a - b)
  if (v.length === 0) return { median: Number.NaN, min: Number.NaN, max: Number.NaN, n: 0 }
  const mid = Math.floor(v.length / 2)
  const median = v.length % 2 === 1 ? v[mid]! : (v[mid - 1]! + v[mid]!) / 2
  return { median, min: v[0]!, max: v[v.length - 1]!, n: v.length }
}

export interface BenchHeader {
  name: string
  date: string
  node: string
  kernel: string
  platform: string
  cores: number
  cpuModel: string
  totalMemMiB: number
  /** Load average when the run started: a busy machine shows here. */
  loadAvg1m: number
  method: string[]
  options: Record<string, unknown>
}

export function collectHeader(name: string, method: string[], options: Record<string, unknown>, now = new Date()): BenchHeader {
  const cpus = os.cpus()
  return {
    name,
    date: now.toISOString(),
    node: process.version,
    kernel: os.release(),
    platform: `${os.platform()} ${os.arch()}`,
    cores: os.availableParallelism?.() ?? cpus.length,
    cpuModel: cpus[0]?.model.trim() ?? 'unknown',
    totalMemMiB: Math.round(os.totalmem() / 1024 / 1024),
    loadAvg1m: Math.round((os.loadavg()[0] ?? 0) * 100) / 100,
    method,
    options,
  }
}

export function formatHeader(h: BenchHeader): string {
  const lines = [
    `${h.name} — ${h.date}`,
    `node ${h.node}, kernel ${h.kernel} (${h.platform}), ${h.cores} cores (${h.cpuModel}), ${h.totalMemMiB} MiB, load ${h.loadAvg1m}`,
    `options: ${Object.entries(h.options)
      .map(([k, v]) => `${k}=${String(v)}`)
      .join(' ')}`,
    'method:',
    ...h.method.map((m) => `  - ${m}`),
  ]
  return lines.join('\n')
}

export type Align = 'left' | 'right'

/** A fixed-width table: columns as wide as their widest cell; numbers usually right-aligned. */
export function formatTable(headers: readonly string[], rows: readonly (readonly string[])[], align: readonly Align[] = []): string {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)))
  const cell = (text: string, i: number): string => ((align[i] ?? 'left') === 'right' ? text.padStart(widths[i]!) : text.padEnd(widths[i]!))
  const line = (cells: readonly string[]): string =>
    widths
      .map((_, i) => cell(cells[i] ?? '', i))
      .join('  ')
      .trimEnd()
  return [line(headers), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line)].join('\n')
}

/** "median (min-max)" with a fixed number of decimals. */
export function formatSpread(s: Spread, decimals: number): string {
  if (s.n === 0) return 'n/a'
  const f = (x: number): string => x.toFixed(decimals)
  return s.n === 1 ? f(s.median) : `${f(s.median)} (${f(s.min)}-${f(s.max)})`
}

/** Writes `<dir>/<name>-<timestamp>.json` and returns its path. */
export async function writeJsonResult(dir: string, name: string, data: unknown, now = new Date()): Promise<string> {
  await mkdir(dir, { recursive: true })
  const stamp = now.toISOString().replace(/[:.]/g, '-')
  const file = path.join(dir, `${name}-${stamp}.json`)
  await writeFile(file, JSON.stringify(data, null, 2) + '\n')
  return file
}
