#!/usr/bin/env node
// Runs tap with the given arguments, passes its TAP output through, and ends with the one line CI
// reads: "N passed, N failed[, N skipped]". tap's own closing line (`# { total, pass }`) is not
// recognised by CI. Counts are the named tests one level inside each test file (what a reader calls
// "a test"); a file that fails without a failing test inside (a crash at load, a timeout) counts as
// one failure. tap's exit status is kept.
import { spawn } from 'node:child_process'
import { createInterface } from 'node:readline'

const child = spawn('npx', ['tap', '--reporter=tap', ...process.argv.slice(2)], {
  stdio: ['ignore', 'pipe', 'inherit'],
  env: { ...process.env, FORCE_COLOR: '0' },
})
let passed = 0
let failed = 0
let skipped = 0
let fileFailuresInside = 0
const lines = createInterface({ input: child.stdout })
lines.on('line', (line) => {
  process.stdout.write(line + '\n')
  const inner = /^ {4}(not ok|ok) \d+/.exec(line)
  if (inner) {
    if (/# (SKIP|TODO)\b/i.test(line)) skipped++
    else if (inner[1] === 'ok') passed++
    else {
      failed++
      fileFailuresInside++
    }
    return
  }
  const top = /^(not ok|ok) \d+/.exec(line)
  if (top) {
    if (top[1] === 'not ok' && fileFailuresInside === 0) failed++
    fileFailuresInside = 0
  }
})
child.on('close', (code, signal) => {
  const status = code ?? (signal ? 1 : 0)
  if (status !== 0 && failed === 0) failed = 1
  process.stdout.write(`${passed} passed, ${failed} failed${skipped ? `, ${skipped} skipped` : ''}\n`)
  process.exit(status)
})
