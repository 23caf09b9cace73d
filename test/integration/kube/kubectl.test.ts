// Keeps the fake API server honest: the real kubectl (when the machine has one) drives it through a
// kubeconfig — discovery, `apply` (create, then patch on a second apply), `get -o json`, and
// `get -w` streaming a change made afterwards. Skipped, with the reason, when kubectl is missing
// (a failure under CI=true: test/helpers/requires.ts).
import t from 'tap'
import { execFile, spawn } from 'node:child_process'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { eventually } from '../../helpers/eventually.js'
import { startFakeKubeApiServer } from '../../helpers/fake-kube-apiserver.js'
import { needs, requires } from '../../helpers/requires.js'

const run = promisify(execFile)
const kubectlNeed = needs.tool('kubectl', 'https://kubernetes.io/docs/tasks/tools/ (Debian: apt-get install kubernetes-client)')

t.test('kubectl against the fake API server', { skip: requires(t, kubectlNeed) }, async (t) => {
  const api = await startFakeKubeApiServer({ host: '127.0.0.1' })
  t.teardown(() => api.close())
  const dir = await mkdtemp(join(tmpdir(), 'kubectl-fake-'))
  t.teardown(() => rm(dir, { recursive: true, force: true }))
  const kubeconfig = join(dir, 'kubeconfig')
  await writeFile(kubeconfig, api.kubeconfig())
  const env = { ...process.env, KUBECONFIG: kubeconfig, HOME: dir }
  const kubectl = (...args: string[]): Promise<{ stdout: string; stderr: string }> => run('kubectl', args, { env, timeout: 60_000 })

  const created = await kubectl(
    'apply',
    '--validate=false',
    '-f',
    'deploy/kind/bookinfo.yaml',
    '-f',
    'deploy/kind/samples/deny-productpage-to-details.yaml',
  )
  t.match(created.stdout, /deployment\.apps\/productpage-v1 created/)
  t.match(created.stdout, /authorizationpolicy\.security\.istio\.io\/deny-productpage-to-details created/)
  t.ok(api.get('Deployment', 'default', 'productpage-v1'), 'the Deployment is stored')
  const again = await kubectl('apply', '--validate=false', '-f', 'deploy/kind/bookinfo.yaml')
  t.match(again.stdout, /service\/details (unchanged|configured)/, 'a second apply patches (or finds nothing to change)')

  const list = JSON.parse((await kubectl('get', 'authorizationpolicies', '-n', 'default', '-o', 'json')).stdout) as {
    items: { metadata: { name: string } }[]
  }
  t.same(
    list.items.map((i) => i.metadata.name),
    ['deny-productpage-to-details'],
  )

  // get -w: the current object, then a change made while it watches.
  const watcher = spawn('kubectl', ['get', 'services', '-n', 'default', '-w', '-o', 'name'], { env })
  t.teardown(() => {
    watcher.kill()
  })
  let out = ''
  watcher.stdout.setEncoding('utf8').on('data', (c: string) => {
    out += c
  })
  await eventually(() => out.includes('service/details') && api.watchCount() > 0, { timeoutMs: 30_000 })
  api.apply({ apiVersion: 'v1', kind: 'Service', metadata: { name: 'late', namespace: 'default' }, spec: { ports: [{ port: 80 }] } })
  await eventually(() => out.includes('service/late'), { timeoutMs: 30_000 })
  t.ok(
    api.requests.some((r) => /GET \/api\/v1\/namespaces\/default\/services\?.*watch=true/.test(r)),
    'kubectl watched the collection',
  )

  await kubectl('delete', '-f', 'deploy/kind/samples/deny-productpage-to-details.yaml')
  t.notOk(api.get('AuthorizationPolicy', 'default', 'deny-productpage-to-details'), 'kubectl delete removed it')
})
