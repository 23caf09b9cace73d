// Finding a pod's network namespace: one path per namespace (named ones win over /proc), the one
// holding the pod's IP, none or several refused with stable codes; and the kubelet-probe exemption
// of the in-pod ruleset (Istio's 169.254.7.127 lines), in and out.
import { mkdtemp, mkdir, rm, writeFile, symlink } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import { dedupeNetns, findPodNetns, pickPodNetns, PodNetnsErrorCode } from '../../../src/capture/inpod/pod-netns.js'
import { captureRules, inNetns, PROBE_SNAT_IP } from '../../../src/capture/inpod/rules.js'

t.test('dedupe keeps the first path of each namespace', async (t) => {
  t.same(
    dedupeNetns([
      { path: '/var/run/netns/a', id: '4:1' },
      { path: '/run/netns/a', id: '4:1' },
      { path: '/proc/7/ns/net', id: '4:2' },
      { path: '/proc/8/ns/net', id: '4:1' },
    ]).map((c) => c.path),
    ['/var/run/netns/a', '/proc/7/ns/net'],
  )
})

const cases: { name: string; ip: string; addrs: Record<string, string[]>; want?: string; code?: string }[] = [
  {
    name: 'the one holding the IP',
    ip: '10.1.0.5',
    addrs: { '/n/a': ['127.0.0.1', '10.1.0.4'], '/n/b': ['127.0.0.1', '10.1.0.5'] },
    want: '/n/b',
  },
  { name: 'IPv6', ip: 'fd00::5', addrs: { '/n/a': ['::1', 'fd00::5'] }, want: '/n/a' },
  { name: 'none: not up yet', ip: '10.1.0.9', addrs: { '/n/a': ['10.1.0.4'] }, code: PodNetnsErrorCode.notFound },
  { name: 'several: refused', ip: '10.1.0.4', addrs: { '/n/a': ['10.1.0.4'], '/n/b': ['10.1.0.4'] }, code: PodNetnsErrorCode.ambiguous },
  { name: 'loopback alone never matches a pod IP', ip: '10.1.0.4', addrs: { '/n/a': ['127.0.0.1'] }, code: PodNetnsErrorCode.notFound },
]
for (const c of cases) {
  t.test(c.name, async (t) => {
    const list = Object.entries(c.addrs).map(([path, addresses]) => ({ path, addresses }))
    if (c.want !== undefined) t.equal(pickPodNetns(c.ip, list), c.want)
    else t.throws(() => pickPodNetns(c.ip, list), { code: c.code })
  })
}

t.test('findPodNetns scans the named dirs and /proc, deduplicated by inode', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'ambient-podnetns-'))
  t.teardown(() => rm(dir, { recursive: true, force: true }))
  await mkdir(join(dir, 'netns'))
  await mkdir(join(dir, 'proc', '42', 'ns'), { recursive: true })
  await mkdir(join(dir, 'proc', 'self'), { recursive: true })
  await writeFile(join(dir, 'netns', 'pod-a'), '')
  await writeFile(join(dir, 'other'), '')
  await symlink(join(dir, 'netns', 'pod-a'), join(dir, 'proc', '42', 'ns', 'net')) // the same namespace
  await mkdir(join(dir, 'proc', '43', 'ns'), { recursive: true })
  await symlink(join(dir, 'other'), join(dir, 'proc', '43', 'ns', 'net'))
  const listed: string[] = []
  const addresses = (path: string): string[] => {
    listed.push(path)
    return path.endsWith('pod-a') ? ['10.1.0.4'] : ['10.1.0.5']
  }
  const deps = { netnsDirs: [join(dir, 'netns')], procDir: join(dir, 'proc'), addresses }
  t.equal(await findPodNetns('10.1.0.5', deps), join(dir, 'proc', '43', 'ns', 'net'))
  t.same(listed, [join(dir, 'netns', 'pod-a'), join(dir, 'proc', '43', 'ns', 'net')], 'each namespace listed once; /proc/self skipped')
})

t.test("kubelet probes: the ruleset lets the node's probe address in and its replies out (Istio's two lines)", async (t) => {
  t.equal(PROBE_SNAT_IP, '169.254.7.127')
  const rules = captureRules()
  t.match(rules, /^-A ISTIO_PRERT -s 169\.254\.7\.127 -p tcp -m tcp -j ACCEPT$/m, 'mangle: no TPROXY for probes')
  t.match(rules, /^-A ISTIO_OUTPUT -d 169\.254\.7\.127 -p tcp -m tcp -j ACCEPT$/m, 'nat: replies to probes not redirected')
  const lines = rules.split('\n')
  const probe = lines.findIndex((l) => l.includes('-s 169.254.7.127'))
  const tproxy = lines.findIndex((l) => l.includes('--on-port 15006'))
  t.ok(probe >= 0 && probe < tproxy, 'before the inbound TPROXY')
  t.same(inNetns('ti1-default.a'), ['ip', 'netns', 'exec', 'ti1-default.a'])
  t.same(inNetns('/proc/42/ns/net'), ['nsenter', '--net=/proc/42/ns/net'])
})
