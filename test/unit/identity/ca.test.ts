import t from 'tap'
import { mkdtemp, readFile, rm, stat, unlink, writeFile, mkdir } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { CA_FILES, CaErrorCode, openMeshCa } from '../../../src/identity/ca.js'
import { SpiffeErrorCode, SpiffeId } from '../../../src/identity/spiffe-id.js'

async function tempDir(t: { teardown(fn: () => unknown): void }): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'ambient-ca-test-'))
  t.teardown(() => rm(dir, { recursive: true, force: true }))
  return dir
}

t.test('creates a CA on first use, with a 0600 key, and loads it afterwards', async (t) => {
  const dir = join(await tempDir(t), 'nested', 'ca')
  const created = await openMeshCa({ dir, trustDomain: 'example.org' })
  t.equal(created.created, true)
  t.equal(created.trustDomain, 'example.org')
  t.equal(created.rootCertPath, join(dir, CA_FILES.cert))
  t.equal((await stat(join(dir, CA_FILES.key))).mode & 0o777, 0o600)
  t.same(JSON.parse(await readFile(join(dir, CA_FILES.meta), 'utf8')), { trustDomain: 'example.org' })
  const keyBefore = await readFile(join(dir, CA_FILES.key), 'utf8')

  const loaded = await openMeshCa({ dir })
  t.equal(loaded.created, false)
  t.equal(loaded.trustDomain, 'example.org')
  t.equal(loaded.rootCertPem, created.rootCertPem)
  t.equal(await readFile(join(dir, CA_FILES.key), 'utf8'), keyBefore, 'key untouched')
  const again = await openMeshCa({ dir, trustDomain: 'example.org' })
  t.equal(again.created, false)
})

t.test('defaults the trust domain to cluster.local and refuses a bad one', async (t) => {
  const ca = await openMeshCa({ dir: await tempDir(t) })
  t.equal(ca.trustDomain, 'cluster.local')
  await t.rejects(openMeshCa({ dir: await tempDir(t), trustDomain: 'Not Valid' }), { code: SpiffeErrorCode.invalid })
})

t.test('loading with a different trust domain is refused', async (t) => {
  const dir = await tempDir(t)
  await openMeshCa({ dir, trustDomain: 'a.org' })
  await t.rejects(openMeshCa({ dir, trustDomain: 'b.org' }), { code: CaErrorCode.trustDomainMismatch, side: 'config' })
})

t.test('ifMissing: fail refuses to mint a new root', async (t) => {
  const dir = await tempDir(t)
  await t.rejects(openMeshCa({ dir, ifMissing: 'fail' }), { code: CaErrorCode.notFound, side: 'config' })
})

t.test('a partial or corrupt CA directory is refused, never repaired', async (t) => {
  const corruptions: Array<[string, (dir: string) => Promise<void>]> = [
    ['missing key', (d) => unlink(join(d, CA_FILES.key))],
    ['missing cert', (d) => unlink(join(d, CA_FILES.cert))],
    ['missing ca.json', (d) => unlink(join(d, CA_FILES.meta))],
    ['ca.json not JSON', (d) => writeFile(join(d, CA_FILES.meta), '{nope')],
    ['ca.json without trustDomain', (d) => writeFile(join(d, CA_FILES.meta), '{}')],
    ['ca.json with invalid trustDomain', (d) => writeFile(join(d, CA_FILES.meta), '{"trustDomain":"A B"}')],
    ['cert garbage', (d) => writeFile(join(d, CA_FILES.cert), 'garbage')],
    ['key garbage', (d) => writeFile(join(d, CA_FILES.key), 'garbage')],
    [
      'key unreadable (a directory)',
      async (d) => {
        await unlink(join(d, CA_FILES.key))
        await mkdir(join(d, CA_FILES.key))
      },
    ],
  ]
  for (const [name, corrupt] of corruptions) {
    const dir = await tempDir(t)
    await openMeshCa({ dir })
    await corrupt(dir)
    const before = await readFile(join(dir, CA_FILES.cert), 'utf8').catch(() => undefined)
    await t.rejects(openMeshCa({ dir }), { code: CaErrorCode.dirCorrupt, side: 'config' }, name)
    t.equal(await readFile(join(dir, CA_FILES.cert), 'utf8').catch(() => undefined), before, `${name}: nothing rewritten`)
  }
})

t.test('a key from another CA is refused', async (t) => {
  const a = await tempDir(t)
  const b = await tempDir(t)
  await openMeshCa({ dir: a })
  await openMeshCa({ dir: b })
  await writeFile(join(a, CA_FILES.key), await readFile(join(b, CA_FILES.key)))
  await t.rejects(openMeshCa({ dir: a }), { code: CaErrorCode.dirCorrupt })
})

t.test('a leaf certificate in place of the root is refused', async (t) => {
  const dir = await tempDir(t)
  const ca = await openMeshCa({ dir })
  const leaf = await ca.issue(SpiffeId.of({ namespace: 'a' }))
  await writeFile(join(dir, CA_FILES.cert), leaf.certChainPem[0]!)
  await t.rejects(openMeshCa({ dir }), { code: CaErrorCode.dirCorrupt })
})
