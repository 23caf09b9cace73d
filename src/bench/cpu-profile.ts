// Where a proxy's CPU goes: reads V8 `.cpuprofile` files (written by `node --cpu-prof`, e.g. through
// `bench:ztunnel --ztunnel-node-flags="--cpu-prof --cpu-prof-dir=DIR"` or `ambient compare
// --proxy-node-flags=…`) and sums self time per category (TLS, HTTP/2, streams, our code, pino,
// prom-client, GC, native/program, idle) and per function.
//
//   node dist/bench/cpu-profile.js FILE.cpuprofile … [--top N] [--skip S (seconds after start, e.g. start-up and warm-up)]
import { readFileSync } from 'node:fs'
import path from 'node:path'
import { parseArgs } from 'node:util'

export interface ProfileNode {
  id: number
  callFrame: { functionName: string; url: string; lineNumber: number }
  children?: number[]
}

export interface CpuProfile {
  nodes: ProfileNode[]
  startTime: number
  endTime: number
  samples?: number[]
  timeDeltas?: number[]
}

/** V8-profiled calls into Node's C++ bindings (the syscall or the OpenSSL/nghttp2 work happens inside). */
const NATIVE = new Set([
  'writeBuffer',
  'writev',
  'writeUtf8String',
  'writeLatin1String',
  'readStart',
  'readStop',
  'respond',
  'request',
  'submitSettings',
  'shutdown',
  'close',
  'destroy',
  'consumeStream',
])

/** Ordered: the first matching rule names a frame's category. */
const CATEGORIES: readonly (readonly [string, (fn: string, url: string) => boolean])[] = [
  ['idle', (fn) => fn === '(idle)'],
  ['GC', (fn) => fn === '(garbage collector)'],
  ['native/program (syscalls, libuv, OpenSSL, nghttp2 C++)', (fn) => fn === '(program)'],
  ['native calls from JS (socket write/read, TLS and HTTP/2 bindings)', (fn, url) => url === '' && NATIVE.has(fn)],
  ['module loading (start-up)', (_fn, url) => /node:internal\/(modules|bootstrap|deps\/cjs-module-lexer)/.test(url)],
  ['pino (logging)', (_fn, url) => url.includes('/pino') || url.includes('sonic-boom')],
  ['prom-client (metrics)', (_fn, url) => url.includes('prom-client')],
  ['other node_modules', (_fn, url) => url.includes('node_modules')],
  ['node:tls / crypto', (_fn, url) => /node:(_tls|tls|internal\/tls|crypto|internal\/crypto)/.test(url)],
  ['node:http2', (_fn, url) => url.includes('internal/http2')],
  ['node:http (HTTP/1.1)', (_fn, url) => /node:(_http|internal\/http\b|http\b)/.test(url)],
  ['node:net / streams', (_fn, url) => /node:(net|internal\/streams|internal\/stream_base|stream)/.test(url)],
  ['node:timers / events / other internals', (_fn, url) => url.startsWith('node:')],
  ['our code (dist/)', (_fn, url) => url.includes('/dist/') || url.includes('/src/')],
  ['V8 builtins / unattributed', () => true],
]

export function categoryOf(functionName: string, url: string): string {
  for (const [name, match] of CATEGORIES) if (match(functionName, url)) return name
  return 'V8 builtins / unattributed'
}

export interface ProfileSummary {
  wallMs: number
  /** Sampled time that was not idle. */
  busyMs: number
  categories: { name: string; ms: number; shareOfBusy: number }[]
  functions: { name: string; category: string; ms: number; shareOfBusy: number }[]
}

/** Self time per category and per function, summed over `profiles`. */
export function summarizeProfiles(profiles: readonly CpuProfile[], top = 25, skipMs = 0): ProfileSummary {
  const byCategory = new Map<string, number>()
  const byFunction = new Map<string, { category: string; us: number }>()
  let wallUs = 0
  for (const p of profiles) {
    wallUs += Math.max(0, p.endTime - p.startTime - skipMs * 1000)
    const nodes = new Map(p.nodes.map((n) => [n.id, n]))
    const samples = p.samples ?? []
    const deltas = p.timeDeltas ?? []
    // The delta at i is the time before sample i: charge it to the sample that follows (V8's convention).
    let at = p.startTime
    for (let i = 0; i < samples.length; i++) {
      at += deltas[i] ?? 0
      if (at - p.startTime < skipMs * 1000) continue
      const n = nodes.get(samples[i]!)
      if (n === undefined) continue
      const us = deltas[i + 1] ?? 0
      const { functionName, url, lineNumber } = n.callFrame
      const category = categoryOf(functionName, url)
      byCategory.set(category, (byCategory.get(category) ?? 0) + us)
      const key = `${functionName || '(anonymous)'} ${url === '' ? '' : `${shortUrl(url)}:${lineNumber + 1}`}`.trim()
      const f = byFunction.get(key) ?? { category, us: 0 }
      f.us += us
      byFunction.set(key, f)
    }
  }
  const busyUs = [...byCategory].filter(([c]) => c !== 'idle').reduce((a, [, us]) => a + us, 0)
  const share = (us: number): number => (busyUs === 0 ? 0 : us / busyUs)
  return {
    wallMs: wallUs / 1000,
    busyMs: busyUs / 1000,
    categories: [...byCategory]
      .filter(([c]) => c !== 'idle')
      .sort((a, b) => b[1] - a[1])
      .map(([name, us]) => ({ name, ms: us / 1000, shareOfBusy: share(us) })),
    functions: [...byFunction]
      .filter(([, f]) => f.category !== 'idle')
      .sort((a, b) => b[1].us - a[1].us)
      .slice(0, top)
      .map(([name, f]) => ({ name, category: f.category, ms: f.us / 1000, shareOfBusy: share(f.us) })),
  }
}

function shortUrl(url: string): string {
  const i = url.indexOf('/dist/')
  if (i >= 0) return url.slice(i + 1)
  const j = url.indexOf('node_modules/')
  if (j >= 0) return url.slice(j)
  return url.startsWith('file://') ? path.basename(url) : url
}

export function formatProfileSummary(s: ProfileSummary): string {
  const pct = (x: number): string => `${(x * 100).toFixed(1).padStart(5)} %`
  const out = [
    `sampled ${(s.wallMs / 1000).toFixed(1)} s of wall time, ${(s.busyMs / 1000).toFixed(2)} s busy (not idle)`,
    '',
    'self time by category (share of busy)',
  ]
  for (const c of s.categories) out.push(`  ${pct(c.shareOfBusy)}  ${c.ms.toFixed(0).padStart(7)} ms  ${c.name}`)
  out.push('', 'top functions by self time')
  for (const f of s.functions) out.push(`  ${pct(f.shareOfBusy)}  ${f.ms.toFixed(0).padStart(7)} ms  ${f.name}  [${f.category}]`)
  return out.join('\n')
}

function main(): void {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: { top: { type: 'string', default: '25' }, skip: { type: 'string', default: '0' } },
  })
  if (positionals.length === 0) {
    process.stderr.write('usage: cpu-profile FILE.cpuprofile … [--top N] [--skip S]\n')
    process.exit(2)
  }
  const profiles = positionals.map((f) => JSON.parse(readFileSync(f, 'utf8')) as CpuProfile)
  process.stdout.write(`${formatProfileSummary(summarizeProfiles(profiles, Number(values.top), Number(values.skip) * 1000))}\n`)
}

if (process.argv[1] !== undefined && import.meta.url === `file://${path.resolve(process.argv[1])}`) main()
