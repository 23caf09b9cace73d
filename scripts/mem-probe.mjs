// A debug-only probe for a proxy's memory, loaded into it with `--import=/abs/path/scripts/mem-probe.mjs`
// (e.g. WP_FLAGS of scripts/waypoint-ab.mjs, or bench:waypoint's --proxy-node-flags): on SIGUSR2 the
// process writes `process.memoryUsage()` and `v8.getHeapSpaceStatistics()` as JSON to
// $MEM_PROBE_DIR/mem-PID.json (the system's temporary directory when unset), which
// src/bench/process-memory.ts's summarizeHeapSpaces reads. Nothing else changes in the process.
import { writeFileSync, renameSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import process from 'node:process'
import v8 from 'node:v8'

const file = join(process.env.MEM_PROBE_DIR ?? tmpdir(), `mem-${process.pid}.json`)
process.on('SIGUSR2', () => {
  const body = JSON.stringify({ memoryUsage: process.memoryUsage(), heapSpaces: v8.getHeapSpaceStatistics() })
  writeFileSync(`${file}.tmp`, body)
  renameSync(`${file}.tmp`, file)
})
