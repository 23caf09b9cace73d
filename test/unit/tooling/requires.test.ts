// test/helpers/requires.ts: a missing need skips with its reason; under CI=true it also fails the
// parent test, so CI cannot pass with a check unexercised.
import t from 'tap'
import { needs, onPath, requires, strictNeeds, type Need } from '../../helpers/requires.js'

const present: Need = { name: 'here', missing: () => undefined }
const absent = (name: string): Need => ({ name, missing: () => `${name} is not installed` })

function recorder(): { fail(m: string): void; failures: string[] } {
  const failures: string[] = []
  return {
    fail: (m) => {
      failures.push(m)
    },
    failures,
  }
}

function withCi<T>(value: string | undefined, fn: () => T): T {
  const before = process.env.CI
  if (value === undefined) delete process.env.CI
  else process.env.CI = value
  try {
    return fn()
  } finally {
    if (before === undefined) delete process.env.CI
    else process.env.CI = before
  }
}

t.test('outside CI: skip with every missing reason, nothing fails', async (t) => {
  const parent = recorder()
  t.equal(
    withCi(undefined, () => requires(parent, present)),
    false,
    'all there: run',
  )
  t.equal(
    withCi(undefined, () => requires(parent, absent('chromium'), present, absent('curl'))),
    'chromium is not installed; curl is not installed',
  )
  t.same(parent.failures, [])
})

t.test('under CI=true: a missing need fails the parent, naming it', async (t) => {
  const parent = recorder()
  t.equal(
    withCi('true', () => requires(parent, present)),
    false,
  )
  t.same(parent.failures, [], 'nothing missing, nothing fails')
  t.equal(
    withCi('true', () => requires(parent, absent('prometheus'))),
    'prometheus is not installed',
    'the subtest is skipped, with its reason',
  )
  t.same(parent.failures, ['CI=true: a missing tool fails instead of skipping: prometheus is not installed'])
})

t.test('strictNeeds reads CI', async (t) => {
  t.equal(strictNeeds({ CI: 'true' }), true)
  t.equal(strictNeeds({ CI: '1' }), true)
  t.equal(strictNeeds({}), false)
  t.equal(strictNeeds({ CI: 'false' }), false)
})

t.test('tool and file needs', async (t) => {
  t.equal(needs.tool('node').missing(), undefined, 'node is on PATH')
  t.equal(onPath('node')?.endsWith('/node'), true)
  t.match(
    needs.tool('ambient-no-such-tool-x').missing(),
    /^ambient-no-such-tool-x is not installed \(apt-get install ambient-no-such-tool-x; \.ci\/run does\)$/,
  )
  t.equal(needs.file(import.meta.filename, 'here').missing(), undefined)
  t.match(needs.file('/nonexistent/ambient', 'run npm run build').missing(), /\/nonexistent\/ambient is missing \(run npm run build\)/)
  t.equal(needs.root.missing() === undefined, process.getuid?.() === 0, 'root when uid 0')
})
