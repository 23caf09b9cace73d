// Every command and subcommand of the built CLI answers -h and --help with its usage on stdout and
// exit 0; numeric options are checked (a coded error, exit 2); "no cluster running" is one exit
// code (3, CLUSTER_NOT_RUNNING) for cluster status, zc, exec and explain; help never swallows a
// `-h` meant for the command after `exec POD --`.
import t from 'tap'
import { existsSync } from 'node:fs'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { CliIo } from '../../../src/cli/io.js'
import { runCommand } from '../../../src/cli/registry.js'
import { cliEntry, runCli } from '../../helpers/run-cli.js'

const built = existsSync(cliEntry)

/** `ambient <args>` in-process (src/cli/registry.ts, what main.ts runs): the machine is shared, and a process per case is slow. */
async function ambient(
  args: readonly string[],
  env: Record<string, string> = {},
): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = ''
  let stderr = ''
  const io: CliIo = {
    stdout: (s) => {
      stdout += s
    },
    stderr: (s) => {
      stderr += s
    },
    env,
    cwd: process.cwd(),
    stopSignal: new Promise(() => undefined),
  }
  const { code } = await runCommand(args, io)
  return { code, stdout, stderr }
}

const COMMANDS = [
  ['app'],
  ['ca'],
  ['ca', 'init'],
  ['cert'],
  ['cert', 'issue'],
  ['cluster'],
  ['cluster', 'up'],
  ['cluster', 'down'],
  ['cluster', 'status'],
  ['exec'],
  ['demo'],
  ['istiod'],
  ['sidecar'],
  ['waypoint'],
  ['ztunnel'],
  ['analyze'],
  ['compare'],
  ['authz'],
  ['authz', 'check'],
  ['zc'],
  ['zc', 'workloads'],
  ['explain'],
  ['ui'],
]

t.test('-h and --help on every command and subcommand: usage on stdout, exit 0', async (t) => {
  for (const args of COMMANDS.flatMap((c) => [
    [...c, '-h'],
    [...c, '--help'],
  ])) {
    const r = await ambient(args)
    t.equal(r.code, 0, `ambient ${args.join(' ')} exits 0 (${r.stderr.trim()})`)
    t.match(r.stdout, /usage: ambient /, `ambient ${args.join(' ')} prints its usage`)
  }
  const top = await ambient(['--help'])
  t.equal(top.code, 0)
  t.match(top.stdout, /^usage: ambient <command>/)
  t.match(top.stdout, /exit codes: .*3 no cluster is running/)
})

t.test(
  'the built CLI: help and exit codes through main.ts',
  { skip: built ? false : `${cliEntry} missing: run npm run build` },
  async (t) => {
    const help = await runCli(['cluster', 'up', '--help'], 60_000)
    t.equal(help.code, 0, help.stderr)
    t.match(help.stdout, /^usage: ambient cluster up --config DIR/)
    const bad = await runCli(['demo', '--rate', 'abc'], 60_000)
    t.equal(bad.code, 2)
    t.match(bad.stderr, /\[CLI_BAD_NUMBER\] --rate/)
  },
)

t.test('numeric options: a coded error naming the option and its range (exit 2), never a silent default', async (t) => {
  const cases: [string[], RegExp][] = [
    [['demo', '--rate', 'abc'], /\[CLI_BAD_NUMBER\] --rate: "abc" is not a number from 0\.1 to 1000/],
    [['demo', '--rate', '0'], /\[CLI_BAD_NUMBER\] --rate: "0"/],
    [['demo', '--ui-port', '70000'], /\[CLI_BAD_NUMBER\] --ui-port: "70000" is not a whole number from 0 to 65535/],
    [['demo', '--nodes', '1.5'], /\[CLI_BAD_NUMBER\] --nodes/],
    [['cluster', 'up', '--config', '.', '--grpc-port', '15012x'], /\[CLI_BAD_NUMBER\] --grpc-port/],
    [['ui', '--port', ''], /\[CLI_BAD_NUMBER\] --port/],
    [['analyze', '.', '--nodes', 'two'], /\[CLI_BAD_NUMBER\] --nodes/],
    // istiod shares these options with cluster up and demo: the same checks (an empty port is not 0).
    [['istiod', '--config', '.', '--grpc-port', ''], /\[CLI_BAD_NUMBER\] --grpc-port: "" is not a whole number from 0 to 65535/],
    [['istiod', '--config', '.', '--debug-port', '0x10'], /\[CLI_BAD_NUMBER\] --debug-port/],
    [['istiod', '--config', '.', '--nodes', '1e1'], /\[CLI_BAD_NUMBER\] --nodes/],
  ]
  for (const [args, message] of cases) {
    const r = await ambient(args)
    t.equal(r.code, 2, `ambient ${args.join(' ')} exits 2`)
    t.match(r.stderr, message)
    t.notMatch(r.stderr, /TimeoutOverflowWarning/)
  }
})

t.test('an unknown log level is bad usage (exit 2) naming where it came from', async (t) => {
  const ztunnel = ['ztunnel', '--node', 'n', '--config', 'none.yaml', '--ca-dir', 'none']
  const bad = await ambient([...ztunnel, '--log-level', 'loud'])
  t.equal(bad.code, 2)
  t.match(bad.stderr, /\[LOG_LEVEL_INVALID\] --log-level: "loud" is not a log level \(fatal, error, warn, info, debug, trace, silent\)/)
  const fromEnv = await ambient(['istiod', '--config', 'none'], { AMBIENT_LOG_LEVEL: 'chatty' })
  t.equal(fromEnv.code, 2)
  t.match(fromEnv.stderr, /\[LOG_LEVEL_INVALID\] AMBIENT_LOG_LEVEL: "chatty"/)
})

t.test("the proxies' port options: decimal digits only, never an empty value taken as port 0", async (t) => {
  const ztunnel = ['ztunnel', '--node', 'n', '--config', 'none.yaml', '--ca-dir', 'none']
  const waypoint = ['waypoint', '--name', 'w', '--namespace', 'default', '--config', 'none.json', '--ca-dir', 'none']
  const cases: string[][] = [
    [...ztunnel, '--metrics-port', ''],
    [...ztunnel, '--hbone-port', '0x50'],
    [...ztunnel, '--dns-port', '1e3'],
    [...waypoint, '--readiness-port', ' '],
    [...waypoint, '--hbone-port', '+80'],
  ]
  for (const args of cases) {
    const r = await ambient(args)
    t.equal(r.code, 2, `ambient ${args.join(' ')} exits 2`)
    t.match(r.stderr, /\[CLI_USAGE\] --[a-z-]+-port: ".*" is not a port \(0-65535\)/)
  }
})

t.test('no cluster running: exit 3 and CLUSTER_NOT_RUNNING from cluster status, zc, exec and explain', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'ambient-nocluster-'))
  t.teardown(() => rm(dir, { recursive: true, force: true }))
  const cases = [
    ['cluster', 'status', '--state-dir', dir],
    ['cluster', 'status', '--state-dir', dir, '-o', 'json'],
    ['zc', 'workloads', '--state-dir', dir],
    ['exec', '--state-dir', dir, 'curl', '--', 'true'],
    ['explain', '--state-dir', dir, '--from', 'curl', '--to', 'reviews'],
  ]
  for (const args of cases) {
    const r = await ambient(args)
    t.equal(r.code, 3, `ambient ${args.join(' ')} exits 3`)
    t.match(r.stderr, /\[CLUSTER_NOT_RUNNING\] no cluster is running from .*npm run demo/)
  }
  // `-h` after `--` belongs to the command run in the pod, not to exec.
  const exec = await ambient(['exec', '--state-dir', dir, 'curl', '--', 'curl', '-h'])
  t.equal(exec.code, 3, 'exec looked for the cluster instead of printing its own help')
})

t.test('-o yaml where data is printed', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'ambient-yaml-'))
  t.teardown(() => rm(dir, { recursive: true, force: true }))
  const r = await ambient(['analyze', join(import.meta.dirname, '../../../deploy/demo'), '-o', 'yaml'])
  t.equal(r.code, 0, r.stderr)
  t.ok(r.stdout.startsWith('[]') || /^- code: /m.test(r.stdout), 'a YAML list of messages')
  const bad = await ambient(['analyze', dir, '-o', 'xml'])
  t.equal(bad.code, 2)
  t.match(bad.stderr, /-o: "xml" is not text, json or yaml/)
})

t.test("istiod's token and root certificate unreadable: a usage error naming the file (exit 2), before a proxy starts", async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'ambient-nofiles-'))
  t.teardown(() => rm(dir, { recursive: true, force: true }))
  const xds = ['--xds', '127.0.0.1:1', '--node', 'node-1']
  const missingState = join(dir, 'no-state')
  const cases: [string[], RegExp][] = [
    [['sidecar', '--pod', 'default/a', ...xds, '--istiod-state-dir', missingState], /\[CLI_USAGE\] cannot read the node token .*no-state/],
    [
      ['sidecar', '--pod', 'default/a', '--xds', '127.0.0.1:1', '--istiod-state-dir', missingState],
      /\[CLI_USAGE\] cannot read istiod's node tokens in .*no-state/,
    ],
    [
      ['waypoint', '--name', 'w', '--namespace', 'default', ...xds, '--istiod-state-dir', missingState],
      /\[CLI_USAGE\] cannot read the node token/,
    ],
    [['ztunnel', ...xds, '--istiod-state-dir', missingState], /\[CLI_USAGE\] cannot read the node token .*node-1\.token/],
  ]
  const token = join(dir, 'node.token')
  await writeFile(token, 'token\n')
  for (const command of [['sidecar', '--pod', 'default/a'], ['waypoint', '--name', 'w', '--namespace', 'default'], ['ztunnel']])
    cases.push([
      [...command, ...xds, '--token-file', token, '--root-cert', join(dir, 'none.pem')],
      /\[CLI_USAGE\] cannot read the root certificate .*none\.pem/,
    ])
  for (const [args, message] of cases) {
    const r = await ambient(args)
    t.equal(r.code, 2, `ambient ${args.join(' ')} exits 2`)
    t.match(r.stderr, message)
  }
})
