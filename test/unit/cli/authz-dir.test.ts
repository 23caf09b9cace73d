// `ambient authz check --config DIR`: the Kubernetes/Istio YAML istiod reads (test/fixtures/bookinfo
// plus the seed's allow-reviews-style policy), translated as istiod would, then the same check.
import t from 'tap'
import { cp, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { authzCommand } from '../../../src/cli/commands/authz.js'
import type { CliIo } from '../../../src/cli/io.js'
import { parseConfigFiles } from '../../../src/istiod/resources/snapshot.js'
import { readConfigPaths } from '../../../src/istiod/resources/read-config.js'
import { translate } from '../../../src/istiod/translate/index.js'

const BOOKINFO = resolve(import.meta.dirname, '../../fixtures/bookinfo')
const PRODUCTPAGE = 'spiffe://cluster.local/ns/default/sa/bookinfo-productpage'

async function run(...argv: string[]): Promise<{ code: number; out: string; err: string }> {
  const out: string[] = []
  const err: string[] = []
  const io: CliIo = { stdout: (s) => void out.push(s), stderr: (s) => void err.push(s), env: {}, cwd: '/', stopSignal: new Promise(() => {}) }
  const code = await authzCommand(argv, io)
  return { code, out: out.join(''), err: err.join('') }
}

t.test('a YAML directory is translated as istiod would, then checked', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'authz-dir-'))
  t.teardown(() => rm(dir, { recursive: true, force: true }))
  await cp(BOOKINFO, dir, { recursive: true })
  await writeFile(join(dir, 'ratings-policy.yaml'), `apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata:
  name: ratings-from-reviews
  namespace: default
spec:
  selector:
    matchLabels:
      app: ratings
  action: ALLOW
  rules:
    - from:
        - source:
            principals: ["cluster.local/ns/default/sa/bookinfo-reviews"]
`)
  // The ratings pod's address, as istiod's translation assigns it.
  const parsed = parseConfigFiles(await readConfigPaths([dir], '/'))
  const ratings = translate(parsed.snapshot, { nodes: 2 }).mesh.workloads.find((w) => w.name.startsWith('ratings'))
  t.ok(ratings, 'the ratings pod exists')
  const dst = `${ratings!.addresses[0]}:9080`

  const denied = await run('check', '--config', dir, '--src-identity', PRODUCTPAGE, '--dst', dst)
  t.equal(denied.code, 1, denied.err)
  t.match(denied.out, /^DENY: allow policies exist, but none allowed/)
  t.match(denied.out, /default\/ratings-from-reviews/)

  const allowed = await run('check', '--config', dir, '--src-identity', 'spiffe://cluster.local/ns/default/sa/bookinfo-reviews', '--dst', dst)
  t.equal(allowed.code, 0, allowed.err)
  t.match(allowed.out, /^ALLOW: allowed by: default\/ratings-from-reviews/)
})

t.test('a YAML directory with errors is refused with every error listed (exit 2)', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'authz-dir-'))
  t.teardown(() => rm(dir, { recursive: true, force: true }))
  await writeFile(join(dir, 'bad.yaml'), 'apiVersion: security.istio.io/v1\nkind: AuthorizationPolicy\nmetadata:\n  name: x\nspec:\n  action: MAYBE\n')
  const r = await run('check', '--config', dir, '--dst', '127.244.1.1:80')
  t.equal(r.code, 2)
  t.match(r.err, /bad\.yaml:\d+ .*\[ISTIOD_SCHEMA\]/)
})
