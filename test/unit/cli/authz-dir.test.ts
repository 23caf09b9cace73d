// `ambient authz check --config DIR`: the Kubernetes/Istio YAML istiod reads (test/fixtures/bookinfo
// plus the seed's allow-reviews-style policy), translated as istiod would, then the same check.
import t from 'tap'
import { cp, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { authzCommand } from '../../../src/cli/commands/authz.js'
import { runCommand } from '../../helpers/run-command.js'
import { parseConfigFiles } from '../../../src/istiod/resources/snapshot.js'
import { readConfigPaths } from '../../../src/istiod/resources/read-config.js'
import { translate } from '../../../src/istiod/translate/index.js'

const BOOKINFO = resolve(import.meta.dirname, '../../fixtures/bookinfo')
const PRODUCTPAGE = 'spiffe://cluster.local/ns/default/sa/bookinfo-productpage'

const run = (...argv: string[]) => runCommand(authzCommand, argv)

/** A temporary copy of test/fixtures/bookinfo, removed at the end of the test. */
async function bookinfoCopy(t: { teardown(fn: () => unknown): void }): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'authz-dir-'))
  t.teardown(() => rm(dir, { recursive: true, force: true }))
  await cp(BOOKINFO, dir, { recursive: true })
  return dir
}

/** An ALLOW policy on the ratings pod for the reviews service account; `more` continues its one rule. */
function ratingsFromReviews(name: string, more = ''): string {
  return `apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata:
  name: ${name}
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
${more}`
}

/** The ratings pod of the directory's config, as istiod's translation makes it. */
async function ratingsPod(dir: string) {
  const parsed = parseConfigFiles(await readConfigPaths([dir], '/'))
  return translate(parsed.snapshot, { nodes: 2 }).mesh.workloads.find((w) => w.name.startsWith('ratings'))
}

t.test('a YAML directory is translated as istiod would, then checked', async (t) => {
  const dir = await bookinfoCopy(t)
  await writeFile(join(dir, 'ratings-policy.yaml'), ratingsFromReviews('ratings-from-reviews'))
  // The ratings pod's address, as istiod's translation assigns it.
  const ratings = await ratingsPod(dir)
  t.ok(ratings, 'the ratings pod exists')
  const dst = `${ratings!.addresses[0]}:9080`

  const denied = await run('check', '--config', dir, '--src-identity', PRODUCTPAGE, '--dst', dst)
  t.equal(denied.code, 1, denied.err)
  t.match(denied.out, /^DENY: allow policies exist, but none allowed/)
  t.match(denied.out, /default\/ratings-from-reviews/)

  const allowed = await run(
    'check',
    '--config',
    dir,
    '--src-identity',
    'spiffe://cluster.local/ns/default/sa/bookinfo-reviews',
    '--dst',
    dst,
  )
  t.equal(allowed.code, 0, allowed.err)
  t.match(allowed.out, /^ALLOW: allowed by: default\/ratings-from-reviews/)
})

t.test('a YAML directory with broken files: each is named and skipped, the valid rest decides (as istiod serves it)', async (t) => {
  const dir = await bookinfoCopy(t)
  await writeFile(
    join(dir, 'bad.yaml'),
    'apiVersion: security.istio.io/v1\nkind: AuthorizationPolicy\nmetadata:\n  name: x\n  namespace: default\nspec:\n  action: MAYBE\n',
  )
  await writeFile(join(dir, 'broken.yaml'), 'apiVersion: v1\nkind: Service\nmetadata:\n  name: [oops\n')
  // A selector policy with HTTP rules: ztunnel drops the methods and paths (the from part stays).
  await writeFile(
    join(dir, 'ratings-http.yaml'),
    ratingsFromReviews(
      'ratings-get',
      `      to:
        - operation:
            methods: ["GET"]
            paths: ["/ratings/*"]
`,
    ),
  )
  const ratings = (await ratingsPod(dir))!
  const r = await run('check', '--config', dir, '--src-identity', PRODUCTPAGE, '--dst', `${ratings.addresses[0]}:9080`)
  t.equal(r.code, 1, 'a verdict from the valid rest: productpage is not allowed to ratings')
  t.match(r.out, /^DENY: /)
  t.match(
    r.out,
    /skipped \(as istiod does, the rest decides\): \S*bad\.yaml:\d+ AuthorizationPolicy[/ ]default\/x at spec\.action: \[ISTIOD_SCHEMA\]/,
  )
  t.match(
    r.out,
    /skipped \(as istiod does, the rest decides\): \S*broken\.yaml:\d+ unparsed YAML \(no object read from it\): \[ISTIOD_YAML_SYNTAX\]/,
  )
  t.notMatch(r.out + r.err, /undefined/, 'no object is called "undefined"')
  t.match(r.out, /HTTP rules dropped at L4: AuthorizationPolicy[/ ]default\/ratings-get: /)

  const j = await run('check', '--config', dir, '--src-identity', PRODUCTPAGE, '--dst', `${ratings.addresses[0]}:9080`, '-o', 'yaml')
  t.match(j.out, /^verdict: DENY$/m)
  t.match(j.out, /^skipped:$/m)
  t.match(j.out, /^httpRulesDroppedAtL4:$/m)
})
