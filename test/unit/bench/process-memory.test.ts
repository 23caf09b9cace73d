// The debug reading of a proxy's memory: /proc/PID/smaps by kind of mapping, and V8's heap spaces by group.
import t from 'tap'
import { formatHeapSpaces, formatSmaps, smapsBreakdown, summarizeHeapSpaces } from '../../../src/bench/process-memory.js'
import type { HeapSpace, MemProbe } from '../../../src/bench/process-memory.js'

const BIN = '/usr/bin/node'
/** One smaps entry: its header line and the lines that follow it (only Rss is read). */
const entry = (header: string, rssKb: number) =>
  [header, `Size:               9999 kB`, `Rss:              ${rssKb} kB`, `Pss:                 1 kB`, `VmFlags: rd mr mw me ac`].join(
    '\n',
  )

t.test('smapsBreakdown: each mapping counted once, by where it is and what backs it', async (t) => {
  const cases: Array<[string, string, keyof ReturnType<typeof smapsBreakdown>]> = [
    ['the executable', `00400000-00b6f000 r--p 00000000 fe:00 260689                             ${BIN}`, 'binaryKb'],
    ['its text', `00b72000-025fe000 r-xp 00772000 fe:00 260689                             ${BIN}`, 'binaryKb'],
    [
      'a shared library',
      '7f6d41444000-7f6d4159a000 r-xp 00026000 fe:00 339380                     /usr/lib/x86_64-linux-gnu/libc.so.6',
      'otherFilesKb',
    ],
    ['a deleted file', '7f6d41444000-7f6d4159a000 rw-s 00000000 00:05 1234                       /memfd:x (deleted)', 'otherFilesKb'],
    ['the brk heap', '21f86000-227f0000 rw-p 00000000 00:00 0                                  [heap]', 'brkHeapKb'],
    ['the main stack', '7ffe6eb40000-7ffe6eb61000 rw-p 00000000 00:00 0                          [stack]', 'staticKb'],
    ['a V8 page (random hint below 2^46)', '3de863980000-3de8639c0000 rw-p 00000000 00:00 0 ', 'v8Kb'],
    ['a low V8 page', '4baf1740000-4baf17c5000 rw-p 00000000 00:00 0 ', 'v8Kb'],
    ['a thread arena (64 MiB-aligned in the mmap area)', '7f6d3c000000-7f6d3c592000 rw-p 00000000 00:00 0 ', 'threadArenasKb'],
    ['a malloc chunk or thread stack', '7f6d3a7f1000-7f6d3aff1000 rw-p 00000000 00:00 0 ', 'otherAnonKb'],
  ]
  for (const [name, header, kind] of cases) {
    const b = smapsBreakdown(entry(header, 128), BIN)
    t.equal(b[kind], 128, name)
    t.equal(b.rssKb, 128, `${name}: in the total`)
  }
})

t.test("smapsBreakdown: the anonymous mapping right after the executable's is its .bss, not V8", async (t) => {
  const text = [
    entry(`0563e000-0565c000 rw-p 0523d000 fe:00 260689                             ${BIN}`, 100),
    entry('0565c000-05689000 rw-p 00000000 00:00 0 ', 40),
    entry('0689c000-068a0000 rw-p 00000000 00:00 0 ', 8),
  ].join('\n')
  t.same(smapsBreakdown(text, BIN), {
    rssKb: 148,
    binaryKb: 100,
    otherFilesKb: 0,
    brkHeapKb: 0,
    v8Kb: 8,
    threadArenasKb: 0,
    otherAnonKb: 0,
    staticKb: 40,
  })
})

t.test('smapsBreakdown: an empty or foreign text is all zero', async (t) => {
  for (const text of ['', 'not smaps\nRss: 12 kB']) {
    const b = smapsBreakdown(text, BIN)
    t.equal(Object.keys(b).length, 8, 'every kind is there')
    t.ok(
      Object.values(b).every((kb) => kb === 0),
      JSON.stringify(text),
    )
  }
})

const M = 1024 * 1024
const space = (space_name: string, physical: number, used: number): HeapSpace => ({
  space_name,
  space_size: physical * M,
  physical_space_size: physical * M,
  space_used_size: used * M,
})
/** A probe as mem-probe.mjs writes it, Node 20's nine spaces. */
const PROBE: MemProbe = {
  memoryUsage: { rss: 70 * M, heapTotal: 17 * M, heapUsed: 12 * M, external: 2.5 * M, arrayBuffers: 0.25 * M },
  heapSpaces: [
    space('read_only_space', 0, 0),
    space('new_space', 4, 1.5),
    space('old_space', 10, 9),
    space('code_space', 1, 0.75),
    space('shared_space', 0, 0),
    space('new_large_object_space', 0.5, 0.5),
    space('large_object_space', 1, 1),
    space('code_large_object_space', 0.25, 0.25),
    space('shared_large_object_space', 0, 0),
  ],
}

t.test("summarizeHeapSpaces: Node 20's spaces in four groups, MiB", async (t) => {
  const s = summarizeHeapSpaces(PROBE)
  t.same(s, {
    newMiB: { physical: 4.5, used: 2 },
    oldMiB: { physical: 11, used: 10 },
    codeMiB: { physical: 1.25, used: 1 },
    otherMiB: { physical: 0, used: 0 },
    externalMiB: 2.5,
    arrayBuffersMiB: 0.25,
  })
})

t.test('formatSmaps and formatHeapSpaces: one line each, MiB with one decimal', async (t) => {
  t.equal(
    formatSmaps({
      rssKb: 71576,
      binaryKb: 41984,
      otherFilesKb: 3686,
      brkHeapKb: 6451,
      v8Kb: 14848,
      threadArenasKb: 3379,
      otherAnonKb: 1024,
      staticKb: 204,
    }),
    'RSS 69.9 MiB = binary 41.0 + files 3.6 + brk 6.3 + V8 14.5 + arenas 3.3 + other anon 1.0 + static 0.2',
  )
  t.equal(
    formatHeapSpaces(summarizeHeapSpaces(PROBE)),
    'V8 physical/used MiB new 4.5/2.0 old 11.0/10.0 code 1.3/1.0 other 0.0/0.0 external 2.5 (arrayBuffers 0.3)',
  )
})
