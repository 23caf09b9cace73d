// Where a proxy process's resident memory is, from /proc/PID/smaps and from V8's own heap-space figures
// (what scripts/mem-probe.mjs writes from inside the process): the debug reading behind the "waypoint
// memory under load" section of docs/proxy-profile.md. Pure: the caller reads the files.
//
// Anonymous mappings are told apart by where they are, which is how glibc and V8 place them on x86-64
// Linux: V8 maps its heap pages and code range at random hints below 2^46 (0x4000_0000_0000); glibc's
// thread arenas are 64 MiB reservations aligned on 64 MiB in the mmap area; the brk heap ([heap]) is
// the main arena; an anonymous mapping right after the executable's last mapping is its .bss; what is
// left in the mmap area is malloc's large chunks (≥ the mmap threshold), thread stacks and the like.

/** Resident kB by kind of mapping; `rssKb` is their sum. */
export interface SmapsBreakdown {
  rssKb: number
  /** File-backed pages of the executable (the node binary). */
  binaryKb: number
  /** File-backed pages of every other file (shared libraries, mapped files). */
  otherFilesKb: number
  /** The brk heap: glibc's main arena. */
  brkHeapKb: number
  /** Anonymous mappings below 2^46 that are not the brk heap or .bss: V8's heap pages and code. */
  v8Kb: number
  /** Anonymous 64 MiB-aligned mappings in the mmap area: glibc's thread arenas. */
  threadArenasKb: number
  /** Other anonymous mappings in the mmap area (malloc's mmapped chunks, thread stacks). */
  otherAnonKb: number
  /** The executable's .bss and the stacks and vdso pages the kernel names. */
  staticKb: number
}

const V8_LIMIT = 0x4000_0000_0000n
const ARENA_ALIGN = 64n * 1024n * 1024n
const HEADER = /^([0-9a-f]+)-([0-9a-f]+) (\S{4}) \S+ \S+ (\d+)\s*(.*)$/

/** Resident kB per kind of mapping of one /proc/PID/smaps text; `binary` is the executable's path. */
export function smapsBreakdown(text: string, binary: string): SmapsBreakdown {
  const out: SmapsBreakdown = {
    rssKb: 0,
    binaryKb: 0,
    otherFilesKb: 0,
    brkHeapKb: 0,
    v8Kb: 0,
    threadArenasKb: 0,
    otherAnonKb: 0,
    staticKb: 0,
  }
  let kind: Exclude<keyof SmapsBreakdown, 'rssKb'> | null = null
  let previousPath = ''
  for (const line of text.split('\n')) {
    const h = HEADER.exec(line)
    if (h !== null) {
      const [start, inode, path] = [BigInt(`0x${h[1]}`), h[4], (h[5] ?? '').trim()]
      if (path === binary) kind = 'binaryKb'
      else if (inode !== '0' || path.startsWith('/')) kind = 'otherFilesKb'
      else if (path === '[heap]') kind = 'brkHeapKb'
      else if (path.startsWith('[')) kind = 'staticKb'
      else if (previousPath === binary) kind = 'staticKb'
      else if (start < V8_LIMIT) kind = 'v8Kb'
      else if (start % ARENA_ALIGN === 0n) kind = 'threadArenasKb'
      else kind = 'otherAnonKb'
      previousPath = path
      continue
    }
    if (kind !== null && line.startsWith('Rss:')) {
      const kb = Number(line.slice(4).trim().split(/\s+/)[0])
      out[kind] += kb
      out.rssKb += kb
    }
  }
  return out
}

/** One space of `v8.getHeapSpaceStatistics()`, as the probe writes it. */
export interface HeapSpace {
  space_name: string
  space_size: number
  space_used_size: number
  physical_space_size: number
}

/** What scripts/mem-probe.mjs writes: `process.memoryUsage()` and `v8.getHeapSpaceStatistics()`. */
export interface MemProbe {
  memoryUsage: { rss: number; heapTotal: number; heapUsed: number; external: number; arrayBuffers: number }
  heapSpaces: HeapSpace[]
}

/** Resident (physical) and used MiB per V8 space group: new (+ its large objects), old (+ large objects), code (+ its large objects), other. */
export interface HeapSpaceSummary {
  newMiB: { physical: number; used: number }
  oldMiB: { physical: number; used: number }
  codeMiB: { physical: number; used: number }
  otherMiB: { physical: number; used: number }
  externalMiB: number
  arrayBuffersMiB: number
}

const MiB = 1024 * 1024

/** Groups a probe's heap spaces (Node 20's V8: read_only, new, old, code, shared and their large-object spaces). */
export function summarizeHeapSpaces(probe: MemProbe): HeapSpaceSummary {
  const groups = {
    newMiB: { physical: 0, used: 0 },
    oldMiB: { physical: 0, used: 0 },
    codeMiB: { physical: 0, used: 0 },
    otherMiB: { physical: 0, used: 0 },
  }
  for (const s of probe.heapSpaces) {
    const g = s.space_name.startsWith('new_')
      ? groups.newMiB
      : s.space_name.startsWith('code_')
        ? groups.codeMiB
        : ['old_space', 'map_space', 'large_object_space'].includes(s.space_name)
          ? groups.oldMiB
          : groups.otherMiB
    g.physical += s.physical_space_size / MiB
    g.used += s.space_used_size / MiB
  }
  return { ...groups, externalMiB: probe.memoryUsage.external / MiB, arrayBuffersMiB: probe.memoryUsage.arrayBuffers / MiB }
}

const mib = (kb: number): string => (kb / 1024).toFixed(1)

/** One line of a breakdown, MiB: `RSS 69.5 MiB = binary 40.5 + files 3.6 + …`. */
export function formatSmaps(m: SmapsBreakdown): string {
  const parts: Array<[string, number]> = [
    ['binary', m.binaryKb],
    ['files', m.otherFilesKb],
    ['brk', m.brkHeapKb],
    ['V8', m.v8Kb],
    ['arenas', m.threadArenasKb],
    ['other anon', m.otherAnonKb],
    ['static', m.staticKb],
  ]
  return `RSS ${mib(m.rssKb)} MiB = ${parts.map(([name, kb]) => `${name} ${mib(kb)}`).join(' + ')}`
}

/** One line of a heap-space summary: `V8 physical/used MiB new 4.0/1.4 old … external 3.2 (arrayBuffers 0.7)`. */
export function formatHeapSpaces(h: HeapSpaceSummary): string {
  const pair = (g: { physical: number; used: number }): string => `${g.physical.toFixed(1)}/${g.used.toFixed(1)}`
  return (
    `V8 physical/used MiB new ${pair(h.newMiB)} old ${pair(h.oldMiB)} code ${pair(h.codeMiB)} other ${pair(h.otherMiB)}` +
    ` external ${h.externalMiB.toFixed(1)} (arrayBuffers ${h.arrayBuffersMiB.toFixed(1)})`
  )
}
