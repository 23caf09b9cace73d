#!/usr/bin/env node
// Runs tap with the given arguments, passes its TAP output through, and ends with the one line CI
// reads: "N passed, N failed[, N skipped]". tap's own closing line (`# { total, pass }`) is not
// recognised by CI. Counts are the named tests one level inside each test file (what a reader calls
// "a test"); a file that fails without a failing test inside (a crash at load, a timeout) counts as
// one failure. tap's exit status is kept.
//
// CI keeps only the tail of the output, after tap's coverage table; so just before the closing line
// this prints every failure again: the file, the test, and the first lines of each failing
// assertion's diagnostic.
import { spawn } from 'node:child_process'
import { createInterface } from 'node:readline'

const DIAGNOSTIC_LINES = 14
const MAX_REPORT_LINES = 120

const child = spawn('npx', ['tap', '--reporter=tap', ...process.argv.slice(2)], {
  stdio: ['ignore', 'pipe', 'inherit'],
  env: { ...process.env, FORCE_COLOR: '0' },
})
let passed = 0
let failed = 0
let skipped = 0
let fileFailuresInside = 0
/** Lines of the current file's output, kept until the file's own ok/not ok line. */
let fileLines = []
/** What to print again at the end. */
const report = []

/** The failing assertions of one file's output, deepest first met, with a few diagnostic lines. */
function failuresOf(lines) {
  const out = []
  for (let i = 0; i < lines.length; i++) {
    const m = /^( *)not ok \d+ - (.*)$/.exec(lines[i])
    if (!m) continue
    out.push(lines[i].trimEnd())
    // A subtest's own result line carries its time; its diagnostic only repeats where it started.
    if (/ # time=/.test(lines[i])) continue
    const indent = m[1].length
    let shown = 0
    for (let j = i + 1; j < lines.length && shown < DIAGNOSTIC_LINES; j++) {
      const next = lines[j]
      const depth = next.length - next.trimStart().length
      if (next.trim() === '' || depth <= indent) break
      if (/^ *(# Subtest|ok \d+|not ok \d+|source:)/.test(next)) break
      out.push(next.trimEnd())
      shown++
    }
  }
  return out
}

const lines = createInterface({ input: child.stdout })
lines.on('line', (line) => {
  process.stdout.write(line + '\n')
  if (line.startsWith(' ')) fileLines.push(line)
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
  const top = /^(not ok|ok) \d+ - (.*?)(?: # time=.*)?$/.exec(line)
  if (top) {
    if (top[1] === 'not ok') {
      if (fileFailuresInside === 0) failed++
      report.push(`not ok: ${top[2]}`, ...failuresOf(fileLines).map((l) => `  ${l}`))
    }
    fileFailuresInside = 0
    fileLines = []
  }
})
child.on('close', (code, signal) => {
  const status = code ?? (signal ? 1 : 0)
  if (status !== 0 && failed === 0) failed = 1
  if (report.length > 0) {
    process.stdout.write('\n# failures (again, for readers of the tail)\n')
    const shown = report.slice(0, MAX_REPORT_LINES)
    for (const l of shown) process.stdout.write(`# ${l}\n`)
    if (report.length > shown.length) process.stdout.write(`# … ${report.length - shown.length} more lines above\n`)
  }
  process.stdout.write(`${passed} passed, ${failed} failed${skipped ? `, ${skipped} skipped` : ''}\n`)
  process.exit(status)
})
