// scripts/test-summary.mjs counts every leaf result at any depth (as tap does), fails a test that
// asserts nothing, and prints every skip with its reason. Fixture TAP streams through
// `--from-tap -`, then one real tap run over scratch test files, compared with tap's own counts
// (a nested tap run: slow on a loaded machine, hence its own timeout).
import t from 'tap'
import { spawn } from 'node:child_process'
import { mkdtemp, rm, symlink, writeFile } from 'node:fs/promises'
import path from 'node:path'
import { repoRoot } from '../../helpers/run-cli.js'

const SCRIPT = path.join(repoRoot, 'scripts/test-summary.mjs')

/** Environment without tap's own variables, so a nested tap run is a plain run. */
function plainEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {}
  for (const [k, v] of Object.entries(process.env)) if (!/^(TAP|_TAPJS)/.test(k)) env[k] = v
  return env
}

function summarize(args: readonly string[], stdin?: string, cwd = repoRoot): Promise<{ code: number | null; lines: string[] }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [SCRIPT, ...args], { cwd, env: plainEnv(), stdio: ['pipe', 'pipe', 'pipe'] })
    let out = ''
    child.stdout.on('data', (c: Buffer) => {
      out += c.toString()
    })
    child.stderr.resume()
    child.once('error', reject)
    child.once('close', (code) => resolve({ code, lines: out.trimEnd().split('\n') }))
    child.stdin.end(stdin ?? '')
  })
}

const lastLine = (lines: string[]): string => lines[lines.length - 1] ?? ''

const NESTED = `TAP version 14
1..3
# Subtest: a.test.ts
    # Subtest: outer
        ok 1 - one
        ok 2 - inner skipped # SKIP no chromium (apt-get install chromium)
        ok 3 - inner todo # TODO later
        # Subtest: inner
            ok 1 - two
            ok 2 - asserted skip # SKIP
            1..2
        ok 4 - inner # time=2.491ms
        1..4
    ok 1 - outer # time=9.366ms
    ok 2 - top skipped # SKIP no curl
    1..2
ok 1 - a.test.ts # time=18.162ms
# Subtest: b.test.ts
    ok 1 - only skipped # SKIP no prometheus
    1..1
ok 2 - b.test.ts # time=9.7ms
# Subtest: c.test.ts
    1..0 # no tests found
ok 3 - c.test.ts # SKIP no tests found
# { total: 8, pass: 2, todo: 1, skip: 5 }
`

t.test('nested skips and a file with no tests are counted and listed with their reasons', async (t) => {
  const { code, lines } = await summarize(['--from-tap', '-'], NESTED)
  t.equal(code, 0)
  t.equal(lastLine(lines), '2 passed, 0 failed, 6 skipped', 'tap: pass 2, todo 1, skip 5')
  for (const want of [
    '# SKIP no chromium (apt-get install chromium): a.test.ts > outer > inner skipped',
    '# TODO later: a.test.ts > outer > inner todo',
    '# SKIP: a.test.ts > outer > inner > asserted skip',
    '# SKIP no curl: a.test.ts > top skipped',
    '# SKIP no prometheus: b.test.ts > only skipped',
    '# SKIP no tests found: c.test.ts',
  ])
    t.ok(lines.includes(want), `listed: ${want}`)
})

t.test('failures at any depth; a subtest failing with no failing leaf counts once; YAML is not read as results', async (t) => {
  const stream = `TAP version 14
# Subtest: f.test.ts
    # Subtest: deep
        # Subtest: deeper
            ok 1 - fine
            not ok 2 - should be equal
              ---
              found: 1
              wanted: 2
              note: |
                ok 7 - not a result
                # Subtest: not a subtest either
              ...
            1..2
        not ok 1 - deeper # time=1ms
        1..1
    not ok 1 - deep # time=1ms
    # Subtest: timed out
        ok 1 - before the cut
        1..1
    not ok 2 - timed out # time=150000ms
      ---
      message: timeout!
      ...
    1..2
not ok 1 - f.test.ts # time=1ms
# Subtest: crash.test.ts
    1..0 # no tests found
not ok 2 - crash.test.ts # time=1ms
  ---
  exitCode: 1
  ...
`
  const { code, lines } = await summarize(['--from-tap', '-'], stream)
  t.equal(code, 1, 'failures make the exit status 1')
  t.equal(lastLine(lines), '2 passed, 3 failed', 'one failing assertion, one timed-out subtest, one file that crashed')
  t.ok(lines.includes('# not ok: f.test.ts'), 'the failing file again')
  t.ok(
    lines.some((l) => l.includes('not ok 2 - should be equal')),
    'its failing assertion again',
  )
  t.ok(lines.includes('# not ok: crash.test.ts'), 'the crashed file again')
})

t.test('a test that asserts nothing fails', async (t) => {
  const stream = `TAP version 14
# Subtest: e.test.ts
    # Subtest: asserts nothing
        1..0
    ok 1 - asserts nothing # time=0.4ms
    ok 2 - asserts # time=0.4ms
    1..2
ok 1 - e.test.ts # time=1ms
`
  const { code, lines } = await summarize(['--from-tap', '-'], stream)
  t.equal(code, 1)
  t.equal(lastLine(lines), '1 passed, 1 failed')
  t.ok(
    lines.some((l) => l.startsWith('# not ok: e.test.ts > asserts nothing (no assertion')),
    'named in the failures',
  )
})

t.test('a real tap run over scratch files: the same leaves as tap counts', { timeout: 130_000 }, async (t) => {
  const dir = await mkdtemp(path.join(repoRoot, '.test-summary-scratch-'))
  t.teardown(() => rm(dir, { recursive: true, force: true }))
  await writeFile(
    path.join(dir, 'a.test.mjs'),
    `import t from 'tap'
t.test('outer', async (t) => {
  t.ok(true, 'one')
  await t.test('inner skipped', { skip: 'no chromium' }, async (t) => { t.ok(true) })
  await t.test('inner', async (t) => { t.pass('two'); t.skip('asserted skip') })
})
t.test('top skipped', { skip: 'no curl' }, async () => {})
`,
  )
  await writeFile(path.join(dir, 'c.test.mjs'), `import 'tap'\n`)
  // The scratch dir is a project of its own (package.json, node_modules linked to ours), run from
  // there: tap clears its project root's .tap/ (coverage, processinfo) when it starts, and a nested run
  // rooted at this repository would wipe the coverage of every test file that ran before this one.
  await writeFile(path.join(dir, 'package.json'), JSON.stringify({ name: 'scratch', private: true, type: 'module' }))
  await symlink(path.join(repoRoot, 'node_modules'), path.join(dir, 'node_modules'), 'dir')
  const { code, lines } = await summarize(['--disable-coverage', 'a.test.mjs', 'c.test.mjs'], undefined, dir)
  t.equal(code, 0)
  const tapLine = lines.find((l) => l.startsWith('# { total:'))
  t.equal(tapLine, '# { total: 6, pass: 2, skip: 4 }', "tap's own count")
  t.equal(lastLine(lines), '2 passed, 0 failed, 4 skipped', 'ours agrees')
  t.ok(
    lines.some((l) => l.startsWith('# SKIP no tests found: ') && l.endsWith('c.test.mjs')),
    'the file with no tests is listed',
  )
})
