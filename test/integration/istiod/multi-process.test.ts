// Multi-process tier: the real `ambient istiod` and two `ambient ztunnel --xds` processes from the
// built CLI (npm test builds first; skipped when dist is missing). A flow between the nodes, then a
// DENY policy file written into istiod's config dir closes it.
import t, { type Test } from 'tap'
import { cliEntry as CLI } from '../../helpers/run-cli.js'
import { spawn, type ChildProcess } from 'node:child_process'
import { randomInt } from 'node:crypto'
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { eventually } from '../../helpers/eventually.js'
import { needs, requires } from '../../helpers/requires.js'
import { startEchoServer } from '../../helpers/echo-server.js'
import { NAMESPACE_YAML, denyYaml, podYaml, serviceYaml } from '../../helpers/istiod-mesh.js'
import { connect, readExactly } from '../../helpers/socks-client.js'

// The built CLI is all this needs (npm test builds first); a build without istiod or xDS mode fails
// here rather than skipping.
const built = needs.file(CLI, 'run npm run build')
const X = randomInt(20, 90) * 2 + 1 // odd: never the in-process harness' even octets

function run(t: Test, args: string[]): { proc: ChildProcess; output: () => string } {
  const proc = spawn(process.execPath, [CLI, ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, AMBIENT_LOG_LEVEL: 'info' },
  })
  let out = ''
  proc.stdout!.on('data', (c: Buffer) => {
    out += c.toString()
  })
  proc.stderr!.on('data', (c: Buffer) => {
    out += c.toString()
  })
  t.teardown(() => {
    if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGKILL')
  })
  return { proc, output: () => out }
}

t.test(
  'ambient istiod + two ambient ztunnel --xds: a flow, then a policy file closes it',
  { timeout: 30_000, skip: requires(t, built) },
  async (t) => {
    const dir = await mkdtemp(join(tmpdir(), 'ambient-istiod-multi-'))
    t.teardown(() => rm(dir, { recursive: true, force: true }))
    const configDir = join(dir, 'config')
    const stateDir = join(dir, 'state')
    await mkdir(configDir)
    await writeFile(
      join(configDir, 'mesh.yaml'),
      [NAMESPACE_YAML, podYaml('sleep', 'node-1'), podYaml('echo', 'node-2', { port: 8080 }), serviceYaml('echo', 80, 8080)].join('---\n'),
    )
    const plan = `127.${X},127.${X + 1},127.${X + 2}`
    const echo = await startEchoServer(`127.${X + 1}.2.1`, { port: 8080 })
    t.teardown(() => echo.close())

    const istiod = run(t, [
      'istiod',
      '--config',
      configDir,
      '--state-dir',
      stateDir,
      '--grpc-port',
      '0',
      '--debug-port',
      '0',
      '--address-plan',
      plan,
    ])
    const grpc = await eventually(
      () => {
        if (istiod.proc.exitCode !== null) throw new Error(`istiod exited: ${istiod.output()}`)
        return /xDS and CA on (\S+),/.exec(istiod.output())?.[1] ?? false
      },
      { timeoutMs: 10_000, intervalMs: 50 },
    )
    const nodes = [1, 2].map((k) => ({
      nodeIp: `127.${X}.0.${k}`,
      child: run(t, ['ztunnel', '--node', `node-${k}`, '--node-ip', `127.${X}.0.${k}`, '--xds', grpc, '--istiod-state-dir', stateDir]),
    }))
    for (const { nodeIp, child } of nodes) {
      await eventually(
        async () => {
          if (child.proc.exitCode !== null) throw new Error(`ztunnel exited: ${child.output()}`)
          const res = await fetch(`http://${nodeIp}:15021/healthz/ready`)
          return res.status === 200
        },
        { timeoutMs: 10_000, intervalMs: 50 },
      )
    }

    const flow = await connect(`127.${X}.1.1`, 15080, { ip: `127.${X}.2.1`, port: 8080 })
    flow.on('error', () => undefined)
    flow.write('across processes')
    t.equal((await readExactly(flow, 16)).toString(), 'across processes')
    const closed = new Promise<void>((res) => flow.once('close', () => res()))
    await writeFile(join(configDir, 'deny.yaml'), denyYaml('deny-sleep', 'cluster.local/ns/default/sa/sleep'))
    await closed
    await eventually(() => /connection closed due to policy change/.test(nodes[1]!.child.output()), { timeoutMs: 5_000, intervalMs: 20 })
    t.pass('node-2 logged the flow closed by the policy change')

    for (const c of [...nodes.map((n) => n.child), istiod]) c.proc.kill('SIGTERM')
    await eventually(() => [...nodes.map((n) => n.child), istiod].every((c) => c.proc.exitCode !== null || c.proc.signalCode !== null), {
      timeoutMs: 10_000,
      intervalMs: 50,
    })
    t.equal(istiod.proc.exitCode, 0, 'istiod exits cleanly on SIGTERM')
  },
)
