// The command table and the dispatch of `ambient <command> [args]`: help, the command's run, and
// the mapping of its outcome to an exit code. main.ts wires it to the process; tests call
// runCommand in-process with a recording CliIo. Each subcommand lives in ./commands and is loaded
// on demand so that a quick command (`ambient ca init`) never pays for loading the proxies.
import type { CliIo, Command } from './io.js'
import { EXIT_FAILURE, EXIT_NO_CLUSTER, EXIT_OK, EXIT_USAGE } from './io.js'
import { HelpRequested } from './args.js'
import { errorCode, errorMessage, isAmbientError } from '../errors.js'

/** Each command's one-line summary, in the order `ambient --help` lists them. */
const SUMMARIES: Record<string, string> = {
  app: "internal: one pod's containers as sample apps (started by `cluster up`)",
  ca: 'mesh CA: `ca init --dir D [--trust-domain T]`',
  cluster:
    'a local cluster from Kubernetes YAML: `cluster up --config DIR [--nodes 2]`, `cluster down`, `cluster status [-o text|json|yaml]`',
  exec: 'run a command inside a pod (its env and capture): `exec POD -- curl -s http://reviews:9080/reviews/0`',
  demo: 'a local ambient mesh with traffic and a policy tour: `demo [--duration 30s] [--rate 5]` (from ./.ambient, like `cluster up`)',
  istiod: 'config, Delta xDS and CA: `istiod --config DIR [--state-dir D] [--nodes 2]`',
  sidecar: 'sidecar-mode proxy of one pod, from istiod: `sidecar --pod NS/NAME --xds 127.0.0.1:15012 --node N --istiod-state-dir D`',
  waypoint: 'the L7 proxy of a waypoint Gateway: `waypoint --name W --namespace NS --config FILE --ca-dir D [--host IP]`',
  ztunnel: 'the node L4 proxy: `ztunnel --node N --config FILE --ca-dir D`',
  cert: 'workload certificates: `cert issue --ca-dir D --spiffe ID --out DIR [--ttl 1h]`',
  analyze: 'istioctl-analyze-style config checks: `analyze DIR|FILE... [-o text|json|yaml]` (exit 1 on errors)',
  compare: 'what ambient saves, side by side: `compare [--scenario simple|bookinfo] [--rates 1000] [--duration 10s] [--quick] [--modes …]`',
  authz: 'explain L4 authorization: `authz check --config FILE|DIR [--src-identity ID] [--src-ip IP] --dst IP:PORT [-o text|json|yaml]`',
  zc: 'ztunnel config views (istioctl zc): `zc workloads|services|policies|certificates|connections [--node N] [--pod P] [-o table|json|yaml]`, `zc pod POD`',
  explain:
    'the hop-by-hop path of a connection, policies and traps: `explain --from POD --to SERVICE[:PORT] [--method M --path P] [--live] [-o text|json|yaml]`',
  ui: 'the dashboard (service graph, flows, policies, certificates): `ui [--state-dir .ambient] [--port 20001]`',
}

/** A command's code: `./commands/<name>.js`, export `<name>Command`, loaded when the command runs. */
async function loadCommand(name: string): Promise<Command> {
  const module = (await import(`./commands/${name}.js`)) as Readonly<Record<string, Command | undefined>>
  const command = module[`${name}Command`]
  if (command === undefined) throw new Error(`./commands/${name}.js exports no ${name}Command`)
  return command
}

export const COMMANDS: Record<string, { summary: string; load: () => Promise<Command> }> = Object.fromEntries(
  Object.entries(SUMMARIES).map(([name, summary]) => [name, { summary, load: () => loadCommand(name) }]),
)

export function usage(): string {
  const lines = Object.entries(COMMANDS).map(([name, c]) => `  ${name.padEnd(10)} ${c.summary}`)
  return (
    `usage: ambient <command> [options]\n\ncommands:\n${lines.join('\n')}\n\n` +
    `exit codes: 0 ok, 1 the command found a problem (e.g. a denial), 2 bad usage or input, 3 no cluster ` +
    `is running\n`
  )
}

/** The outcome of one command: its exit code, and whether it ended in an error (main.ts then exits at once). */
export interface CommandOutcome {
  readonly code: number
  readonly failed: boolean
}

/** Runs `ambient <argv>`: help on -h/--help (exit 0), a coded error on stderr with its exit code. */
export async function runCommand(argv: readonly string[], io: CliIo): Promise<CommandOutcome> {
  const [name, ...rest] = argv
  if (name === undefined || name === '-h' || name === '--help' || name === 'help') {
    io.stdout(usage())
    return { code: name === undefined ? EXIT_USAGE : EXIT_OK, failed: false }
  }
  const entry = COMMANDS[name]
  if (!entry) {
    io.stderr(`ambient: unknown command "${name}"\n\n${usage()}`)
    return { code: EXIT_USAGE, failed: false }
  }
  try {
    const command = await entry.load()
    return { code: await command(rest, io), failed: false }
  } catch (err) {
    if (err instanceof HelpRequested) {
      io.stdout(err.text)
      return { code: EXIT_OK, failed: false }
    }
    const code = errorCode(err)
    io.stderr(`ambient: ${isAmbientError(err) ? `[${code}] ` : ''}${errorMessage(err)}\n`)
    return {
      code: code === 'CLUSTER_NOT_RUNNING' ? EXIT_NO_CLUSTER : isAmbientError(err) && err.side === 'config' ? EXIT_USAGE : EXIT_FAILURE,
      failed: true,
    }
  }
}
