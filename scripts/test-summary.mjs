#!/usr/bin/env node
// Runs tap with the given arguments, passes its TAP output through, and ends with the one line CI
// reads: "N passed, N failed[, N skipped]". tap's own closing line (`# { total, pass }`) is not
// recognised by CI.
//
// Counts are every leaf result at any depth, as tap counts them: an assertion, a skipped or todo
// test, a file in which tap found no tests. A test that ran and made no assertion at all (`1..0`,
// no directive) counts as a failure ("no assertion"): it proves nothing. A subtest that fails without
// any failing leaf inside (a crash at load, a timeout, a plan mismatch) counts as one failure. Every
// skip and todo is printed again with its reason and where it is. tap's exit status is kept (and a
// test without assertion makes the exit status 1).
//
// CI keeps only the tail of the output, after tap's coverage table; so just before the closing line
// this prints every skip, then every failure again: the file, the test, and the first lines of each
// failing assertion's diagnostic.
//
// `--from-tap FILE` (or `-` for stdin) reads a TAP stream instead of running tap: the test of this
// script feeds it fixture streams.
import { spawn } from 'node:child_process'
import { createReadStream } from 'node:fs'
import { createInterface } from 'node:readline'

const DIAGNOSTIC_LINES = 14
const MAX_REPORT_LINES = 120
const MAX_SKIP_LINES = 200

/** Counts the leaves of a TAP 14 stream (as tap's reporter writes it, subtests indented by 4). */
export class TapTally {
  passed = 0
  failed = 0
  skipped = 0
  /** `[path, reason]` for every skipped or todo leaf. */
  skips = []
  /** Lines to print again at the end. */
  report = []
  /** Tests that ran and asserted nothing. */
  noAssertion = []
  /** Open subtests, outermost first: { indent, name, leaves, failingLeaves, lines }. */
  #stack = [{ indent: -4, name: '', leaves: 0, failingLeaves: 0, lines: [] }]
  /** Inside a YAML diagnostic block: the indentation of its closing `...`. */
  #yamlEnd = null
  #lastResultIndent = -1

  line(line) {
    for (const frame of this.#stack) if (frame.indent >= 0) frame.lines.push(line)
    if (this.#yamlEnd !== null) {
      if (line === `${this.#yamlEnd}...`) this.#yamlEnd = null
      return
    }
    const indent = line.length - line.trimStart().length
    if (line.trimStart() === '---' && indent === this.#lastResultIndent + 2) {
      this.#yamlEnd = ' '.repeat(indent)
      return
    }
    const sub = /^( *)# Subtest: (.*)$/.exec(line)
    if (sub) {
      this.#stack.push({ indent: sub[1].length, name: sub[2], leaves: 0, failingLeaves: 0, lines: [line] })
      return
    }
    const res = /^( *)(not ok|ok) \d+(?: - (.*?))?(?: # (SKIP|TODO)\b ?(.*?))?(?: # time=\S+)?$/i.exec(line)
    if (!res) return
    const [, ws, status, rawName = '', directive, reason = ''] = res
    this.#lastResultIndent = ws.length
    const name = rawName.replace(/ # time=\S+$/, '')
    const top = this.#stack[this.#stack.length - 1]
    const closes = top.indent === ws.length
    const frame = closes ? this.#stack.pop() : null
    const parent = this.#stack[this.#stack.length - 1]
    const path = [...this.#stack.slice(1).map((f) => f.name), name].join(' > ')
    const ok = status === 'ok'
    // Failures are printed again per file (a result at indent 0), with every failing line inside.
    if (!ok && !directive && ws.length === 0)
      this.report.push(`not ok: ${path}`, ...failuresOf(frame ? frame.lines : []).map((l) => `  ${l}`))
    if (frame && frame.leaves > 0) {
      // A subtest's own result: its leaves are counted; it adds a failure only if none inside failed.
      parent.leaves += frame.leaves
      parent.failingLeaves += frame.failingLeaves
      if (!ok && frame.failingLeaves === 0 && !directive) {
        this.failed++
        parent.failingLeaves++
        parent.leaves++
      }
      return
    }
    // A leaf: an assertion, a skipped/todo test, or a subtest that holds no result at all.
    parent.leaves++
    if (directive) {
      this.skipped++
      this.skips.push([path, `${directive.toUpperCase()}${reason ? ` ${reason}` : ''}`])
      return
    }
    if (frame && ok) {
      // Ran, asserted nothing.
      this.failed++
      parent.failingLeaves++
      this.noAssertion.push(path)
      return
    }
    if (ok) this.passed++
    else {
      this.failed++
      parent.failingLeaves++
    }
  }

  /** The closing lines: skips, failures again, then "N passed, N failed[, N skipped]". */
  summary() {
    const out = []
    if (this.skips.length > 0) {
      out.push('', `# skipped (${this.skips.length})`)
      for (const [path, reason] of this.skips.slice(0, MAX_SKIP_LINES)) out.push(`# ${reason}: ${path}`)
      if (this.skips.length > MAX_SKIP_LINES) out.push(`# … ${this.skips.length - MAX_SKIP_LINES} more skips`)
    }
    for (const path of this.noAssertion) this.report.push(`not ok: ${path} (no assertion: a test that asserts nothing proves nothing)`)
    if (this.report.length > 0) {
      out.push('', '# failures (again, for readers of the tail)')
      const shown = this.report.slice(0, MAX_REPORT_LINES)
      for (const l of shown) out.push(`# ${l}`)
      if (this.report.length > shown.length) out.push(`# … ${this.report.length - shown.length} more lines above`)
    }
    out.push(`${this.passed} passed, ${this.failed} failed${this.skipped ? `, ${this.skipped} skipped` : ''}`)
    return out
  }
}

/** The failing assertions of one subtest's output, deepest first met, with a few diagnostic lines. */
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

function main() {
  const args = process.argv.slice(2)
  const from = args[0] === '--from-tap' ? args[1] : undefined
  const tally = new TapTally()
  let input
  let finished
  if (from !== undefined) {
    input = from === '-' ? process.stdin : createReadStream(from)
    finished = new Promise((resolve) => input.on('end', () => resolve(0)))
  } else {
    const child = spawn('npx', ['tap', '--reporter=tap', ...args], {
      stdio: ['ignore', 'pipe', 'inherit'],
      env: { ...process.env, FORCE_COLOR: '0' },
    })
    input = child.stdout
    finished = new Promise((resolve) => child.on('close', (code, signal) => resolve(code ?? (signal ? 1 : 0))))
  }
  const rl = createInterface({ input })
  rl.on('line', (line) => {
    process.stdout.write(line + '\n')
    tally.line(line)
  })
  const closed = new Promise((resolve) => rl.on('close', resolve))
  void Promise.all([finished, closed]).then(([code]) => {
    let status = code
    if (status !== 0 && tally.failed === 0) tally.failed = 1
    if (tally.noAssertion.length > 0 && status === 0) status = 1
    if (from !== undefined && tally.failed > 0) status = 1
    for (const l of tally.summary()) process.stdout.write(l + '\n')
    process.exit(status)
  })
}

if (import.meta.url === `file://${process.argv[1]}`) main()
