// The watched-directory source on a real temp directory: initial load, live add / change / rename-save
// / remove, and a broken file keeping its last good objects. Polls for updates, never sleeps.
import { mkdirSync, mkdtempSync, renameSync, rmSync, unlinkSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import { type ConfigUpdate, createDirectoryConfigSource } from '../../../../src/istiod/config-source.js'
import { isAmbientError } from '../../../../src/errors.js'
import { ConfigMessageCode as C } from '../../../../src/istiod/resources/messages.js'
import { eventually } from '../../../helpers/eventually.js'

const sa = (name: string) => `apiVersion: v1\nkind: ServiceAccount\nmetadata: {name: ${name}}\n`
const same = (a: unknown, b: unknown): boolean => JSON.stringify(a) === JSON.stringify(b)
const names = (u: ConfigUpdate | undefined) => (u?.snapshot.ServiceAccount ?? []).map((s) => s.metadata.name)

function tempDir(t: { teardown(fn: () => void): void }): string {
  const dir = mkdtempSync(join(tmpdir(), 'istiod-config-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  return dir
}

t.test('initial load reads every yaml file recursively, skipping hidden and other files', async (t) => {
  const dir = tempDir(t)
  mkdirSync(join(dir, 'sub'))
  writeFileSync(join(dir, 'a.yaml'), sa('a'))
  writeFileSync(join(dir, 'sub', 'b.yml'), sa('b'))
  writeFileSync(join(dir, '.c.yaml'), sa('c'))
  writeFileSync(join(dir, 'd.txt'), sa('d'))
  const source = createDirectoryConfigSource({ dir, watch: false })
  t.teardown(() => source.close())
  const first = await source.start()
  t.same(names(first), ['a', 'b'])
  t.equal(first.version, 1)
  t.same(first.changedFiles, [join(dir, 'a.yaml'), join(dir, 'sub', 'b.yml')])
  t.equal(first.snapshot.ServiceAccount[1]?.source.file, join(dir, 'sub', 'b.yml'))
})

t.test('a missing directory fails start with a code', async (t) => {
  const source = createDirectoryConfigSource({ dir: join(tmpdir(), 'no-such-dir-istiod-test'), watch: false })
  const err = await source.start().then(
    () => undefined,
    (e: unknown) => e,
  )
  t.ok(isAmbientError(err, 'ISTIOD_CONFIG_DIR_UNREADABLE'), 'rejects with ISTIOD_CONFIG_DIR_UNREADABLE')
})

t.test('live: add, change, rename-save, break, fix, remove', async (t) => {
  const dir = tempDir(t)
  writeFileSync(join(dir, 'a.yaml'), sa('a'))
  const source = createDirectoryConfigSource({ dir, debounceMs: 20 })
  t.teardown(() => source.close())
  const updates: ConfigUpdate[] = []
  source.onUpdate((u) => updates.push(u))
  t.same(names(await source.start()), ['a'])

  writeFileSync(join(dir, 'b.yaml'), sa('b'))
  await eventually(() => same(names(source.current), ['a', 'b']))
  t.same(updates.at(-1)?.changedFiles, [join(dir, 'b.yaml')])

  // Editors save by writing a temporary file and renaming it over the original.
  writeFileSync(join(dir, 'b.yaml.tmp'), `${sa('b')}---\n${sa('b2')}`)
  renameSync(join(dir, 'b.yaml.tmp'), join(dir, 'b.yaml'))
  await eventually(() => same(names(source.current), ['a', 'b', 'b2']))

  // Broken YAML: the file's last good objects stay, and the problem is reported.
  writeFileSync(join(dir, 'b.yaml'), 'apiVersion: v1\nkind: ServiceAccount\nmetadata: {name: [oops\n')
  await eventually(() => source.current?.messages.some((m) => m.code === C.yamlSyntax) || false)
  t.same(names(source.current), ['a', 'b', 'b2'], 'last good objects kept')
  t.match(source.current?.messages, [
    { code: C.yamlSyntax, file: join(dir, 'b.yaml') },
    { code: C.keptLastGood, severity: 'warning' },
  ])

  // Invalid objects (YAML fine) are skipped, the valid rest of the file applies.
  writeFileSync(join(dir, 'b.yaml'), `${sa('b3')}---\n${sa('Not_Valid')}`)
  await eventually(() => same(names(source.current), ['a', 'b3']))
  t.match(source.current?.messages, [{ code: C.schema, path: 'metadata.name', docIndex: 1 }])

  unlinkSync(join(dir, 'b.yaml'))
  await eventually(() => same(names(source.current), ['a']))
  t.same(source.current?.messages, [])
  const versions = updates.map((u) => u.version)
  t.same(
    versions,
    [...versions].sort((x, y) => x - y),
    'versions increase',
  )
})

t.test('a file broken from the start uses what the yaml library recovered', async (t) => {
  const dir = tempDir(t)
  writeFileSync(join(dir, 'a.yaml'), `${sa('a')}---\nmetadata: {name: [oops\n`)
  const source = createDirectoryConfigSource({ dir, watch: false })
  t.teardown(() => source.close())
  const first = await source.start()
  t.same(names(first), ['a'])
  t.match(first.messages, [{ code: C.yamlSyntax, docIndex: 1 }])
})

t.test('duplicates across files are reported once, first path wins', async (t) => {
  const dir = tempDir(t)
  writeFileSync(join(dir, 'a.yaml'), sa('x'))
  writeFileSync(join(dir, 'b.yaml'), sa('x'))
  const source = createDirectoryConfigSource({ dir, watch: false })
  t.teardown(() => source.close())
  const first = await source.start()
  t.equal(first.snapshot.ServiceAccount[0]?.source.file, join(dir, 'a.yaml'))
  t.match(first.messages, [{ code: C.duplicateObject, file: join(dir, 'b.yaml') }])
})

t.test('close() stops updates', async (t) => {
  const dir = tempDir(t)
  const source = createDirectoryConfigSource({ dir, debounceMs: 5 })
  await source.start()
  await source.close()
  let called = false
  source.onUpdate(() => {
    called = true
  })
  writeFileSync(join(dir, 'a.yaml'), sa('a'))
  t.equal(called, false)
  t.equal(source.current?.version, 1)
})
