// A running proxy's resident memory by kind, once a second: /proc/PID/smaps through
// src/bench/process-memory.ts (node binary, other files, brk heap, V8, thread arenas, other anonymous),
// and, only when the process was started with `--import=…/scripts/mem-probe.mjs` and the same
// MEM_PROBE_DIR, its V8 heap spaces (the script sends it SIGUSR2 first, which would end any other
// Node process).
//
//   npx tsc -p tsconfig.build.json
//   node scripts/proc-mem.mjs PID [SAMPLES 30]
// e.g. a bench:waypoint run's waypoint: MEM_PROBE_DIR=/tmp/x node dist/bench/waypoint-bench.js
//   --proxy-node-flags="--import=$PWD/scripts/mem-probe.mjs" …, then this script on its PID with MEM_PROBE_DIR=/tmp/x.
import { readFileSync, readlinkSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { URL, fileURLToPath } from 'node:url'
const D = fileURLToPath(new URL('../dist', import.meta.url))
const { smapsBreakdown, summarizeHeapSpaces, formatSmaps, formatHeapSpaces } = await import(`${D}/bench/process-memory.js`)
const [pid, samples] = [Number(process.argv[2]), Number(process.argv[3] ?? 30)]
if (!Number.isInteger(pid) || pid <= 0) {
  console.error('usage: node scripts/proc-mem.mjs PID [SAMPLES 30]')
  process.exit(2)
}
const binary = readlinkSync(`/proc/${pid}/exe`)
const probeFile = join(process.env.MEM_PROBE_DIR ?? tmpdir(), `mem-${pid}.json`)
// SIGUSR2 ends a Node process that has no listener for it: signal only one started with the probe.
const probed = readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes('mem-probe.mjs')
for (let i = 0; i < samples; i++) {
  let m
  try {
    if (probed) process.kill(pid, 'SIGUSR2')
    m = smapsBreakdown(readFileSync(`/proc/${pid}/smaps`, 'utf8'), binary)
  } catch {
    console.error(`process ${pid} is gone`)
    break
  }
  await sleep(100)
  let heap = ''
  if (probed)
    try {
      heap = `; ${formatHeapSpaces(summarizeHeapSpaces(JSON.parse(readFileSync(probeFile, 'utf8'))))}`
    } catch {
      // no probe in that process (or not yet written): smaps only
    }
  const load = readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ')
  console.log(`${new Date().toISOString().slice(11, 19)} ${formatSmaps(m)}${heap}; load ${load}`)
  await sleep(900)
}
