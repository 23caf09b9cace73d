// `ambient authz check` against the documented local config (test/fixtures/ztunnel-local.yaml):
// verdicts and exit codes, the JSON Decision, passthrough and Service VIPs, bad usage and bad config.
import t from 'tap'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { authzCommand } from '../../../src/cli/commands/authz.js'
import { runCommand } from '../../helpers/run-command.js'
import { LocalConfigErrorCode } from '../../../src/mesh/local-config.js'

const FIXTURE = resolve(import.meta.dirname, '../../fixtures/ztunnel-local.yaml')
const HTTPBIN = '127.244.2.2'
const SLEEP = 'spiffe://cluster.local/ns/default/sa/sleep'

const run = (...argv: string[]) => runCommand(authzCommand, argv)
const check = (...argv: string[]) => run('check', '--config', FIXTURE, ...argv)

t.test('allowed by the selector policy: exit 0, verdict first, each policy with its first failing clause', async (t) => {
  const r = await check('--src-identity', SLEEP, '--dst', `${HTTPBIN}:8080`)
  t.equal(r.code, 0)
  const lines = r.out.split('\n')
  t.equal(lines[0], 'ALLOW: allowed by: default/httpbin-allow-sleep')
  t.match(
    r.out,
    /source: +spiffe:\/\/cluster\.local\/ns\/default\/sa\/sleep from 127\.244\.1\.2 \(address of default\/sleep-7b9f5c8d6-x2k4q\)/,
  )
  t.match(r.out, /destination: +127\.244\.2\.2:8080, workload default\/httpbin-v1-5c5b5cd6b9-4wz8m on node node-b/)
  t.match(r.out, /deciding policy: default\/httpbin-allow-sleep/)
  t.match(r.out, /policies considered \(3\):/)
  t.match(r.out, /NO MATCH +DENY +default\/deny-9999 \(NAMESPACE\)\n +rule 0 clause 0: destinationPorts \[9999\] did not contain 8080/)
  t.match(
    r.out,
    /NO MATCH +DENY +istio-system\/deny-quarantine \(GLOBAL\)\n +rule 0 clause 0: namespaces \["quarantine"\] did not contain "default"/,
  )
  t.match(r.out, /MATCH +ALLOW default\/httpbin-allow-sleep \(WORKLOAD_SELECTOR, deciding\)\n +rule 0 matched/)
})

t.test('another identity: exit 1, no ALLOW matched, the principal clause named', async (t) => {
  const r = await check('--src-identity', 'cluster.local/ns/default/sa/other', '--src-ip', '127.244.1.3', '--dst', `${HTTPBIN}:8080`)
  t.equal(r.code, 1)
  t.match(r.out, /^DENY: allow policies exist, but none allowed\n/)
  t.match(
    r.out,
    /source: +spiffe:\/\/cluster\.local\/ns\/default\/sa\/other from 127\.244\.1\.3\n/,
    'the principal form is accepted; --src-ip is used as given',
  )
  t.match(
    r.out,
    /rule 0 clause 0: principals \["cluster\.local\/ns\/default\/sa\/sleep"\] did not contain "cluster\.local\/ns\/default\/sa\/other"/,
  )
})

t.test('a DENY policy decides; without an identity the source is plaintext and the IP unspecified', async (t) => {
  const r = await check('--dst', `${HTTPBIN}:9999`)
  t.equal(r.code, 1)
  t.match(r.out, /^DENY: explicitly denied by: default\/deny-9999\n/)
  t.match(r.out, /no peer identity \(plaintext\) from 0\.0\.0\.0 \(unspecified\)/)
  t.match(r.out, /note: no --src-ip given: using 0\.0\.0\.0/)
})

t.test('sourceIps rules see the source address', async (t) => {
  const waypoint = 'spiffe://cluster.local/ns/default/sa/waypoint'
  t.equal((await check('--src-identity', waypoint, '--dst', '127.244.2.3:9080')).code, 0, 'from the waypoint pod')
  const outside = await check('--src-identity', waypoint, '--src-ip', '10.0.0.1', '--dst', '127.244.2.3:9080')
  t.equal(outside.code, 1)
  t.match(outside.out, /sourceIps \["127\.244\.0\.0\/16"\] did not contain "10\.0\.0\.1"/)
})

t.test('--json prints the Decision with its trace', async (t) => {
  const r = await check('--src-identity', SLEEP, '--dst', `${HTTPBIN}:8080`, '--json')
  t.equal(r.code, 0)
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- walking the printed JSON
  const j = JSON.parse(r.out) as Record<string, any>
  t.equal(j.verdict, 'ALLOW')
  t.equal(j.workload, 'default/httpbin-v1-5c5b5cd6b9-4wz8m')
  t.same(j.connection, {
    srcIdentity: SLEEP,
    srcIp: '127.244.1.2',
    srcIpOrigin: { kind: 'workload', workload: 'default/sleep-7b9f5c8d6-x2k4q' },
    dstIp: HTTPBIN,
    dstPort: 8080,
  })
  t.equal(j.decision.allowed, true)
  t.equal(j.decision.decidingPolicy, 'default/httpbin-allow-sleep')
  t.same(
    j.decision.trace.map((p: { policy: string; matched: boolean }) => [p.policy, p.matched]),
    [
      ['default/deny-9999', false],
      ['istio-system/deny-quarantine', false],
      ['default/httpbin-allow-sleep', true],
    ],
  )
  t.equal(j.decision.trace[0].rules[0].failedClause, 0)
  t.equal(j.decision.trace[0].rules[0].clauses[0].matches[0].failure.field, 'destinationPorts')

  const denied = await check('--dst', `${HTTPBIN}:8080`, '--json')
  t.equal(denied.code, 1)
  t.equal((JSON.parse(denied.out) as { verdict: string }).verdict, 'DENY')
})

t.test('an IP that is no mesh workload: passthrough, no policy at ztunnel', async (t) => {
  const r = await check('--dst', '10.1.2.3:80')
  t.equal(r.code, 0)
  t.match(
    r.out,
    /^PASSTHROUGH: 10\.1\.2\.3 is not a mesh workload: ztunnel passes its traffic through as plain TCP, no policy applies at ztunnel/,
  )
  const j = JSON.parse((await check('--dst', '10.1.2.3:80', '--json')).out) as { verdict: string }
  t.equal(j.verdict, 'PASSTHROUGH')
})

t.test('a Service VIP: exit 2, pointing at its endpoints with their target ports', async (t) => {
  const r = await check('--dst', '127.96.0.12:8000')
  t.equal(r.code, 2)
  t.match(r.out, /default\/httpbin\.default\.svc\.cluster\.local is a Service VIP.*check an endpoint: 127\.244\.2\.2:8080/)
  const j = JSON.parse((await check('--dst', '127.96.0.12:8000', '--json')).out) as { verdict: string; endpoints: unknown }
  t.match(j, { verdict: 'NOT_A_WORKLOAD', service: 'default/httpbin.default.svc.cluster.local', endpoints: [{ ip: HTTPBIN, port: 8080 }] })
})

t.test('refused before authorization (a proxy port): exit 1 with the HBONE code', async (t) => {
  const r = await check('--src-identity', SLEEP, '--dst', `${HTTPBIN}:15008`)
  t.equal(r.code, 1)
  t.match(r.out, /^REFUSED \(HBONE 503, before authorization\): port 15008 .* is a proxy port/)
  t.match(r.out, /code: HBONE_ILLEGAL_PORT/)
  t.match(JSON.parse((await check('--dst', `${HTTPBIN}:15008`, '--json')).out), {
    verdict: 'REFUSED',
    status: 503,
    code: 'HBONE_ILLEGAL_PORT',
  })
})

t.test('bad usage is a config-side CLI_USAGE error (exit 2 in main)', async (t) => {
  const cases: string[][] = [
    [],
    ['explain', '--config', FIXTURE, '--dst', '1.2.3.4:80'],
    ['check', '--dst', '1.2.3.4:80'],
    ['check', '--config', FIXTURE],
    ['check', '--config', FIXTURE, '--dst', 'nope'],
    ['check', '--config', FIXTURE, '--dst', '1.2.3.4:80', '--src-ip', 'x'],
    ['check', '--config', FIXTURE, '--dst', '1.2.3.4:80', '--src-identity', 'spiffe://cluster.local/ns/a'],
    ['check', '--config', FIXTURE, '--dst', '1.2.3.4:80', '--bogus'],
  ]
  for (const argv of cases) await t.rejects(run(...argv), { code: 'CLI_USAGE', side: 'config' }, argv.join(' ') || '(none)')
  const help = await run('--help')
  t.equal(help.code, 0)
  t.match(help.out, /^usage: ambient authz check/)
})

t.test('a config with errors: exit 2, every error listed with file, line, path and code', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'ambient-authz-'))
  t.teardown(() => rm(dir, { recursive: true, force: true }))
  const file = join(dir, 'bad.yaml')
  await writeFile(
    file,
    [
      'workloads:',
      '  - {name: a, namespace: default, addresses: ["not-an-ip"]}',
      'policies:',
      '  - {name: p, namespace: default, scope: NAMESPACE, action: MAYBE, rules: []}',
      '',
    ].join('\n'),
  )
  const r = await run('check', '--config', file, '--dst', '127.0.0.1:80')
  t.equal(r.code, 2)
  t.equal(r.out, '')
  t.match(r.err, /has 2 error\(s\)/)
  t.match(r.err, new RegExp(`${file}:2 workloads\\[0\\]\\.addresses\\[0\\]: \\[MESH_`))
  t.match(r.err, new RegExp(`${file}:4 policies\\[0\\]\\.action: \\[MESH_`))

  await writeFile(file, 'workloads: [\n')
  const yaml = await run('check', '--config', file, '--dst', '127.0.0.1:80')
  t.equal(yaml.code, 2)
  t.match(yaml.err, LocalConfigErrorCode.yaml)

  const missing = await run('check', '--config', join(dir, 'nope.yaml'), '--dst', '127.0.0.1:80')
  t.equal(missing.code, 2)
  t.match(missing.err, /cannot read .*nope\.yaml/)
})
