// Multi-process tier: two real `ambient ztunnel` processes (node-a, node-b) from the built CLI
// (dist/, built by `npm test`; by hand: `npx tsc -p tsconfig.build.json`), a CA made by
// `ambient ca init`, an echo app on node-b's pod-local address, traffic from a node-a pod through
// its SOCKS listener. Each node has its own 127.X.0.k node IP with Istio's default admin ports, and X
// is random per run so parallel runs do not collide. Children are killed in teardown whatever happens.
import t, { type Test } from 'tap'
import { spawn, type ChildProcess } from 'node:child_process'
import { randomInt } from 'node:crypto'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import net from 'node:net'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { eventually } from '../../helpers/eventually.js'
import { needs, requires } from '../../helpers/requires.js'
import { startEchoServer } from '../../helpers/echo-server.js'
import { connect, readExactly } from '../../helpers/socks-client.js'

const CLI = resolve(import.meta.dirname, '../../../dist/cli/main.js')
const X = randomInt(2, 99)
const ip = (k: number, j: number): string => `127.${X}.${k}.${j}`
const NODE_IP = { 'node-a': ip(0, 1), 'node-b': ip(0, 2) } as const
const SLEEP_IP = ip(1, 1)
const ECHO_IP = ip(2, 1)
const ECHO_LOCAL = ip(2, 101)
const DRAIN_MS = 1_000

interface Child {
  readonly proc: ChildProcess
  readonly output: () => string
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>
}

function run(t: Test, args: string[]): Child {
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
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((res) =>
    proc.once('exit', (code, signal) => res({ code, signal })),
  )
  t.teardown(() => {
    if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGKILL')
  })
  return { proc, output: () => out, exited }
}

async function within<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  const limit = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: not within ${ms} ms`)), ms)
  })
  try {
    return await Promise.race([p, limit])
  } finally {
    clearTimeout(timer)
  }
}

function tcpOutcome(host: string, port: number): Promise<string> {
  return new Promise((res) => {
    const s = net.connect({ host, port })
    s.once('connect', () => {
      s.destroy()
      res('connected')
    })
    s.once('error', (err: NodeJS.ErrnoException) => res(err.code ?? 'error'))
  })
}

async function get(url: string): Promise<{ status: number; body: string }> {
  const res = await fetch(url)
  return { status: res.status, body: await res.text() }
}

const config = {
  workloads: [
    { name: 'sleep', namespace: 'default', serviceAccount: 'sleep', node: 'node-a', addresses: [SLEEP_IP], podLocalAddress: ip(1, 101) },
    {
      name: 'echo',
      namespace: 'default',
      serviceAccount: 'echo',
      node: 'node-b',
      addresses: [ECHO_IP],
      podLocalAddress: ECHO_LOCAL,
      services: { 'default/echo.default.svc.cluster.local': { 80: 8080 } },
    },
  ],
  services: [
    { name: 'echo', namespace: 'default', hostname: 'echo.default.svc.cluster.local', addresses: [ip(96, 1)], ports: { 80: 8080 } },
  ],
  policies: [],
}

async function workdir(t: Test): Promise<{ dir: string; configFile: string; caDir: string }> {
  const dir = await mkdtemp(join(tmpdir(), 'ambient-multi-'))
  t.teardown(() => rm(dir, { recursive: true, force: true }))
  const configFile = join(dir, 'ztunnel.yaml')
  await writeFile(configFile, JSON.stringify(config, null, 2)) // JSON is YAML
  const caDir = join(dir, 'ca')
  const init = run(t, ['ca', 'init', '--dir', caDir])
  const { code } = await within(init.exited, 10_000, 'ca init')
  t.equal(code, 0, `ambient ca init: ${init.output()}`)
  return { dir, configFile, caDir }
}

t.test(
  'two ztunnel processes carry a flow over HBONE and drain on SIGTERM',
  { timeout: 30_000, skip: requires(t, needs.file(CLI, 'run npm run build')) },
  async (t) => {
    const { configFile, caDir } = await workdir(t)
    const echo = await startEchoServer(ECHO_LOCAL, { port: 8080 })
    t.teardown(() => echo.close())

    const nodes = (['node-a', 'node-b'] as const).map((node) => ({
      node,
      child: run(t, [
        'ztunnel',
        '--node',
        node,
        '--config',
        configFile,
        '--ca-dir',
        caDir,
        '--node-ip',
        NODE_IP[node],
        '--drain-deadline',
        `${DRAIN_MS}ms`,
      ]),
    }))
    for (const { node, child } of nodes) {
      await eventually(
        async () => {
          if (child.proc.exitCode !== null) throw new Error(`${node} exited early: ${child.output()}`)
          const r = await get(`http://${NODE_IP[node]}:15021/healthz/ready`)
          return r.status === 200 && r.body === 'ready\n'
        },
        { timeoutMs: 10_000, intervalMs: 50 },
      )
    }

    const s = await connect(SLEEP_IP, 15080, { ip: ECHO_IP, port: 8080 })
    s.on('error', () => undefined)
    s.write('across processes')
    t.equal((await readExactly(s, 16)).toString(), 'across processes', 'echoed through node-a → HBONE → node-b')

    const dump = JSON.parse((await get(`http://${NODE_IP['node-b']}:15000/config_dump`)).body) as {
      connections: Array<{ direction: string; dst: { workload?: string }; src: { identity?: string } }>
    }
    t.match(
      dump.connections,
      [{ direction: 'inbound', dst: { workload: 'echo' }, src: { identity: 'spiffe://cluster.local/ns/default/sa/sleep' } }],
      'node-b lists the live inbound connection',
    )
    const metrics = (await get(`http://${NODE_IP['node-a']}:15020/metrics`)).body
    t.match(
      metrics,
      /istio_tcp_connections_opened_total\{[^}]*reporter="source"[^}]*destination_workload="echo"[^}]*\} 1/,
      'node-a counted the outbound connection',
    )

    // SIGTERM with the flow still open: both drain until the deadline, close it, and exit 0.
    const closed = new Promise<void>((res) => s.once('close', () => res()))
    const started = Date.now()
    for (const { child } of nodes) child.proc.kill('SIGTERM')
    for (const { node, child } of nodes) {
      const { code, signal } = await within(child.exited, DRAIN_MS + 4_000, `${node} exit`)
      t.same({ code, signal }, { code: 0, signal: null }, `${node} exited 0`)
      if (code !== 0) t.comment(child.output())
    }
    t.ok(Date.now() - started < DRAIN_MS + 4_000, 'both exited within the drain deadline (plus process teardown)')
    await within(closed, 2_000, 'client close')
    t.match(
      nodes[1]!.child.output(),
      /"error":"connection closed due to connection drain"/,
      'node-b logged the drain error on the live flow',
    )
    for (const [host, port] of [
      [NODE_IP['node-a'], 15000],
      [NODE_IP['node-a'], 15021],
      [NODE_IP['node-b'], 15020],
      [SLEEP_IP, 15080],
      [ECHO_IP, 15008],
      [ECHO_IP, 8080],
    ] as const) {
      t.equal(await tcpOutcome(host, port), 'ECONNREFUSED', `nothing left bound on ${host}:${port}`)
    }
  },
)

t.test('POST /quitquitquit drains and exits 0', { timeout: 20_000, skip: requires(t, needs.file(CLI, 'run npm run build')) }, async (t) => {
  const { configFile, caDir } = await workdir(t)
  const nodeIp = ip(0, 3)
  const child = run(t, ['ztunnel', '--node', 'node-c', '--config', configFile, '--ca-dir', caDir, '--node-ip', nodeIp])
  await eventually(async () => (await get(`http://${nodeIp}:15021/healthz/ready`)).status === 200, { timeoutMs: 10_000, intervalMs: 50 })
  const res = await fetch(`http://${nodeIp}:15000/quitquitquit`, { method: 'POST' })
  t.equal(res.status, 200)
  const { code } = await within(child.exited, 8_000, 'exit after quitquitquit')
  t.equal(code, 0)
  t.match(child.output(), /"signal":"quitquitquit"/)
})

t.test(
  '`ambient ztunnel` with its admin port taken exits non-zero naming the address',
  { timeout: 20_000, skip: requires(t, needs.file(CLI, 'run npm run build')) },
  async (t) => {
    const { configFile, caDir } = await workdir(t)
    const nodeIp = ip(0, 4)
    const squatter = net.createServer()
    await new Promise<void>((res) => squatter.listen({ host: nodeIp, port: 15000 }, () => res()))
    t.teardown(() => new Promise<void>((res) => squatter.close(() => res())))
    const child = run(t, ['ztunnel', '--node', 'node-c', '--config', configFile, '--ca-dir', caDir, '--node-ip', nodeIp])
    const { code } = await within(child.exited, 10_000, 'exit')
    t.not(code, 0)
    t.match(
      child.output(),
      new RegExp(`\\[NET_ADDRESS_IN_USE\\] cannot listen on ${nodeIp.replaceAll('.', '\\.')}:15000: address already in use`),
    )
    t.equal(await tcpOutcome(nodeIp, 15021), 'ECONNREFUSED', 'nothing else left bound')
  },
)

t.test(
  '`ambient ztunnel` with config errors exits 2 listing every error',
  { timeout: 20_000, skip: requires(t, needs.file(CLI, 'run npm run build')) },
  async (t) => {
    const { dir, caDir } = await workdir(t)
    const bad = join(dir, 'bad.yaml')
    await writeFile(
      bad,
      'workloads:\n  - {name: a, namespace: default, addresses: ["nope"]}\n  - {name: b, namespace: default, addresses: ["127.0.0.9"], capacity: -1}\n',
    )
    const child = run(t, ['ztunnel', '--node', 'node-c', '--config', bad, '--ca-dir', caDir, '--node-ip', ip(0, 5)])
    const { code } = await within(child.exited, 10_000, 'exit')
    t.equal(code, 2)
    t.match(child.output(), /\[ZTUNNEL_CONFIG_INVALID\] .*bad\.yaml has 2 error\(s\):/)
    t.match(child.output(), /bad\.yaml:2 workloads\[0\]\.addresses\[0\]: \[MESH_/)
    t.match(child.output(), /bad\.yaml:3 workloads\[1\]\.capacity: \[MESH_/)
  },
)
