// The documented examples must analyze without Error-level messages: each seed example on its own
// (they are separate examples; several reuse the name `reviews`), and the bookinfo app as a whole.
import t from 'tap'
import { readFile, readdir } from 'node:fs/promises'
import { join, resolve } from 'node:path'
import { analyzeFiles } from './helpers.js'

const FIXTURES = resolve(import.meta.dirname, '../../../fixtures')

async function texts(dir: string): Promise<Record<string, string>> {
  const names = (await readdir(dir)).filter((n) => /\.ya?ml$/.test(n)).sort()
  return Object.fromEntries(await Promise.all(names.map(async (n) => [n, await readFile(join(dir, n), 'utf8')] as const)))
}

t.test('each seed example: no Error-level message', async (t) => {
  const files = await texts(join(FIXTURES, 'seed'))
  t.ok(Object.keys(files).length >= 9, 'the seed examples are there')
  for (const [name, text] of Object.entries(files)) {
    const errors = analyzeFiles({ [name]: text }, { translate: true }).filter((m) => m.level === 'Error')
    t.same(errors, [], name)
  }
})

t.test('bookinfo: no Error-level message, and its waypoint is used', async (t) => {
  const messages = analyzeFiles(await texts(join(FIXTURES, 'bookinfo')), { translate: true })
  t.same(
    messages.filter((m) => m.level === 'Error'),
    [],
  )
  t.notOk(
    messages.some((m) => m.code === 'AMB0203'),
    'reviews-waypoint is used by the reviews Service',
  )
})
