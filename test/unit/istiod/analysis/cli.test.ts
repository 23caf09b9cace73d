// `ambient analyze` on a temporary directory: exit codes (0 clean or warnings, 1 errors, 2 bad
// usage or path), text and JSON output, a single file, nested directories and hidden files.
import t from 'tap'
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { analyzeCommand } from '../../../../src/cli/commands/analyze.js'
import { runCommand } from '../../../helpers/run-command.js'
import { AMBIENT_SHOP, WAYPOINT } from './helpers.js'

const run = (cwd: string, ...argv: string[]) => runCommand(analyzeCommand, argv, cwd)

async function tempDir(t: { teardown: (fn: () => Promise<void>) => void }, files: Record<string, string>): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'ambient-analyze-'))
  t.teardown(() => rm(dir, { recursive: true, force: true }))
  for (const [name, text] of Object.entries(files)) {
    await mkdir(join(dir, name, '..'), { recursive: true })
    await writeFile(join(dir, name), text)
  }
  return dir
}

const BROKEN_LABEL = AMBIENT_SHOP.replace(
  'kind: Service\nmetadata:\n  name: cart\n  namespace: shop\n',
  'kind: Service\nmetadata:\n  name: cart\n  namespace: shop\n  labels:\n    istio.io/use-waypoint: waypoint\n',
)

t.test('a clean directory: exit 0 and a one-line summary', async (t) => {
  const dir = await tempDir(t, { 'shop.yaml': BROKEN_LABEL, 'nested/gw.yaml': WAYPOINT, '.#scratch.yaml': 'not: [valid' })
  const r = await run(dir, '.')
  t.equal(r.code, 0, r.out)
  t.match(r.out, /^No validation issues found when analyzing \. \(2 files\)\.\n$/)
})

t.test('an error: exit 1, istioctl-style lines naming file:line and the fix', async (t) => {
  const dir = await tempDir(t, { 'shop.yaml': BROKEN_LABEL })
  const r = await run(dir, 'shop.yaml')
  t.equal(r.code, 1)
  t.match(
    r.out,
    /^Error \[IST0101\] \(Service shop\/cart shop\.yaml:20\) Referenced waypoint Gateway not found: "shop\/waypoint" — fix: create a Gateway waypoint/m,
  )
  t.match(r.out, /\n1 error in 1 file\n$/)
})

t.test('warnings only: exit 0', async (t) => {
  const dir = await tempDir(t, { 'shop.yaml': AMBIENT_SHOP, 'gw.yaml': WAYPOINT })
  const r = await run(dir, dir)
  t.equal(r.code, 0)
  t.match(r.out, /Warning \[AMB0203\] \(Gateway shop\/waypoint .*gw\.yaml:1\)/)
})

t.test('-o json: an array of messages with code, level, object, file, line, fix', async (t) => {
  const dir = await tempDir(t, {
    'shop.yaml': BROKEN_LABEL,
    'bad.yaml': 'apiVersion: v1\nkind: Service\nmetadata:\n  name: x\nspec:\n  ports:\n    - port: none\n',
  })
  const r = await run(dir, '-o', 'json', '.')
  t.equal(r.code, 1)
  const messages = JSON.parse(r.out) as {
    code: string
    level: string
    object: string | null
    file: string | null
    line: number | null
    fix: string
    origin: string | null
  }[]
  t.match(messages, [
    { code: 'IST0106', level: 'Error', object: 'Service default/x', file: 'bad.yaml', line: 7, origin: 'ISTIOD_SCHEMA' },
    { code: 'IST0101', level: 'Error', object: 'Service shop/cart', file: 'shop.yaml', line: 20 },
  ])
  t.equal(JSON.parse((await run(await tempDir(t, { 'a.yaml': AMBIENT_SHOP }), '--output=json', '.')).out).length, 0, 'clean: []')
})

t.test('bad usage throws a CLI_USAGE error (main exits 2); an unreadable path exits 2', async (t) => {
  await t.rejects(run('/', '-o', 'xml', '/tmp'), { code: 'CLI_USAGE' })
  await t.rejects(run('/'), { code: 'CLI_USAGE' })
  await t.rejects(run('/', '--bogus', '.'), { code: 'CLI_USAGE' })
  const r = await run('/', '/definitely/not/here')
  t.equal(r.code, 2)
  t.match(r.err, /cannot read \/definitely\/not\/here/)
  t.match((await run('/', '--help')).out, /^usage: ambient analyze/)
})
