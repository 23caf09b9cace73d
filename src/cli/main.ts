#!/usr/bin/env node
// The `ambient` command: dispatches subcommands. The only place that reads process.argv/env and
// calls process.exit. Each subcommand lives in ./commands and is loaded on demand so that a quick
// command (`ambient ca init`) never pays for loading the proxies.
import 'reflect-metadata'
import type { CliIo, Command } from './io.js'
import { EXIT_FAILURE, EXIT_NO_CLUSTER, EXIT_USAGE } from './io.js'
import { HelpRequested } from './args.js'
import { errorCode, errorMessage, isAmbientError } from '../errors.js'

const COMMANDS: Record<string, { summary: string; load: () => Promise<Command> }> = {
  app: { summary: 'internal: one pod\'s containers as sample apps (started by `cluster up`)', load: async () => (await import('./commands/app.js')).appCommand },
  ca: { summary: 'mesh CA: `ca init --dir D [--trust-domain T]`', load: async () => (await import('./commands/ca.js')).caCommand },
  cluster: { summary: 'a local cluster from Kubernetes YAML: `cluster up --config DIR [--nodes 2]`, `cluster down`, `cluster status`', load: async () => (await import('./commands/cluster.js')).clusterCommand },
  exec: { summary: 'run a command inside a pod (its env and capture): `exec POD -- curl -s http://reviews:9080/reviews/0`', load: async () => (await import('./commands/exec.js')).execCommand },
  demo: { summary: 'a local ambient mesh with traffic and a policy tour: `demo [--duration 30s]`', load: async () => (await import('./commands/demo.js')).demoCommand },
  istiod: { summary: 'config, Delta xDS and CA: `istiod --config DIR [--state-dir D] [--nodes 2]`', load: async () => (await import('./commands/istiod.js')).istiodCommand },
  sidecar: { summary: 'sidecar-mode proxy of one pod, from istiod: `sidecar --pod NS/NAME --xds 127.0.0.1:15012 --node N --istiod-state-dir D`', load: async () => (await import('./commands/sidecar.js')).sidecarCommand },
  waypoint: { summary: 'the L7 proxy of a waypoint Gateway: `waypoint --name W --namespace NS --config FILE --ca-dir D [--host IP]`', load: async () => (await import('./commands/waypoint.js')).waypointCommand },
  ztunnel: { summary: 'the node L4 proxy: `ztunnel --node N --config FILE --ca-dir D`', load: async () => (await import('./commands/ztunnel.js')).ztunnelCommand },
  cert: { summary: 'workload certificates: `cert issue --ca-dir D --spiffe ID --out DIR [--ttl 1h]`', load: async () => (await import('./commands/cert.js')).certCommand },
  analyze: { summary: 'istioctl-analyze-style config checks: `analyze DIR|FILE... [-o text|json]` (exit 1 on errors)', load: async () => (await import('./commands/analyze.js')).analyzeCommand },
  compare: { summary: 'what ambient saves, side by side: `compare [--scenario simple|bookinfo] [--rates 1000] [--duration 10s] [--quick] [--modes …]`', load: async () => (await import('./commands/compare.js')).compareCommand },
  authz: { summary: 'explain L4 authorization: `authz check --config FILE [--src-identity ID] [--src-ip IP] --dst IP:PORT [--json]`', load: async () => (await import('./commands/authz.js')).authzCommand },
  zc: { summary: 'ztunnel config views (istioctl zc): `zc workloads|services|policies|certificates|connections [--node N] [--pod P] [-o table|json|yaml]`, `zc pod POD`', load: async () => (await import('./commands/zc.js')).zcCommand },
  explain: { summary: 'the hop-by-hop path of a connection, policies and traps: `explain --from POD --to SERVICE[:PORT] [--method M --path P] [--live]`', load: async () => (await import('./commands/explain.js')).explainCommand },
  ui: { summary: 'the dashboard (service graph, flows, policies, certificates): `ui [--state-dir .ambient] [--port 20001]`', load: async () => (await import('./commands/ui.js')).uiCommand },
}

/** How often a supervised component checks that the runner that started it is still there. */
const ORPHAN_CHECK_MS = 1_000

function usage(): string {
  const lines = Object.entries(COMMANDS).map(([name, c]) => `  ${name.padEnd(10)} ${c.summary}`)
  return `usage: ambient <command> [options]\n\ncommands:\n${lines.join('\n')}\n`
}

async function main(argv: readonly string[]): Promise<number> {
  const [name, ...rest] = argv
  if (name === undefined || name === '-h' || name === '--help' || name === 'help') {
    process.stdout.write(usage())
    return name === undefined ? EXIT_USAGE : 0
  }
  const entry = COMMANDS[name]
  if (!entry) {
    process.stderr.write(`ambient: unknown command "${name}"\n\n${usage()}`)
    return EXIT_USAGE
  }
  const stopSignal = new Promise<string>((resolve) => {
    for (const sig of ['SIGINT', 'SIGTERM'] as const) process.once(sig, () => resolve(sig))
    // A component the cluster runner started (istiod, ztunnel, waypoint, sidecar, pod) stops by
    // itself when the runner is gone (killed, or a second Ctrl-C), rather than running on and
    // holding its addresses: the runner sets AMBIENT_SUPERVISED.
    if (process.env.AMBIENT_SUPERVISED === '1') {
      const parent = process.ppid
      setInterval(() => { if (process.ppid !== parent) resolve('orphaned') }, ORPHAN_CHECK_MS).unref()
    }
  })
  const io: CliIo = {
    stdout: (t) => void process.stdout.write(t),
    stderr: (t) => void process.stderr.write(t),
    env: process.env,
    cwd: process.cwd(),
    stopSignal,
  }
  const command = await entry.load()
  return command(rest, io)
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code
  },
  (err: unknown) => {
    if (err instanceof HelpRequested) {
      process.stdout.write(err.text)
      process.exitCode = 0
      return
    }
    const code = errorCode(err)
    process.stderr.write(`ambient: ${isAmbientError(err) ? `[${code}] ` : ''}${errorMessage(err)}\n`)
    process.exit(code === 'CLUSTER_NOT_RUNNING' ? EXIT_NO_CLUSTER : isAmbientError(err) && (err.side === 'config') ? EXIT_USAGE : EXIT_FAILURE)
  },
)
