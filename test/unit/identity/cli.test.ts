import t from 'tap'
import { X509Certificate } from 'node:crypto'
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { caCommand } from '../../../src/cli/commands/ca.js'
import { certCommand } from '../../../src/cli/commands/cert.js'
import type { CliIo } from '../../../src/cli/io.js'
import { CaErrorCode } from '../../../src/identity/ca.js'
import { chainProblem, certificateIdentity } from '../../../src/identity/certificate.js'
import { SpiffeErrorCode } from '../../../src/identity/spiffe-id.js'

function fakeIo(cwd: string) {
  const out: string[] = []
  const err: string[] = []
  const io: CliIo = { stdout: (s) => void out.push(s), stderr: (s) => void err.push(s), env: {}, cwd, stopSignal: new Promise(() => {}) }
  return { io, out: () => out.join(''), err: () => err.join('') }
}

async function workdir(t: { teardown(fn: () => unknown): void }): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'ambient-cli-test-'))
  t.teardown(() => rm(dir, { recursive: true, force: true }))
  return dir
}

t.test('ca init creates, then loads; paths are relative to cwd', async (t) => {
  const cwd = await workdir(t)
  const first = fakeIo(cwd)
  t.equal(await caCommand(['init', '--dir', 'ca', '--trust-domain', 'example.org'], first.io), 0)
  t.match(first.out(), /created mesh CA\n {2}trust domain: example\.org\n {2}root: .*\/ca\/root-cert\.pem\n/)
  const again = fakeIo(cwd)
  t.equal(await caCommand(['init', '--dir', join(cwd, 'ca')], again.io), 0)
  t.match(again.out(), /^loaded mesh CA\n {2}trust domain: example\.org/)
  await t.rejects(caCommand(['init', '--dir', 'ca', '--trust-domain', 'other.org'], fakeIo(cwd).io), {
    code: CaErrorCode.trustDomainMismatch,
    side: 'config',
  })
})

t.test('ca: usage errors are config errors', async (t) => {
  const { io } = fakeIo(await workdir(t))
  for (const argv of [[], ['init'], ['create', '--dir', 'x'], ['init', 'extra', '--dir', 'x'], ['init', '--dir', 'x', '--bogus']]) {
    await t.rejects(caCommand(argv, io), { code: 'CLI_USAGE', side: 'config' }, argv.join(' '))
  }
  const help = fakeIo('/')
  t.equal(await caCommand(['--help'], help.io), 0)
  t.match(help.out(), /^usage: ambient ca init/)
})

t.test('cert issue writes cert, key (0600) and root', async (t) => {
  const cwd = await workdir(t)
  await caCommand(['init', '--dir', 'ca'], fakeIo(cwd).io)
  const run = fakeIo(cwd)
  const code = await certCommand(
    ['issue', '--ca-dir', 'ca', '--spiffe', 'spiffe://cluster.local/ns/shop/sa/web', '--out', 'out/web', '--ttl', '1h'],
    run.io,
  )
  t.equal(code, 0)
  t.match(run.out(), /^issued spiffe:\/\/cluster\.local\/ns\/shop\/sa\/web\n {2}serial: [0-9a-f]+\n {2}expires: /)
  const out = join(cwd, 'out', 'web')
  const [certPem, keyPem, rootPem] = (await Promise.all(
    ['cert.pem', 'key.pem', 'root.pem'].map((f) => readFile(join(out, f), 'utf8')),
  )) as [string, string, string]
  t.equal((await stat(join(out, 'key.pem'))).mode & 0o777, 0o600)
  t.equal(rootPem, await readFile(join(cwd, 'ca', 'root-cert.pem'), 'utf8'))
  t.match(keyPem, /^-----BEGIN PRIVATE KEY-----/)
  const leaf = new X509Certificate(certPem)
  t.equal(certificateIdentity(leaf).toString(), 'spiffe://cluster.local/ns/shop/sa/web')
  t.equal(Date.parse(leaf.validTo) - Date.parse(leaf.validFrom), 3_600_000)
  t.equal(chainProblem([certPem], [rootPem], Date.now()), undefined)

  // Re-issuing over an existing, too-open key file tightens it back to 0600.
  await writeFile(join(out, 'key.pem'), 'old', { mode: 0o644 })
  t.equal(
    await certCommand(['issue', '--ca-dir', 'ca', '--spiffe', 'spiffe://cluster.local/ns/shop/sa/web', '--out', 'out/web'], fakeIo(cwd).io),
    0,
  )
  t.equal((await stat(join(out, 'key.pem'))).mode & 0o777, 0o600)
})

t.test('cert issue: bad input is a config error', async (t) => {
  const cwd = await workdir(t)
  await caCommand(['init', '--dir', 'ca'], fakeIo(cwd).io)
  const { io } = fakeIo(cwd)
  const id = 'spiffe://cluster.local/ns/a/sa/b'
  const cases: Array<[string[], string]> = [
    [['issue', '--spiffe', id, '--out', 'o'], 'CLI_USAGE'],
    [['issue', '--ca-dir', 'ca', '--out', 'o'], 'CLI_USAGE'],
    [['issue', '--ca-dir', 'ca', '--spiffe', id], 'CLI_USAGE'],
    [['sign', '--ca-dir', 'ca', '--spiffe', id, '--out', 'o'], 'CLI_USAGE'],
    [['issue', '--ca-dir', 'ca', '--spiffe', 'spiffe://cluster.local/a', '--out', 'o'], SpiffeErrorCode.invalid],
    [['issue', '--ca-dir', 'ca', '--spiffe', 'spiffe://other.org/ns/a/sa/b', '--out', 'o'], CaErrorCode.trustDomainMismatch],
    [['issue', '--ca-dir', 'ca', '--spiffe', id, '--out', 'o', '--ttl', 'soon'], 'CLI_BAD_DURATION'],
    [['issue', '--ca-dir', 'ca', '--spiffe', id, '--out', 'o', '--ttl', '1000d'], CaErrorCode.ttlInvalid],
    [['issue', '--ca-dir', 'no-such-ca', '--spiffe', id, '--out', 'o'], CaErrorCode.notFound],
  ]
  for (const [argv, code] of cases) {
    await t.rejects(certCommand(argv, io), { code, side: 'config' }, argv.join(' '))
  }
  const help = fakeIo(cwd)
  t.equal(await certCommand(['-h'], help.io), 0)
  t.match(help.out(), /^usage: ambient cert issue/)
})
